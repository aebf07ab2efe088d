import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { TokenPrices } from '../config';
import { REASSIGNMENT_TYPES } from '../workflowIds';
import type { ReassignmentResult } from '../workflows/contract/types';
import type { OutcomeCounts } from '../domain/outcomes';
import { outcomeFiguresOf, type OutcomeFigures } from './outcomeFigures';

/**
 * The report over completed runs: found through Temporal's visibility API by our search attributes, each
 * figure read from a run's own result (what the workflow recorded, not a second bookkeeping), aggregated by
 * prompt version and A/B arm, or by path (prompt-driven, code-driven, shadow). The CLI's `report` prints it;
 * the rollback guard reads the same figures for the production label over its window. Given the scheduling
 * database's outcome counts, each row also has what happened to patients after (`outcomes`, outcomeFigures.ts):
 * the outcomes of a row are those of the decisions its runs made, re-offer runs included like any run.
 */

export interface RunFilter {
  taskQueue: string;
  experiment?: string;
  /** Only runs that resolved this prompt label. */
  label?: string;
  /** Only runs that closed at or after this time. */
  since?: Date;
  /** At most this many runs are read (newest first). */
  limit?: number;
}

export interface ReportFigures {
  runs: number;
  appointments: number;
  assigned: number;
  waitlisted: number;
  /** Waitlisted appointments over affected ones. */
  waitlist_rate: number;
  approvals_asked: number;
  /** Runs with any fallback: the embedded prompt (Langfuse unreachable) or the code-driven logic taking over from the model. */
  fallbacks: number;
  /** Appointments the code-driven fallback decided in prompt-driven runs, over the appointments of those runs. */
  fallback_rate: number;
  /** Shadow runs, and the share of their appointments on which the two paths disagreed. */
  shadow_runs: number;
  shadow_disagreement_rate: number;
  llm_calls: number;
  tokens: number;
  /** Null when no token prices are configured (and a run was not the free offline stand-in). */
  cost: number | null;
  avg_duration_s: number;
}

export interface ReportRow extends ReportFigures {
  prompt: string;
  version: number;
  source: 'local' | 'langfuse';
  experiment: string;
  arm: string;
  /** What happened to patients after the row's runs decided; absent when the report had no database to read. */
  outcomes?: OutcomeFigures;
}

export interface PathRow extends ReportFigures {
  /** prompt or code (a routed run counts on the path it was given), or shadow. */
  path: string;
  outcomes?: OutcomeFigures;
}

/** The outcome counts of the decisions of these runs (by workflow id): the store's `outcomeCounts`. */
export type OutcomeSource = (runIds: readonly string[]) => OutcomeCounts;

/** The row's outcome figures, when there is a source: over its runs' decisions and its appointments. */
function outcomesOf(group: ReadRun[], figures: ReportFigures, source?: OutcomeSource): { outcomes?: OutcomeFigures } {
  if (!source) return {};
  return { outcomes: outcomeFiguresOf(source(group.map((r) => r.result.workflow_id)), figures.appointments) };
}

export interface ReadRun {
  result: ReassignmentResult;
  duration_s: number;
}

const quote = (v: string) => `'${v.replace(/['\\]/g, '')}'`;

/** A visibility query for our completed runs; values are quoted, so a name cannot widen the query. */
function reportQuery(filter: Omit<RunFilter, 'limit'>): string {
  return [
    `ExecutionStatus = 'Completed'`,
    `WorkflowType IN (${REASSIGNMENT_TYPES.map(quote).join(', ')})`,
    `TaskQueue = ${quote(filter.taskQueue)}`,
    ...(filter.experiment ? [`Experiment = ${quote(filter.experiment)}`] : []),
    ...(filter.label ? [`PromptLabel = ${quote(filter.label)}`] : []),
    ...(filter.since ? [`CloseTime >= ${quote(filter.since.toISOString())}`] : []),
  ].join(' AND ');
}

/** Results are read this many at a time (one request each to the Temporal server). */
const READ_CONCURRENCY = 16;

/** The completed runs the filter selects, with their results. */
export async function readRuns(client: Client, filter: RunFilter): Promise<ReadRun[]> {
  const executions: WorkflowExecutionInfo[] = [];
  for await (const execution of client.workflow.list({ query: reportQuery(filter) })) {
    if (executions.length >= (filter.limit ?? 1000)) break;
    executions.push(execution);
  }
  const runs: ReadRun[] = [];
  for (let i = 0; i < executions.length; i += READ_CONCURRENCY) {
    const chunk = executions.slice(i, i + READ_CONCURRENCY);
    const results = await Promise.all(
      chunk.map((e) => client.workflow.getHandle(e.workflowId, e.runId).result() as Promise<ReassignmentResult>),
    );
    chunk.forEach((e, j) => {
      // The last run of a chain that continued as new: its start is close enough for a report (docs/runs.md).
      const ms = (e.closeTime?.getTime() ?? 0) - e.startTime.getTime();
      runs.push({ result: results[j]!, duration_s: Math.max(0, ms) / 1000 });
    });
  }
  return runs;
}

/** A run's LLM cost at the configured prices: 0 without model calls or for the offline stand-in, else unknown (null) without prices. */
function runCost(r: ReassignmentResult, prices: TokenPrices | undefined): number | null {
  if (r.llm.offline || r.llm.calls === 0) return 0;
  if (!prices) return null;
  return (r.llm.prompt_tokens * prices.inputPer1k + r.llm.completion_tokens * prices.outputPer1k) / 1000;
}

/** The path a run's appointments were decided on: its mode (a routed run's is the path the rollout gave it). */
const pathOf = (r: ReassignmentResult): string => r.mode;

/** Does the model decide in this run (so that the code-driven logic deciding is a fallback)? */
const modelDecides = (r: ReassignmentResult) =>
  r.mode === 'prompt' || (r.mode === 'shadow' && r.shadow?.writer === 'prompt');

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/** The figures of a group of runs. */
export function figuresOf(runs: ReadRun[], prices?: TokenPrices): ReportFigures {
  let modelAppointments = 0;
  let fallbackAppointments = 0;
  let shadowAppointments = 0;
  let shadowDisagreed = 0;
  let cost: number | null = 0;
  const f = {
    runs: 0,
    appointments: 0,
    assigned: 0,
    waitlisted: 0,
    approvals_asked: 0,
    fallbacks: 0,
    shadow_runs: 0,
    llm_calls: 0,
    tokens: 0,
    duration: 0,
  };
  for (const { result: r, duration_s } of runs) {
    f.runs += 1;
    f.appointments += r.total_affected;
    f.assigned += r.successful_assignments;
    f.waitlisted += r.waitlist_entries;
    f.approvals_asked += r.approvals.requested;
    const codeTookOver = r.fallbacks.reduce((n, x) => n + x.appointments.length, 0);
    f.fallbacks += r.prompt.orchestrator.fallback || r.prompt.scoring.fallback || codeTookOver > 0 ? 1 : 0;
    if (modelDecides(r)) {
      modelAppointments += r.total_affected;
      fallbackAppointments += codeTookOver;
    }
    if (r.shadow) {
      f.shadow_runs += 1;
      shadowAppointments += r.shadow.appointments;
      shadowDisagreed += r.shadow.appointments - r.shadow.agreed;
    }
    f.llm_calls += r.llm.calls;
    f.tokens += r.llm.prompt_tokens + r.llm.completion_tokens;
    const c = runCost(r, prices);
    cost = cost === null || c === null ? null : cost + c;
    f.duration += duration_s;
  }
  const { duration, ...counts } = f;
  return {
    ...counts,
    waitlist_rate: f.appointments ? round(f.waitlisted / f.appointments, 4) : 0,
    fallback_rate: modelAppointments ? round(fallbackAppointments / modelAppointments, 4) : 0,
    shadow_disagreement_rate: shadowAppointments ? round(shadowDisagreed / shadowAppointments, 4) : 0,
    cost: cost === null ? null : round(cost, 6),
    avg_duration_s: f.runs ? round(duration / f.runs, 2) : 0,
  };
}

function groupBy<K>(runs: ReadRun[], keyOf: (r: ReassignmentResult) => K): [K, ReadRun[]][] {
  const groups = new Map<string, [K, ReadRun[]]>();
  for (const run of runs) {
    const key = keyOf(run.result);
    const id = JSON.stringify(key);
    const group = groups.get(id) ?? [key, []];
    group[1].push(run);
    groups.set(id, group);
  }
  return [...groups.values()];
}

/** Rows per prompt version and A/B arm. */
export function byPrompt(runs: ReadRun[], prices?: TokenPrices, outcomes?: OutcomeSource): ReportRow[] {
  return groupBy(runs, (r) => {
    const pin = r.prompt.orchestrator;
    return {
      prompt: pin.name,
      version: pin.version,
      source: pin.source,
      experiment: r.prompt.experiment?.experiment ?? '-',
      arm: r.prompt.experiment?.arm ?? '-',
    };
  })
    .map(([key, group]) => {
      const figures = figuresOf(group, prices);
      return { ...key, ...figures, ...outcomesOf(group, figures, outcomes) };
    })
    .sort(
      (a, b) =>
        a.prompt.localeCompare(b.prompt) ||
        a.version - b.version ||
        a.arm.localeCompare(b.arm) ||
        a.source.localeCompare(b.source),
    );
}

/** Rows per path: prompt-driven against code-driven (routed runs on the path they were given), and shadow. */
export function byPath(runs: ReadRun[], prices?: TokenPrices, outcomes?: OutcomeSource): PathRow[] {
  return groupBy(runs, pathOf)
    .map(([path, group]) => {
      const figures = figuresOf(group, prices);
      return { path, ...figures, ...outcomesOf(group, figures, outcomes) };
    })
    .sort((a, b) => a.path.localeCompare(b.path));
}
