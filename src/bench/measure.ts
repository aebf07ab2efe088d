import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Mode, ReassignmentInput, ReassignmentResult } from '../workflows/contract/types';
import { batchWorkflowId } from '../workflowIds';

/**
 * What one benchmark run measures: a reassignment of N appointments started and awaited through the client,
 * then every history it left (the parent's runs across continue-as-new, and each batch) fetched back and
 * measured in events and encoded bytes. Used by `npm run bench` and by the CI guard (test/benchGuard.test.ts).
 */

/** The design's targets (issues 5 and 17). Counts are checked in CI; timings are only reported. */
export const TARGETS = {
  llmCallsPerAppointment: 2,
  /** Model turns per batch (decide, summary): the prompt config's prefetch and notify make it 2. */
  turnsPerBatch: 2,
  /** At N ≥ 100, on the production prompt. */
  inputTokensPerAppointment: 600,
  /** 10,000 appointments, offline, on the bench machine (reported, not checked in CI). */
  wall10kMs: 120_000,
  /** With 1 s per LLM call: wall ≤ 1.3 × (waves of batches × turns per batch × latency). */
  latencyOverMinimum: 1.3,
  promptOverCodeTime: 2,
  scaling10kOver100: 1.5,
  historyEvents: 10_000,
  historyBytes: 4 * 1024 * 1024,
  workerPeakBytes: 1024 * 1024 * 1024,
} as const;

interface HistoryStats {
  workflow_id: string;
  run_id?: string;
  events: number;
  bytes: number;
  activities: number;
}

export interface Measurement {
  mode: Mode;
  n: number;
  wall_ms: number;
  appointments_per_s: number;
  ms_per_appointment: number;
  decided: number;
  status: string;
  llm_calls: number;
  input_tokens: number;
  /** Of the input tokens, those the endpoint served from its prompt cache. */
  cached_tokens: number;
  output_tokens: number;
  /** LLM calls per batch (prompt-driven). */
  turns_per_batch: number;
  tool_calls: number;
  activities: number;
  activities_per_s: number;
  batches: number;
  parent_runs: number;
  history_events: number;
  history_bytes: number;
  /** The longest history (events) and the heaviest (bytes): not always the same one. */
  largest_history: { workflow_id: string; events: number; bytes: number; bytes_workflow_id: string };
  per_appointment: {
    llm_calls: number;
    input_tokens: number;
    cached_tokens: number;
    output_tokens: number;
    tool_calls: number;
    history_events: number;
    history_bytes: number;
  };
  worker_peak_rss_bytes?: number;
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/** One history's size: its events, its bytes as the server stores them (protobuf), and its activities. */
export async function historyStats(client: Client, workflowId: string, runId?: string): Promise<HistoryStats> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const events = history.events ?? [];
  return {
    workflow_id: workflowId,
    run_id: runId,
    events: events.length,
    bytes: temporal.api.history.v1.History.encode(history).finish().byteLength,
    activities: events.filter((e) => e.activityTaskScheduledEventAttributes).length,
  };
}

/** Every history of a finished run: the parent's runs (continue-as-new) and its batches. */
async function runHistories(
  client: Client,
  workflowId: string,
  result: Pick<ReassignmentResult, 'runs' | 'batches'>,
): Promise<HistoryStats[]> {
  const runIds: string[] = [];
  // Visibility is eventually consistent: wait until every parent run is listed.
  for (let attempt = 0; attempt < 50; attempt++) {
    runIds.length = 0;
    for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
      runIds.push(execution.runId);
    if (runIds.length >= result.runs) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const stats: HistoryStats[] = [];
  for (const runId of runIds) stats.push(await historyStats(client, workflowId, runId));
  const ids = Array.from({ length: result.batches }, (_, i) => batchWorkflowId(workflowId, i + 1));
  // A few at a time: the dev server is on the same small machine.
  for (let i = 0; i < ids.length; i += 16)
    stats.push(...(await Promise.all(ids.slice(i, i + 16).map((id) => historyStats(client, id)))));
  return stats;
}

interface RunOptions {
  client: Client;
  taskQueue: string;
  mode: Mode;
  n: number;
  input: ReassignmentInput;
  workflowId: string;
}

/** Starts one reassignment, waits for it, and measures it. Wall time runs from start to result. */
export async function measureReassignment(o: RunOptions): Promise<Measurement> {
  const type = o.mode === 'prompt' ? 'promptDrivenReassignment' : 'codeDrivenReassignment';
  const started = performance.now();
  const handle = await o.client.workflow.start(type, {
    taskQueue: o.taskQueue,
    workflowId: o.workflowId,
    args: [o.input],
  });
  const result = (await handle.result()) as ReassignmentResult;
  const wall = performance.now() - started;
  const histories = await runHistories(o.client, o.workflowId, result);
  const largest = histories.reduce((a, b) => (b.events > a.events ? b : a));
  const heaviest = histories.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const events = histories.reduce((s, h) => s + h.events, 0);
  const bytes = histories.reduce((s, h) => s + h.bytes, 0);
  const activities = histories.reduce((s, h) => s + h.activities, 0);
  const n = o.n;
  return {
    mode: o.mode,
    n,
    wall_ms: round(wall, 0),
    appointments_per_s: round(n / (wall / 1000), 1),
    ms_per_appointment: round(wall / n, 2),
    decided: result.successful_assignments + result.waitlist_entries,
    status: result.status,
    llm_calls: result.llm.calls,
    input_tokens: result.llm.prompt_tokens,
    cached_tokens: result.llm.cached_tokens ?? 0,
    output_tokens: result.llm.completion_tokens,
    turns_per_batch: result.batches > 0 ? round(result.llm.calls / result.batches) : 0,
    tool_calls: result.tool_calls,
    activities,
    activities_per_s: round(activities / (wall / 1000), 1),
    batches: result.batches,
    parent_runs: result.runs,
    history_events: events,
    history_bytes: bytes,
    largest_history: {
      workflow_id: largest.workflow_id,
      events: largest.events,
      bytes: heaviest.bytes,
      bytes_workflow_id: heaviest.workflow_id,
    },
    per_appointment: {
      llm_calls: round(result.llm.calls / n),
      input_tokens: round(result.llm.prompt_tokens / n, 0),
      cached_tokens: round((result.llm.cached_tokens ?? 0) / n, 0),
      output_tokens: round(result.llm.completion_tokens / n, 0),
      tool_calls: round(result.tool_calls / n),
      history_events: round(events / n, 1),
      history_bytes: round(bytes / n, 0),
    },
  };
}

/** The machine-independent targets a measurement breaks: an empty list when all hold. */
export function countViolations(m: Measurement): string[] {
  const out: string[] = [];
  const at = `${m.mode}-driven, N=${m.n}`;
  if (m.decided !== m.n) out.push(`${at}: ${m.decided} of ${m.n} appointments decided (${m.status})`);
  if (m.mode === 'prompt' && m.per_appointment.llm_calls > TARGETS.llmCallsPerAppointment)
    out.push(
      `${at}: ${m.per_appointment.llm_calls} LLM calls per appointment (target ≤ ${TARGETS.llmCallsPerAppointment})`,
    );
  if (m.mode === 'prompt' && m.turns_per_batch > TARGETS.turnsPerBatch)
    out.push(`${at}: ${m.turns_per_batch} model turns per batch (target ≤ ${TARGETS.turnsPerBatch})`);
  if (m.mode === 'prompt' && m.n >= 100 && m.per_appointment.input_tokens > TARGETS.inputTokensPerAppointment)
    out.push(
      `${at}: ${m.per_appointment.input_tokens} input tokens per appointment (target ≤ ${TARGETS.inputTokensPerAppointment})`,
    );
  if (m.largest_history.events > TARGETS.historyEvents)
    out.push(`${at}: a history of ${m.largest_history.events} events (target ≤ ${TARGETS.historyEvents})`);
  if (m.largest_history.bytes > TARGETS.historyBytes)
    out.push(`${at}: a history of ${m.largest_history.bytes} bytes (target ≤ ${TARGETS.historyBytes})`);
  return out;
}
