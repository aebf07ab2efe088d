import type { PromptDoc } from './harness';

/** A new version, label "worse": the production text and config, but its thresholds stricter than the config's. */
export const withWorsePrompt = (files: { orchestrator: PromptDoc; scoring: PromptDoc }) => {
  const production = files.orchestrator.versions.find((v) => v.labels.includes('production'))!;
  const worse = production.prompt
    .replace('Score >= {{thresholds.excellent}}: excellent', 'Score >= 175: excellent')
    .replace(
      'Score >= {{thresholds.good}} and below {{thresholds.excellent}}: good',
      'Score >= 160 and below 175: good',
    );
  if (worse === production.prompt)
    throw new Error('the production prompt changed: the worse version no longer differs');
  files.orchestrator.versions.push({
    ...structuredClone(production),
    version: Math.max(...files.orchestrator.versions.map((v) => v.version)) + 1,
    labels: ['worse'],
    prompt: worse,
  } as PromptDoc['versions'][number]);
  for (const v of files.scoring.versions) if (v.labels.includes('production')) v.labels.push('worse');
};
