import { Option, type Command } from 'commander';
import { loadConfig, type AppConfig } from '../config';
import { isoDateSchema, MAX_RANGE_DAYS, providerIdSchema } from '../domain/model';
import { preflight, type LaunchRequest } from '../client';
import { labelSchema } from '../prompts/schema';
import { reassignmentInputSchema, type Mode, type Progress, type RequestedMode } from '../workflows/contract/types';
import { firstZodIssue } from '../zodIssue';
import { formatProgress, formatResult } from './format';
import { parseWith, print, UserError, withClient } from './session';

/** start, status, result and cancel: the life of a run. */

/** CLI flags by the workflow input's field names, so the workflow's own schema speaks in flags here. */
const FLAGS: Record<string, string> = {
  providerId: '--provider',
  date: '--date',
  until: '--until',
  reason: '--reason',
  promptLabel: '--label',
};

/** The run's input, checked with the workflow's own schema before anything starts. */
function startInput(
  opts: { provider: string; date: string; until?: string; reason: string; label?: string },
  config: AppConfig,
): LaunchRequest['input'] {
  const input = {
    providerId: opts.provider,
    date: opts.date,
    ...(opts.until !== undefined ? { until: opts.until } : {}),
    reason: opts.reason,
    promptLabel: opts.label ?? config.PROMPT_LABEL,
  };
  const parsed = reassignmentInputSchema.safeParse(input);
  if (parsed.success) return input;
  const { where, message } = firstZodIssue(parsed.error, '(input)');
  const flag = FLAGS[where] ?? where;
  const value = (input as Record<string, unknown>)[where];
  const text = message.replace(/\b(date|until|providerId|reason|promptLabel)\b(?= \d| [A-Z])/g, (f) => FLAGS[f] ?? f);
  throw new UserError(`${flag}${value !== undefined ? ` ${String(value)}` : ''} ${text}`);
}

export function addRunCommands(program: Command): void {
  program
    .command('start')
    .description('start reassigning the appointments of an unavailable provider')
    .requiredOption(
      '-p, --provider <id>',
      'the unavailable provider, e.g. T001',
      parseWith(providerIdSchema, 'provider'),
    )
    .requiredOption(
      '-d, --date <YYYY-MM-DD>',
      'the day the provider is unavailable (the first day, with --until)',
      parseWith(isoDateSchema, 'date'),
    )
    .option(
      '-u, --until <YYYY-MM-DD>',
      `the last day of a range, inclusive (at most ${MAX_RANGE_DAYS} days)`,
      parseWith(isoDateSchema, 'until'),
    )
    .option('-r, --reason <text>', 'why (sick, leave, ...)', 'unavailable')
    .addOption(
      new Option(
        '-m, --mode <mode>',
        'who decides: the prompt (LLM), fixed code, auto (the rollout share picks one) or shadow (one writes, the other decides beside it in a dry run)',
      )
        .choices(['prompt', 'code', 'auto', 'shadow'])
        .default(undefined, 'auto when ROLLOUT_PROMPT_SHARE is set, else prompt'),
    )
    .addOption(
      new Option('--writer <path>', 'in a shadow run, the path that writes (the other is the shadow)')
        .choices(['prompt', 'code'])
        .default(undefined, 'code'),
    )
    .option(
      '-l, --label <label>',
      'prompt label to resolve (production, staging, latest, ...)',
      parseWith(labelSchema, 'label'),
    )
    .option('--id <workflowId>', 'workflow id (default: reassign-<provider>-<date>-<time>)')
    .option('-w, --wait', 'wait for the result and print it')
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        provider: string;
        date: string;
        until?: string;
        reason: string;
        mode?: RequestedMode;
        writer?: Mode;
        label?: string;
        id?: string;
        wait?: boolean;
        json?: boolean;
      }) => {
        const config = loadConfig();
        const mode = opts.mode ?? (config.ROLLOUT_PROMPT_SHARE !== undefined ? 'auto' : 'prompt');
        if (opts.writer && mode !== 'shadow') throw new UserError('--writer goes with --mode shadow only');
        const input = { ...startInput(opts, config), ...(opts.writer ? { shadowWriter: opts.writer } : {}) };
        // Checked before connecting: a mistake is one line about the mistake, with or without a server.
        await preflight(config, input);
        await withClient(async (client) => {
          const { workflowId, type } = await client.start({
            input,
            mode,
            ...(opts.id ? { workflowId: opts.id } : {}),
          });
          if (!opts.json) console.log(`started ${type} ${workflowId}`);
          if (opts.wait) {
            const result = await client.result(workflowId);
            print(result, !!opts.json, () => formatResult(result));
          } else if (opts.json) {
            console.log(JSON.stringify({ workflowId, type }));
          }
        });
      },
    );

  program
    .command('status')
    .description('live progress of a reassignment')
    .argument('<workflowId>')
    .option('--watch', 'follow until the run finishes')
    .option('--json', 'print JSON')
    .action(async (workflowId: string, opts: { watch?: boolean; json?: boolean }) => {
      await withClient(async (client) => {
        for (;;) {
          const p: Progress = await client.progress(workflowId);
          print(p, !!opts.json, () => formatProgress(p));
          if (!opts.watch || p.phase === 'finished') break;
          const { status } = await client.temporal.workflow.getHandle(workflowId).describe();
          if (status.name !== 'RUNNING') break;
          await new Promise((r) => setTimeout(r, 1000));
        }
      });
    });

  program
    .command('result')
    .description('the result of a reassignment (waits if it is still running)')
    .argument('<workflowId>')
    .option('--json', 'print JSON')
    .action(async (workflowId: string, opts: { json?: boolean }) => {
      await withClient(async (client) => {
        const result = await client.result(workflowId);
        print(result, !!opts.json, () => formatResult(result));
      });
    });

  program
    .command('cancel')
    .description('stop a reassignment after the step in flight; what is done stays done')
    .argument('<workflowId>')
    .option('--temporal', "use Temporal's own cancellation instead of the cancel signal (same outcome)")
    .action(async (workflowId: string, opts: { temporal?: boolean }) => {
      await withClient(async (client) => {
        await client.cancel(workflowId, { temporal: !!opts.temporal, reason: 'cancelled from the CLI' });
        console.log(`cancellation requested for ${workflowId}`);
      });
    });
}
