import { Option, type Command } from 'commander';
import type { AppConfig } from '../config';
import { targetOf } from '../db/open';
import { EMPTY_OUTCOME_COUNTS, type OutcomeCounts } from '../domain/outcomes';
import { withSchedulingStore } from '../domain/store';
import type { OutcomeFigures } from '../report/outcomeFigures';
import { byPath, byPrompt, readRuns, type OutcomeSource, type PathRow, type ReportRow } from '../report/runReport';
import { labelSchema } from '../prompts/schema';
import { parseWith, print, UserError, withClient } from './session';

/** `report`: completed runs aggregated per prompt version and A/B arm, or per path (src/report/runReport.ts). */

export type { ReportRow, PathRow };

/** A table: the first `left` columns aligned left, the figures right. */
function table(header: string[], cells: string[][], left: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => (i < left ? v.padEnd(widths[i]!) : v.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}

const money = (c: number | null) => (c === null ? '-' : c.toFixed(4));
const percent = (r: number) => `${(r * 100).toFixed(1)}%`;

function formatByPrompt(rows: ReportRow[]): string {
  const header = ['prompt', 'version', 'source', 'experiment', 'arm', 'runs', 'appts', 'assigned', 'waitlisted'];
  header.push('approvals', 'fallbacks', 'llm calls', 'tokens', 'cost', 'avg s');
  const cells = rows.map((r) =>
    [r.prompt, `v${r.version}`, r.source, r.experiment, r.arm, r.runs, r.appointments, r.assigned, r.waitlisted]
      .concat([r.approvals_asked, r.fallbacks, r.llm_calls, r.tokens, money(r.cost), r.avg_duration_s.toFixed(2)])
      .map(String),
  );
  return table(header, cells, 5);
}

function formatByPath(rows: PathRow[]): string {
  const header = ['path', 'runs', 'appts', 'waitlist', 'fallback', 'approvals', 'disagree', 'llm calls', 'tokens'];
  header.push('cost', 'avg s');
  const cells = rows.map((r) =>
    [r.path, r.runs, r.appointments, percent(r.waitlist_rate), percent(r.fallback_rate), r.approvals_asked]
      .concat([r.shadow_runs ? percent(r.shadow_disagreement_rate) : '-', r.llm_calls, r.tokens, money(r.cost)])
      .concat([r.avg_duration_s.toFixed(2)])
      .map(String),
  );
  return table(header, cells, 1);
}

const rate = (r: number | null) => (r === null ? '-' : percent(r));

/** The outcome columns of a row: counts, the acceptance rate with its 95% interval and n, satisfaction and n. */
function outcomeCells(o: OutcomeFigures | undefined): string[] {
  if (!o) return [];
  const ci = o.acceptance_ci95
    ? `[${(o.acceptance_ci95[0] * 100).toFixed(1)}-${(o.acceptance_ci95[1] * 100).toFixed(1)}%]`
    : '-';
  return ([o.offered_appointments, o.offers, o.accepted, o.declined, o.no_answer, o.open] as (string | number)[])
    .concat([rate(o.acceptance_rate), ci, o.answered])
    .concat([o.satisfaction_mean === null ? '-' : o.satisfaction_mean.toFixed(2), o.satisfaction_count])
    .concat([o.escalations, o.escalations_per_100 === null ? '-' : o.escalations_per_100.toFixed(1)])
    .concat([o.offers_per_offered_appointment === null ? '-' : o.offers_per_offered_appointment.toFixed(2)])
    .map(String);
}

const OUTCOME_HEADER = ['offered', 'offers', 'accepted', 'declined', 'no answer', 'open', 'accept rate', '95% CI', 'n'];
OUTCOME_HEADER.push('satisfaction', 'n', 'escalations', 'esc/100 appts', 'offers/offered');

/** The outcome table under the report, one line per row with the row's key columns; empty without outcomes. */
function formatOutcomes<R extends { outcomes?: OutcomeFigures }>(
  rows: R[],
  keys: string[],
  keyOf: (r: R) => string[],
): string {
  if (!rows.some((r) => r.outcomes)) return '';
  const cells = rows.map((r) => keyOf(r).concat(outcomeCells(r.outcomes)));
  return `\n\noutcomes (patients' answers, satisfaction and escalations, from the scheduling database)\n${table(keys.concat(OUTCOME_HEADER), cells, keys.length)}`;
}

/**
 * The outcome counts from the scheduling database, when it is at hand (the embedded mode's file, the worker's
 * shared file, or PostgreSQL); without it the report has the runs' figures only. The report groups runs without
 * waiting on anything, so the counts each group asks for are read first (one query per group), then served from
 * memory.
 */
async function outcomeSource<R>(
  config: AppConfig,
  rowsOf: (source?: OutcomeSource) => R[],
): Promise<OutcomeSource | undefined> {
  const wanted: string[][] = [];
  rowsOf((ids) => {
    wanted.push([...ids]);
    return EMPTY_OUTCOME_COUNTS;
  });
  const counts = await withSchedulingStore(
    targetOf(config),
    async (store) => {
      const found = new Map<string, OutcomeCounts>();
      for (const ids of wanted) found.set(ids.join('\n'), await store.outcomeCounts(ids));
      return found;
    },
    config,
  );
  return counts ? (ids) => counts.get(ids.join('\n')) ?? EMPTY_OUTCOME_COUNTS : undefined;
}

/** --since: a duration back from now (30m, 6h, 7d) or an ISO date or time. */
function parseSince(value: string, now = new Date()): Date {
  const ago = /^(\d+)([mhd])$/.exec(value);
  if (ago) return new Date(now.getTime() - Number(ago[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2]!]!);
  const at = new Date(value);
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(at.getTime())) return at;
  throw new UserError(`--since ${value}: expected a duration such as 30m, 6h or 7d, or an ISO date`);
}

export function addReportCommand(program: Command): void {
  program
    .command('report')
    .description('completed runs aggregated per prompt version and A/B arm, or per path (from Temporal visibility)')
    .addOption(
      new Option('--by <grouping>', 'prompt: per prompt version and arm; path: prompt-driven against code-driven')
        .choices(['prompt', 'path'])
        .default('prompt'),
    )
    .option('--experiment <name>', 'only the runs of this experiment')
    .option('--label <label>', 'only the runs that resolved this prompt label', parseWith(labelSchema, 'label'))
    .option('--since <when>', 'only the runs closed since: 30m, 6h, 7d or an ISO date')
    .option('--task-queue <name>', 'only the runs of this task queue (default: TASK_QUEUE)')
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        by: 'prompt' | 'path';
        experiment?: string;
        label?: string;
        since?: string;
        taskQueue?: string;
        json?: boolean;
      }) => {
        const since = opts.since !== undefined ? parseSince(opts.since) : undefined;
        await withClient(async ({ temporal: client, config }) => {
          const runs = await readRuns(client, {
            taskQueue: opts.taskQueue ?? config.TASK_QUEUE,
            ...(opts.experiment ? { experiment: opts.experiment } : {}),
            ...(opts.label ? { label: opts.label } : {}),
            ...(since ? { since } : {}),
          });
          if (opts.by === 'path') {
            const source = await outcomeSource(config, (o) => byPath(runs, config.prices, o));
            const rows = byPath(runs, config.prices, source);
            print(rows, !!opts.json, () =>
              rows.length
                ? formatByPath(rows) + formatOutcomes(rows, ['path'], (r) => [r.path])
                : 'no completed runs match',
            );
          } else {
            const source = await outcomeSource(config, (o) => byPrompt(runs, config.prices, o));
            const rows = byPrompt(runs, config.prices, source);
            print(rows, !!opts.json, () =>
              rows.length
                ? formatByPrompt(rows) +
                  formatOutcomes(rows, ['prompt', 'version', 'arm'], (r) => [r.prompt, `v${r.version}`, r.arm])
                : 'no completed runs match',
            );
          }
        });
      },
    );
}
