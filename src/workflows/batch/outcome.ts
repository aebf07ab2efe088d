import type { BatchOutcome, DecidedElsewhereEntry, FallbackEntry, LlmStats } from '../contract/types';

/** Outcomes of batches, and their sum for a whole run. */

/** A batch outcome with every list present (outcomes recorded by earlier versions lack some). */
export type CompleteOutcome = BatchOutcome & { fallbacks: FallbackEntry[]; decided_elsewhere: DecidedElsewhereEntry[] };

/** LLM figures before any call. */
export function emptyLlmStats(): LlmStats {
  return {
    calls: 0,
    prompt_tokens: 0,
    completion_tokens: 0,
    invalid_tool_calls: 0,
    attempts: 0,
    failed_attempts: 0,
    time_ms: 0,
  };
}

export function emptyOutcome(batch: number): CompleteOutcome {
  return {
    batch,
    status: 'completed',
    assignments: [],
    waitlisted: [],
    undecided: [],
    approvals: { requested: 0, approved: 0, rejected: 0, timed_out: 0 },
    llm: emptyLlmStats(),
    tool_calls: 0,
    refused_calls: 0,
    discrepancies: [],
    fallbacks: [],
    decided_elsewhere: [],
  };
}

/** Fills in the lists an outcome from an earlier version may lack: done here once, so the rest sees whole types. */
export function completeOutcome(outcome: BatchOutcome): CompleteOutcome {
  return { ...outcome, fallbacks: outcome.fallbacks ?? [], decided_elsewhere: outcome.decided_elsewhere ?? [] };
}

/** Adds a finished batch (recorded by any version) to the run's total. */
export function mergeOutcome(into: CompleteOutcome, batch: BatchOutcome): void {
  const b = completeOutcome(batch);
  into.assignments.push(...b.assignments);
  into.waitlisted.push(...b.waitlisted);
  into.undecided.push(...b.undecided);
  into.discrepancies.push(...b.discrepancies);
  into.fallbacks.push(...b.fallbacks);
  into.decided_elsewhere.push(...b.decided_elsewhere);
  for (const k of ['requested', 'approved', 'rejected', 'timed_out'] as const) into.approvals[k] += b.approvals[k];
  addLlmStats(into.llm, b.llm);
  if (b.shadow) (into.shadow ??= []).push(...b.shadow);
  if (b.shadow_llm) addLlmStats((into.shadow_llm ??= emptyLlmStats()), b.shadow_llm);
  into.tool_calls += b.tool_calls;
  into.refused_calls = (into.refused_calls ?? 0) + (b.refused_calls ?? 0);
  if (b.llm.model !== undefined) {
    into.llm.model = b.llm.model;
    into.llm.offline = b.llm.offline;
  }
  // A stopped batch stops the run; a spent budget names it over a stuck model (the budget is what one raises).
  if (b.status === 'budget_exhausted') into.status = 'budget_exhausted';
  if (b.status === 'model_stuck' && into.status !== 'budget_exhausted') into.status = 'model_stuck';
  if (b.status === 'cancelled' && into.status === 'completed') into.status = 'cancelled';
}

/** Adds one set of LLM figures to another (figures an earlier version did not record count as 0). */
export function addLlmStats(into: LlmStats, b: LlmStats): void {
  for (const k of ['calls', 'prompt_tokens', 'completion_tokens', 'invalid_tool_calls'] as const) into[k] += b[k];
  for (const k of ['attempts', 'failed_attempts', 'time_ms'] as const) into[k] = (into[k] ?? 0) + (b[k] ?? 0);
  // Figures of later versions: absent until one batch has them.
  for (const k of ['cached_tokens', 'schema_turns', 'recovered_tool_calls', 'mode_switches'] as const)
    if (b[k] !== undefined) into[k] = (into[k] ?? 0) + b[k];
}
