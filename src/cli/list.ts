import type { Command } from 'commander';
import { runFiltersSchema, type RunFilters, type RunSummary } from '../temporal/runList';
import { parseWith, print, withClient } from './session';

/** `list`: our runs from Temporal's visibility, newest first, with the HTTP API's filters (src/temporal/runList.ts). */

const filter = runFiltersSchema.shape;

/** Our status; Temporal's when the workflow closed without writing one (failed, terminated, timed out). */
function statusOf(r: RunSummary): string {
  const closed = r.execution_status !== 'RUNNING';
  return closed && (r.status === null || r.status === 'running')
    ? r.execution_status.toLowerCase()
    : (r.status ?? 'running');
}

/** One line per run: id, status, provider, date, prompt version, started. */
function formatRuns(runs: RunSummary[]): string {
  if (runs.length === 0) return 'no runs match';
  return runs
    .map((r) =>
      [
        r.workflow_id,
        statusOf(r),
        r.provider_id ?? '-',
        r.date ?? '-',
        r.prompt_version === null ? 'prompt -' : `prompt v${r.prompt_version}`,
        `started ${r.started_at}`,
      ].join('  '),
    )
    .join('\n');
}

export function addListCommand(program: Command): void {
  program
    .command('list')
    .description('reassignment runs, newest first, from Temporal visibility (the filters of GET /api/reassignments)')
    .option('--status <status>', 'running, completed, cancelled, ...', parseWith(filter.status, 'status'))
    .option('-p, --provider <id>', 'the unavailable provider, e.g. T001', parseWith(filter.provider, 'provider'))
    .option('-d, --date <YYYY-MM-DD>', 'the (first) day of the run', parseWith(filter.date, 'date'))
    .option('-m, --mode <mode>', 'prompt, code or shadow', parseWith(filter.mode, 'mode'))
    .option('--shadow <verdict>', 'shadow runs that agreed or disagreed', parseWith(filter.shadow, 'shadow'))
    .option('-n, --limit <n>', 'at most this many runs (1-200)', parseWith(filter.limit, 'limit'), 50)
    .option('--json', 'print JSON')
    .action(async (opts: RunFilters & { json?: boolean }) => {
      const { json, ...filters } = opts;
      await withClient(async (client) => {
        const runs = await client.list(filters);
        print(runs, !!json, () => formatRuns(runs));
      });
    });
}
