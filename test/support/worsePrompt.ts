import type { PromptDoc } from './harness';

/** v3, label "worse": the production text, but its thresholds stricter than the config the guards use. */
export const withWorsePrompt = (files: { orchestrator: PromptDoc; scoring: PromptDoc }) => {
  const v1 = files.orchestrator.versions.find((v) => v.version === 1)!;
  const worse = v1.prompt
    .replace('Score >= {{thresholds.excellent}}: excellent', 'Score >= 175: excellent')
    .replace(
      'Score >= {{thresholds.good}} and below {{thresholds.excellent}}: good',
      'Score >= 160 and below 175: good',
    );
  if (worse === v1.prompt) throw new Error('the production prompt changed: the worse version no longer differs');
  files.orchestrator.versions.push({
    ...structuredClone(v1),
    version: 3,
    labels: ['worse'],
    prompt: worse,
  } as PromptDoc['versions'][number]);
  for (const v of files.scoring.versions) if (v.labels.includes('production')) v.labels.push('worse');
};
