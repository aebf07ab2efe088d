import type { LangfuseClient } from '@langfuse/client';
import { lastEvalInLangfuse } from '../langfuse/evalDataset';
import { lastEvalOf } from './records';

/**
 * The promotion gate: a prompt version may take a label only when its last eval (found by the hash of its text
 * and config, on disk or in Langfuse) agreed with the code-driven oracle at least as often as the bar.
 */

export type GateVerdict =
  { pass: true; detail: string } | { pass: false; detail: string; reason: 'no_eval' | 'below_bar' };

export async function promotionGate(options: {
  name: string;
  version: number;
  hash: string;
  evalDir: string;
  minAgreement: number;
  langfuse?: LangfuseClient;
  /** The model the version must have passed with (the newest eval with it decides); any model when absent. */
  model?: string;
}): Promise<GateVerdict> {
  const { name, version, hash, minAgreement, model } = options;
  const local = lastEvalOf(options.evalDir, name, hash, model);
  const found = local
    ? {
        agreement: local.report.total.agreement,
        at: local.report.at,
        where: local.file,
        appointments: local.report.total.appointments,
      }
    : options.langfuse && model === undefined
      ? await lastEvalInLangfuse(options.langfuse, name, hash).then(
          (r) => r && { ...r, where: `Langfuse run "${r.runName}"`, appointments: undefined },
        )
      : undefined;
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  if (!found)
    return {
      pass: false,
      reason: 'no_eval',
      detail: `no eval of ${name} v${version} (${hash})${model ? ` with model ${model}` : ''}: run \`npm run cli -- eval --label <a label on it>\` first, or promote with --force`,
    };
  const of = found.appointments !== undefined ? ` of ${found.appointments} appointments` : '';
  if (found.agreement < minAgreement)
    return {
      pass: false,
      reason: 'below_bar',
      detail: `the last eval of ${name} v${version}${model ? ` with model ${model}` : ''} (${found.at}) agreed with the oracle on ${pct(found.agreement)}${of}, below the bar of ${pct(minAgreement)} (EVAL_MIN_AGREEMENT): not promoted; --force overrides`,
    };
  return {
    pass: true,
    detail: `its last eval (${found.at}) agreed with the oracle on ${pct(found.agreement)}${of} (bar ${pct(minAgreement)})`,
  };
}
