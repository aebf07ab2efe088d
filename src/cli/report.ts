import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import type { TokenPrices } from '../config';
import type { ReassignmentResult } from '../workflows/types';
import { print, withClient } from './session';

/**
 * The A/B report: completed runs, found through Temporal's visibility API by our search attributes, and
 * their results aggregated per prompt version and arm. Each figure comes from a run's own result, so the
 * report reads what the workflows recorded, not a second bookkeeping.
 */

export interface ReportRow {
  prompt: string;
  version: number;
  source: 'local' | 'langfuse';
  experiment: string;
  arm: string;
  runs: number;
  appointments: number;
  assigned: number;
  waitlisted: number;
  approvals_asked: number;
  fallbacks: number;
  llm_calls: number;
  tokens: number;
  /** Null when no token prices are configured (and a run was not the free offline stand-in). */
  cost: number | null;
  avg_duration_s: number;
}

interface ReportOptions {
  taskQueue: string;
  experiment?: string;
  /** Price of 1,000 tokens; the offline stand-in is always free. */
  prices?: TokenPrices;
  /** At most this many runs are read (newest first). */
  limit?: number;
}

/** A visibility query for our completed runs; values are quoted, so a name cannot widen the query. */
function reportQuery(options: Pick<ReportOptions, 'taskQueue' | 'experiment'>): string {
  const quote = (v: string) => `'${v.replace(/['\\]/g, '')}'`;
  return [
    `ExecutionStatus = 'Completed'`,
    `WorkflowType IN ('promptDrivenReassignment', 'codeDrivenReassignment')`,
    `TaskQueue = ${quote(options.taskQueue)}`,
    ...(options.experiment ? [`Experiment = ${quote(options.experiment)}`] : []),
  ].join(' AND ');
}

/** A run's LLM cost at the configured prices: 0 for the offline stand-in, unknown (null) without prices. */
function runCost(r: ReassignmentResult, prices: TokenPrices | undefined): number | null {
  if (r.llm.offline) return 0;
  if (!prices) return null;
  return (r.llm.prompt_tokens * prices.inputPer1k + r.llm.completion_tokens * prices.outputPer1k) / 1000;
}

async function buildReport(client: Client, options: ReportOptions): Promise<ReportRow[]> {
  const groups = new Map<string, ReportRow & { durationTotal: number }>();
  let seen = 0;
  for await (const execution of client.workflow.list({ query: reportQuery(options) })) {
    if (seen++ >= (options.limit ?? 1000)) break;
    const r = (await client.workflow.getHandle(execution.workflowId, execution.runId).result()) as ReassignmentResult;
    const pin = r.prompt.orchestrator;
    const experiment = r.prompt.experiment?.experiment ?? '-';
    const arm = r.prompt.experiment?.arm ?? '-';
    const key = JSON.stringify([pin.name, pin.version, pin.source, experiment, arm]);
    const row = groups.get(key) ?? {
      prompt: pin.name,
      version: pin.version,
      source: pin.source,
      experiment,
      arm,
      runs: 0,
      appointments: 0,
      assigned: 0,
      waitlisted: 0,
      approvals_asked: 0,
      fallbacks: 0,
      llm_calls: 0,
      tokens: 0,
      cost: 0,
      avg_duration_s: 0,
      durationTotal: 0,
    };
    const tokens = r.llm.prompt_tokens + r.llm.completion_tokens;
    row.runs += 1;
    row.appointments += r.total_affected;
    row.assigned += r.successful_assignments;
    row.waitlisted += r.waitlist_entries;
    row.approvals_asked += r.approvals.requested;
    row.fallbacks += pin.fallback || r.prompt.scoring.fallback ? 1 : 0;
    row.llm_calls += r.llm.calls;
    row.tokens += tokens;
    const cost = runCost(r, options.prices);
    row.cost = row.cost === null || cost === null ? null : row.cost + cost;
    // The last run of a chain that continued as new: its start is close enough for a report, and says so in the README.
    const ms = (execution.closeTime?.getTime() ?? 0) - execution.startTime.getTime();
    row.durationTotal += Math.max(0, ms) / 1000;
    groups.set(key, row);
  }
  return [...groups.values()]
    .map(({ durationTotal, ...row }) => ({
      ...row,
      cost: row.cost === null ? null : Math.round(row.cost * 1e6) / 1e6,
      avg_duration_s: Math.round((durationTotal / row.runs) * 100) / 100,
    }))
    .sort(
      (a, b) =>
        a.prompt.localeCompare(b.prompt) ||
        a.version - b.version ||
        a.arm.localeCompare(b.arm) ||
        a.source.localeCompare(b.source),
    );
}

function formatReport(rows: ReportRow[]): string {
  if (rows.length === 0) return 'no completed runs match';
  const header = [
    'prompt',
    'version',
    'source',
    'experiment',
    'arm',
    'runs',
    'appts',
    'assigned',
    'waitlisted',
    'approvals',
    'fallbacks',
    'llm calls',
    'tokens',
    'cost',
    'avg s',
  ];
  const cells = rows.map((r) =>
    [
      r.prompt,
      `v${r.version}`,
      r.source,
      r.experiment,
      r.arm,
      r.runs,
      r.appointments,
      r.assigned,
      r.waitlisted,
      r.approvals_asked,
      r.fallbacks,
      r.llm_calls,
      r.tokens,
      r.cost === null ? '-' : r.cost.toFixed(4),
      r.avg_duration_s.toFixed(2),
    ].map(String),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => (i < 5 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}

export function addReportCommand(program: Command): void {
  program
    .command('report')
    .description('completed runs aggregated per prompt version and A/B arm (from Temporal visibility)')
    .option('--experiment <name>', 'only the runs of this experiment')
    .option('--task-queue <name>', 'only the runs of this task queue (default: TASK_QUEUE)')
    .option('--json', 'print JSON')
    .action(async (opts: { experiment?: string; taskQueue?: string; json?: boolean }) => {
      await withClient(async (client, config) => {
        const rows = await buildReport(client, {
          taskQueue: opts.taskQueue ?? config.TASK_QUEUE,
          experiment: opts.experiment,
          ...(config.prices ? { prices: config.prices } : {}),
        });
        print(rows, !!opts.json, () => formatReport(rows));
      });
    });
}
