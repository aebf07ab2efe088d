import { Option, type Command } from 'commander';
import { byPath, byPrompt, readRuns, type PathRow, type ReportRow } from '../report/runReport';
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
            const rows = byPath(runs, config.prices);
            print(rows, !!opts.json, () => (rows.length ? formatByPath(rows) : 'no completed runs match'));
          } else {
            const rows = byPrompt(runs, config.prices);
            print(rows, !!opts.json, () => (rows.length ? formatByPrompt(rows) : 'no completed runs match'));
          }
        });
      },
    );
}
