import fs from 'node:fs';
import { Client, Connection, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig, type AppConfig } from './config';
import { checkInvariants } from './domain/audit';
import { datesInRange, isoDateSchema, MAX_RANGE_DAYS, providerIdSchema } from './domain/model';
import { SchedulingStore } from './domain/store';
import { describeError } from './errors';
import { formatProgress, formatResult } from './format';
import { configureLangfuseLogging, createLangfuseClient } from './langfuse/client';
import { PromptOps } from './langfuse/promptOps';
import { buildReport, formatReport } from './report';
import { LocalPromptRegistry, PromptError, resolvePromptBundle } from './prompts/registry';
import { labelSchema } from './prompts/schema';
import { approveSignal, cancelSignal, progressQuery, rejectSignal } from './workflows/signals';
import type { Progress, ReassignmentResult } from './workflows/types';
import { firstZodIssue } from './zodIssue';
import type { z } from 'zod';

/** The command line: start a reassignment, decide approvals, cancel, follow progress, read the result. */

class UserError extends Error {}

const parseWith =
  <T>(
    schema: {
      safeParse(v: unknown): { success: true; data: T } | { success: false; error: z.ZodError };
    },
    what: string,
  ) =>
  (value: string): T => {
    const r = schema.safeParse(value);
    if (!r.success) throw new InvalidArgumentError(`${what} "${value}": ${firstZodIssue(r.error, what).message}`);
    return r.data;
  };

async function connect(config: AppConfig): Promise<{ client: Client; connection: Connection }> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: 3000 });
    await connection.workflowService.getSystemInfo({});
  } catch {
    throw new UserError(
      `cannot reach the Temporal server at ${config.TEMPORAL_ADDRESS}: start it with \`npm run server\` (or set TEMPORAL_ADDRESS)`,
    );
  }
  return { client: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }), connection };
}

async function withClient<T>(fn: (client: Client, config: AppConfig) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const { client, connection } = await connect(config);
  try {
    return await fn(client, config);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || (err as { name?: string }).name === 'WorkflowNotFoundError') {
      throw new UserError(`no reassignment with that workflow id in namespace ${config.TEMPORAL_NAMESPACE}`);
    }
    throw err;
  } finally {
    await connection.close();
  }
}

/** When the scheduling database is on this machine, check the provider and date before starting a run. */
function checkAgainstStore(config: AppConfig, providerId: string, date: string, until?: string): void {
  if (!fs.existsSync(config.DB_PATH)) return;
  const store = new SchedulingStore(config.DB_PATH);
  try {
    if (store.counts().providers === 0)
      throw new UserError(`the scheduling database ${config.DB_PATH} is empty: load data first (npm run seed)`);
    if (!store.provider(providerId)) throw new UserError(`unknown provider ${providerId} in ${config.DB_PATH}`);
    if (until !== undefined) {
      if (store.appointmentCount(providerId, date, until) === 0)
        throw new UserError(
          `provider ${providerId} has no appointments from ${date} through ${until}: nothing to reassign`,
        );
    } else if (store.appointmentCount(providerId, date) === 0 && !store.unavailability(providerId, date))
      throw new UserError(`provider ${providerId} has no appointments on ${date}: nothing to reassign`);
  } finally {
    store.close();
  }
}

/** The local prompt files are read here too, so that a file that does not parse or a missing label is one line now. */
async function checkPrompts(config: AppConfig, label: string): Promise<void> {
  try {
    await resolvePromptBundle(new LocalPromptRegistry(config.PROMPTS_DIR), label);
  } catch (err) {
    if (err instanceof PromptError) throw new UserError(err.message);
    throw err;
  }
}

function print(value: unknown, json: boolean, text: () => string): void {
  console.log(json ? JSON.stringify(value, null, 2) : text());
}

async function awaitResult(client: Client, workflowId: string): Promise<ReassignmentResult> {
  try {
    return (await client.workflow.getHandle(workflowId).result()) as ReassignmentResult;
  } catch (err) {
    if (err instanceof WorkflowFailedError)
      throw new UserError(`the reassignment failed: ${describeError(err.cause ?? err)}`);
    throw err;
  }
}

/** Prompt operations need Langfuse; the embedded default has nothing to push to. */
async function withPromptOps<T>(fn: (ops: PromptOps, config: AppConfig) => Promise<T>): Promise<T> {
  const config = loadConfig();
  if (!config.langfuse)
    throw new UserError(
      'prompt operations need Langfuse: set LANGFUSE_BASE_URL, LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY',
    );
  // Our one-line error says what failed; the SDK's own error log would add a stack trace on stderr.
  configureLangfuseLogging('ERROR');
  const langfuse = createLangfuseClient(config.langfuse);
  return fn(new PromptOps(langfuse), config);
}

function addPromptCommands(program: Command): void {
  const prompts = program
    .command('prompts')
    .description('prompt versions and labels in Langfuse: push, list, promote, rollback, diff');
  prompts
    .command('push')
    .description(
      'push each local prompt version that Langfuse lacks (compared by hash) as a new version, with its labels',
    )
    .option('--dir <path>', 'prompt files (default: PROMPTS_DIR)')
    .option('--json', 'print JSON')
    .action(async (opts: { dir?: string; json?: boolean }) => {
      await withPromptOps(async (ops, config) => {
        const pushed = await ops.push(opts.dir ?? config.PROMPTS_DIR);
        print(pushed, !!opts.json, () =>
          pushed.length === 0
            ? 'Langfuse already has every local version'
            : pushed
                .map(
                  (p) => `pushed ${p.name} local v${p.localVersion} → Langfuse v${p.version} [${p.labels.join(', ')}]`,
                )
                .join('\n'),
        );
      });
    });
  prompts
    .command('list')
    .description('versions, labels and hashes in Langfuse')
    .argument('[name]')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, opts: { json?: boolean }) => {
      await withPromptOps(async (ops) => {
        const rows = await ops.list(name);
        print(
          rows,
          !!opts.json,
          () =>
            rows
              .map((r) =>
                `${r.name}  v${r.version}  [${r.labels.join(', ')}]  ${r.hash}  ${r.commitMessage ?? ''}`.trimEnd(),
              )
              .join('\n') || 'no prompts in Langfuse',
        );
      });
    });
  prompts
    .command('promote')
    .description('move a label to a version; runs started afterwards use it, running ones keep theirs')
    .argument('<name>')
    .argument('<version>')
    .argument('<label>')
    .action(async (name: string, version: string, label: string) => {
      await withPromptOps(async (ops) => {
        const r = await ops.promote(name, version, label);
        console.log(`${r.name}: ${r.label} → v${r.version}${r.from !== undefined ? ` (was v${r.from})` : ''}`);
      });
    });
  prompts
    .command('rollback')
    .description('move a label back to the version below the one it is on, or to --to')
    .argument('<name>')
    .argument('<label>')
    .option('--to <version>', 'the version to move the label to')
    .action(async (name: string, label: string, opts: { to?: string }) => {
      await withPromptOps(async (ops) => {
        const r = await ops.rollback(name, label, opts.to);
        console.log(`${r.name}: ${r.label} rolled back v${r.from} → v${r.version}`);
      });
    });
  prompts
    .command('diff')
    .description('line diff of two versions (text and config)')
    .argument('<name>')
    .argument('<v1>')
    .argument('<v2>')
    .action(async (name: string, v1: string, v2: string) => {
      await withPromptOps(async (ops) => console.log(await ops.diff(name, v1, v2)));
    });
}

export function buildProgram(): Command {
  const program = new Command('reassign')
    .description('Prompt-driven reassignment of appointments on Temporal')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') });

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
      new Option('-m, --mode <mode>', 'who decides: the prompt (LLM) or fixed code')
        .choices(['prompt', 'code'])
        .default('prompt'),
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
        mode: 'prompt' | 'code';
        label?: string;
        id?: string;
        wait?: boolean;
        json?: boolean;
      }) => {
        const config = loadConfig();
        if (opts.until !== undefined) {
          const span = datesInRange(opts.date, opts.until).length;
          if (opts.until < opts.date) throw new UserError(`--until ${opts.until} is before --date ${opts.date}`);
          if (span > MAX_RANGE_DAYS)
            throw new UserError(
              `--date ${opts.date} through --until ${opts.until} is more than ${MAX_RANGE_DAYS} days`,
            );
        }
        checkAgainstStore(config, opts.provider, opts.date, opts.until);
        if (config.PROMPT_SOURCE === 'local') await checkPrompts(config, opts.label ?? config.PROMPT_LABEL);
        await withClient(async (client) => {
          const workflowId =
            opts.id ??
            `reassign-${opts.provider}-${opts.date}-${new Date()
              .toISOString()
              .replace(/[-:.TZ]/g, '')
              .slice(0, 17)}`;
          const type = opts.mode === 'prompt' ? 'promptDrivenReassignment' : 'codeDrivenReassignment';
          const input = {
            providerId: opts.provider,
            date: opts.date,
            ...(opts.until !== undefined ? { until: opts.until } : {}),
            reason: opts.reason,
            promptLabel: opts.label ?? config.PROMPT_LABEL,
          };
          await client.workflow.start(type, { taskQueue: config.TASK_QUEUE, workflowId, args: [input] });
          if (!opts.json) console.log(`started ${type} ${workflowId}`);
          if (opts.wait) {
            const result = await awaitResult(client, workflowId);
            print(result, !!opts.json, () => formatResult(result));
          } else if (opts.json) {
            console.log(JSON.stringify({ workflowId, type }));
          }
        });
      },
    );

  const decision = (name: 'approve' | 'reject') =>
    program
      .command(name)
      .description(`${name} the assignment an appointment is waiting on`)
      .argument('<workflowId>')
      .argument('<appointmentId>')
      .option('--by <name>', 'who decides', process.env.USER ?? 'operator')
      .option('--note <text>', 'a note kept with the decision')
      .action(async (workflowId: string, appointmentId: string, opts: { by: string; note?: string }) => {
        await withClient(async (client) => {
          const handle = client.workflow.getHandle(workflowId);
          const progress = await handle.query(progressQuery);
          if (!progress.pending_approvals.some((p) => p.appointment_id === appointmentId)) {
            const waiting = progress.pending_approvals.map((p) => p.appointment_id).join(', ') || 'none';
            throw new UserError(`${appointmentId} is not awaiting approval in ${workflowId} (awaiting: ${waiting})`);
          }
          await handle.signal(name === 'approve' ? approveSignal : rejectSignal, {
            appointmentId,
            by: opts.by,
            ...(opts.note ? { note: opts.note } : {}),
          });
          console.log(`${name === 'approve' ? 'approved' : 'rejected'} ${appointmentId} in ${workflowId}`);
        });
      });
  decision('approve');
  decision('reject');

  program
    .command('cancel')
    .description('stop a reassignment after the step in flight; what is done stays done')
    .argument('<workflowId>')
    .option('--temporal', "use Temporal's own cancellation instead of the cancel signal (same outcome)")
    .action(async (workflowId: string, opts: { temporal?: boolean }) => {
      await withClient(async (client) => {
        const handle = client.workflow.getHandle(workflowId);
        if (opts.temporal) await handle.cancel();
        else await handle.signal(cancelSignal, { reason: 'cancelled from the CLI' });
        console.log(`cancellation requested for ${workflowId}`);
      });
    });

  program
    .command('status')
    .description('live progress of a reassignment')
    .argument('<workflowId>')
    .option('--watch', 'follow until the run finishes')
    .option('--json', 'print JSON')
    .action(async (workflowId: string, opts: { watch?: boolean; json?: boolean }) => {
      await withClient(async (client) => {
        const handle = client.workflow.getHandle(workflowId);
        for (;;) {
          const p: Progress = await handle.query(progressQuery);
          print(p, !!opts.json, () => formatProgress(p));
          if (!opts.watch || p.phase === 'finished') break;
          const { status } = await handle.describe();
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
        const result = await awaitResult(client, workflowId);
        print(result, !!opts.json, () => formatResult(result));
      });
    });

  program
    .command('audit')
    .description("check the scheduling database's invariants; exits non-zero listing each violation")
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const config = loadConfig();
      if (!fs.existsSync(config.DB_PATH)) throw new UserError(`no scheduling database at ${config.DB_PATH}`);
      const store = new SchedulingStore(config.DB_PATH);
      try {
        const violations = checkInvariants(store);
        const counts = store.counts();
        if (opts.json) console.log(JSON.stringify({ counts, violations }, null, 2));
        else {
          for (const v of violations) console.log(`violation: ${v.rule}: ${v.detail}`);
          console.log(
            `${config.DB_PATH}: ${counts.appointments} appointments, ${counts.assignments} assignments, ${counts.waitlist} waitlisted, ${counts.notifications} notifications; ${violations.length} violation(s)`,
          );
        }
        if (violations.length > 0) process.exitCode = 1;
      } finally {
        store.close();
      }
    });

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
          costPer1kTokens: config.LLM_COST_PER_1K_TOKENS,
        });
        print(rows, !!opts.json, () => formatReport(rows));
      });
    });

  addPromptCommands(program);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err) => {
      console.error(`error: ${describeError(err)}`);
      process.exit(1);
    });
}
