import type { LangfuseClient } from '@langfuse/client';
import { createTraceId } from '@langfuse/tracing';
import type { EvalReport } from '../eval/runner';
import { describeLangfuseError, langfuseStatus } from './client';

/**
 * An eval in Langfuse: the scenarios are the items of one dataset (their oracle decisions the expected output),
 * and each eval is a dataset run whose items link to the traces of the prompt-driven runs, scored by their
 * agreement with the oracle, so versions can be compared side by side in Langfuse's UI. The run's metadata
 * carries the prompt versions and hashes and the total agreement (what the promotion gate can read back).
 */

const EVAL_DATASET = 'reassignment-eval';

export async function recordEvalInLangfuse(langfuse: LangfuseClient, report: EvalReport): Promise<{ runName: string }> {
  try {
    await ensureDataset(langfuse);
    const o = report.prompt.orchestrator;
    const runName = `${report.label} · ${o.name} v${o.version} (${o.hash}) · ${report.model} · ${report.at}`;
    const metadata = {
      label: report.label,
      model: report.model,
      orchestrator: `${o.name}@${o.version}`,
      orchestrator_hash: o.hash,
      scoring: `${report.prompt.scoring.name}@${report.prompt.scoring.version}`,
      scoring_hash: report.prompt.scoring.hash,
      agreement: report.total.agreement,
      appointments: report.total.appointments,
      at: report.at,
    };
    for (const s of report.scenarios) {
      const item = await langfuse.api.datasetItems.create({
        datasetName: EVAL_DATASET,
        id: `scenario-${s.name}`,
        input: { scenario: s.name, description: s.description },
        expectedOutput: { decisions: s.decisions.oracle },
        metadata: { appointments: s.appointments },
      });
      const traceId = await createTraceId(s.workflow_ids.candidate[0] ?? `${runName}:${s.name}`);
      await langfuse.api.datasetRunItems.create({
        runName,
        runDescription: `eval of label ${report.label}: ${Math.round(report.total.agreement * 1000) / 10}% agreement with the code-driven oracle`,
        metadata,
        datasetItemId: item.id,
        traceId,
      });
      const comment = s.disagreements
        .map((d) => `${d.appointment_id}: oracle ${d.oracle}, model ${d.candidate}`)
        .join('; ');
      await langfuse.api.scores.create({
        traceId,
        name: 'agreement',
        value: s.agreement,
        dataType: 'NUMERIC',
        ...(comment ? { comment } : {}),
      });
      await langfuse.api.scores.create({ traceId, name: 'fallbacks', value: s.fallbacks, dataType: 'NUMERIC' });
    }
    return { runName };
  } catch (err) {
    throw new Error(`recording the eval in Langfuse: ${describeLangfuseError(err)}`, { cause: err });
  }
}

async function ensureDataset(langfuse: LangfuseClient): Promise<void> {
  try {
    await langfuse.api.datasets.get(EVAL_DATASET);
  } catch (err) {
    if (langfuseStatus(err) !== 404) throw err;
    await langfuse.api.datasets.create({
      name: EVAL_DATASET,
      description: 'Reassignment scenarios; each run is an eval of a prompt label against the code-driven oracle',
    });
  }
}

/** The newest eval run in Langfuse of a prompt version's content (by hash), when no local report has it. */
export async function lastEvalInLangfuse(
  langfuse: LangfuseClient,
  name: string,
  hash: string,
): Promise<{ agreement: number; at: string; runName: string } | undefined> {
  let runs;
  try {
    runs = await langfuse.api.datasets.getRuns(EVAL_DATASET, { limit: 100 });
  } catch (err) {
    if (langfuseStatus(err) === 404) return undefined;
    throw err;
  }
  const matching = runs.data
    .map((r) => ({ r, m: (r.metadata ?? {}) as Record<string, unknown> }))
    .filter(
      ({ m }) =>
        (String(m.orchestrator ?? '').startsWith(`${name}@`) && m.orchestrator_hash === hash) ||
        (String(m.scoring ?? '').startsWith(`${name}@`) && m.scoring_hash === hash),
    )
    .sort((a, b) => b.r.createdAt.localeCompare(a.r.createdAt));
  const best = matching[0];
  if (!best || typeof best.m.agreement !== 'number') return undefined;
  return { agreement: best.m.agreement, at: String(best.m.at ?? best.r.createdAt), runName: best.r.name };
}
