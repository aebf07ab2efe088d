import type { RunSummary } from '../../activities/tools';
import type { PromptBundle } from '../../prompts/schema';
import type { RunState } from './carriedState';
import { emptyLlmStats } from '../batch/outcome';
import { describeDisagreement, shadowPaths } from '../batch/shadowCompare';
import type { ParsedReassignmentInput, ReassignmentResult, RunMode, RunStatus, ShadowSummary } from '../contract/types';

/** Everything the result is built from: the run's input, its final state and the prompts it pinned. */
export interface ResultSources {
  mode: RunMode;
  workflowId: string;
  input: ParsedReassignmentInput;
  status: RunStatus;
  state: Pick<RunState, 'totalAffected' | 'batchesDone' | 'runs' | 'done'>;
  bundle: PromptBundle;
}

/** The pinned prompt versions (and A/B arm) as the memo and the result show them. */
export function pinnedPrompts(bundle: PromptBundle): ReassignmentResult['prompt'] {
  return {
    orchestrator: bundle.orchestrator,
    scoring: bundle.scoring,
    ...(bundle.experiment ? { experiment: bundle.experiment } : {}),
  };
}

const byAppointment = (a: { appointment_id: string }, b: { appointment_id: string }) =>
  a.appointment_id.localeCompare(b.appointment_id);

/** The run's result, as a person reads it (field names as in the seed). Pure: no Temporal, no clock. */
export function buildResult(s: ResultSources): ReassignmentResult {
  const { input, bundle } = s;
  const { done } = s.state;
  const decided = [...done.assignments, ...done.waitlisted];
  return {
    status: s.status,
    mode: s.mode,
    workflow_id: s.workflowId,
    provider_id: input.providerId,
    date: input.date,
    ...(input.until !== undefined ? { until: input.until } : {}),
    reason: input.reason,
    total_affected: s.state.totalAffected,
    successful_assignments: done.assignments.length,
    waitlist_entries: done.waitlisted.length,
    assignments: [...done.assignments].sort(byAppointment),
    waitlisted: [...done.waitlisted].sort(byAppointment),
    undecided: [...done.undecided].sort(byAppointment),
    decided_by: {
      prompt: decided.filter((d) => d.decided_by === 'prompt').length,
      code: decided.filter((d) => d.decided_by === 'code').length,
    },
    fallbacks: [...done.fallbacks].sort((a, b) => a.batch - b.batch),
    decided_elsewhere: [...done.decided_elsewhere].sort(byAppointment),
    approvals: done.approvals,
    prompt: pinnedPrompts(bundle),
    llm: {
      ...done.llm,
      model: s.mode === 'code' ? 'none (code-driven)' : (done.llm.model ?? bundle.config.model.name),
      offline: done.llm.offline ?? false,
      calls_per_appointment: decided.length > 0 ? Math.round((done.llm.calls / decided.length) * 100) / 100 : 0,
    },
    tool_calls: done.tool_calls,
    refused_calls: done.refused_calls ?? 0,
    batches: s.state.batchesDone,
    runs: s.state.runs,
    discrepancies: done.discrepancies,
    ...(bundle.rollout ? { rollout: bundle.rollout } : {}),
    ...(s.mode === 'shadow' ? { shadow: shadowSummary(s) } : {}),
    message: resultMessage(s),
  };
}

/** One line: how many were affected and what became of them, the status, and the pinned prompt. */
function resultMessage(s: ResultSources): string {
  const { input } = s;
  const { done, totalAffected } = s.state;
  const prompt = `prompt ${s.bundle.orchestrator.name} v${s.bundle.orchestrator.version} (${s.bundle.orchestrator.label})`;
  if (totalAffected === 0)
    return `no appointment of ${input.providerId} on ${input.date} is left to reassign: nothing to do · ${prompt}`;
  const parts = [
    `${totalAffected} affected: ${done.assignments.length} reassigned, ${done.waitlisted.length} waitlisted`,
  ];
  if (done.undecided.length > 0) parts.push(`, ${done.undecided.length} undecided`);
  if (done.decided_elsewhere.length > 0) parts.push(`, ${done.decided_elsewhere.length} decided by another run`);
  if (done.fallbacks.length > 0)
    parts.push(` (${done.fallbacks.reduce((n, f) => n + f.appointments.length, 0)} by the code-driven fallback)`);
  return `${parts.join('')} · ${s.status} · ${prompt}`;
}

/**
 * What the run's last activity records (in the store, for the audit, and in its trace): the result without its
 * long lists, but with the ids this run did not move. An appointment left to another run is listed there too:
 * either way it was not this run's to have moved.
 */
export function runSummary(result: ReassignmentResult): RunSummary {
  const { assignments: _a, waitlisted: _w, undecided, discrepancies, ...summary } = result;
  return {
    ...summary,
    undecided: undecided.length,
    undecided_appointments: leftUndecided(result),
    discrepancies: discrepancies.length,
  };
}

/**
 * What a run leaves for a new run, with why: what it did not decide, and what it left to another run (which may
 * not have decided it either). The store records these with the run's outcome; the audit reads them.
 */
export function leftUndecided(done: Pick<ReassignmentResult, 'undecided' | 'decided_elsewhere'>) {
  return [
    ...done.undecided,
    ...done.decided_elsewhere.map((e) => ({ appointment_id: e.appointment_id, reason: e.detail })),
  ];
}

/** A shadow run's verdict for the whole run: every appointment compared, and each disagreement in one line. */
function shadowSummary(s: ResultSources): ShadowSummary {
  const { writer, shadow } = shadowPaths(s.input.shadowWriter);
  const entries = [...(s.state.done.shadow ?? [])].sort(byAppointment);
  const agreed = entries.filter((e) => e.agree).length;
  return {
    writer,
    shadow,
    appointments: entries.length,
    agreed,
    agreement: entries.length === 0 ? 1 : Math.round((agreed / entries.length) * 10_000) / 10_000,
    entries,
    discrepancies: entries.filter((e) => !e.agree).map((e) => describeDisagreement(e, writer, shadow)),
    llm: s.state.done.shadow_llm ?? emptyLlmStats(),
  };
}
