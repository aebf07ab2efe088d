import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import { z } from 'zod';
import { labelSchema } from '../prompts/schema';
import { guardScheduleId, guardWorkflowId, idStamp } from '../workflowIds';
import { guardInputSchema, type GuardInput, type GuardResult } from '../workflows/guard/guardVerdict';
import { parseWith, print, UserError, withClient } from './session';

/**
 * `guard`: the automatic rollback guard. `schedule` creates (or updates) a Temporal Schedule that runs the
 * rollbackGuard workflow every so often; `trigger` runs the scheduled guard now; `run` runs one guard
 * workflow and prints what it saw; `unschedule` removes the schedule. The limits travel in the workflow's
 * input, checked with its own schema.
 */

const rate = z.coerce.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');
const count = z.coerce.number().int('must be a whole number').min(1, 'must be at least 1');
export const minutes = z
  .string()
  .regex(/^\d+[mhd]?$/, 'expected minutes, or a duration such as 30m, 6h or 1d')
  .transform((v) => Number.parseInt(v, 10) * ({ h: 60, d: 1440 }[v.slice(-1)] ?? 1));

interface GuardOptions {
  label: string;
  prompt?: 'healthcare-orchestrator' | 'scoring-strategy';
  window?: number;
  maxFallbackRate?: number;
  maxDisagreementRate?: number;
  minRuns?: number;
  json?: boolean;
}

function withGuardOptions(command: Command): Command {
  return command
    .option('-l, --label <label>', 'the label to watch and move back', parseWith(labelSchema, 'label'), 'production')
    .option(
      '--prompt <name>',
      'the prompt whose label moves (default: healthcare-orchestrator)',
      parseWith(guardInputSchema.shape.prompt.unwrap(), 'prompt'),
    )
    .option(
      '--window <duration>',
      'read the runs closed within this much time: minutes, 30m, 6h, 1d (default 60m)',
      parseWith(minutes, 'window'),
    )
    .option(
      '--max-fallback-rate <rate>',
      'roll back above this share of appointments decided by the fallback (default 0.2)',
      parseWith(rate, 'max-fallback-rate'),
    )
    .option(
      '--max-disagreement-rate <rate>',
      'roll back above this share of shadow disagreements (default 0.1)',
      parseWith(rate, 'max-disagreement-rate'),
    )
    .option('--min-runs <n>', 'judge nothing with fewer runs in the window (default 3)', parseWith(count, 'min-runs'))
    .option('--json', 'print JSON');
}

/** The workflow's input, checked with its own schema. */
function guardInput(o: GuardOptions): GuardInput {
  const input: GuardInput = {
    label: o.label,
    ...(o.prompt !== undefined ? { prompt: o.prompt } : {}),
    ...(o.window !== undefined ? { windowMinutes: o.window } : {}),
    ...(o.maxFallbackRate !== undefined ? { maxFallbackRate: o.maxFallbackRate } : {}),
    ...(o.maxDisagreementRate !== undefined ? { maxDisagreementRate: o.maxDisagreementRate } : {}),
    ...(o.minRuns !== undefined ? { minRuns: o.minRuns } : {}),
  };
  const parsed = guardInputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError(`${issue.path.join('.') || 'input'}: ${issue.message}`);
  }
  return input;
}

function formatGuard(r: GuardResult): string {
  const f = r.figures;
  return [
    `rollback guard · ${r.prompt} label ${r.label} · runs closed since ${r.since}`,
    f
      ? `  v${f.version} (${f.hash}): ${f.runs} run(s), ${f.appointments} appointment(s), fallback ${(f.fallback_rate * 100).toFixed(1)}%, shadow runs ${f.shadow_runs}, disagreement ${(f.shadow_disagreement_rate * 100).toFixed(1)}%`
      : '  no figures',
    ...r.verdict.reasons.map((x) => `  ${x}`),
    r.moved
      ? `  rolled back: ${r.label} v${r.moved.from} → v${r.moved.to} (as v${r.moved.version}: "${r.moved.commit_message}")`
      : '  label not moved',
  ].join('\n');
}

async function runGuardNow(client: Client, taskQueue: string, input: GuardInput): Promise<GuardResult> {
  const workflowId = guardWorkflowId(input.label ?? 'production', idStamp(new Date()));
  return (await client.workflow.execute('rollbackGuard', { taskQueue, workflowId, args: [input] })) as GuardResult;
}

export function addGuardCommands(program: Command): void {
  const guard = program
    .command('guard')
    .description('the automatic rollback guard: a Temporal Schedule that moves a label back when its runs go wrong');

  withGuardOptions(
    guard
      .command('schedule')
      .description('create or update the Temporal Schedule that runs the guard')
      .option('--every <duration>', 'how often: minutes, 30m, 6h, 1d', parseWith(minutes, 'every'), 15),
  ).action(async (opts: GuardOptions & { every: number }) => {
    const input = guardInput(opts);
    await withClient(async ({ temporal: client, config }) => {
      const scheduleId = guardScheduleId(opts.label);
      const action = {
        type: 'startWorkflow' as const,
        workflowType: 'rollbackGuard',
        taskQueue: config.TASK_QUEUE,
        workflowId: scheduleId,
        args: [input],
      };
      const spec = { intervals: [{ every: opts.every * 60_000 }] };
      let verb = 'created';
      try {
        await client.schedule.create({
          scheduleId,
          spec,
          action,
          policies: { overlap: ScheduleOverlapPolicy.SKIP },
          memo: { purpose: `rollback guard of label ${opts.label}` },
        });
      } catch (err) {
        if ((err as { name?: string }).name !== 'ScheduleAlreadyRunning') throw err;
        await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec, action }));
        verb = 'updated';
      }
      const info = await client.schedule.getHandle(scheduleId).describe();
      const next = info.info.nextActionTimes[0]?.toISOString() ?? 'none';
      print({ scheduleId, every_minutes: opts.every, input, next }, !!opts.json, () =>
        [
          `${verb} schedule ${scheduleId}: every ${opts.every} min, next at ${next}`,
          `  input ${JSON.stringify(input)}`,
        ].join('\n'),
      );
    });
  });

  guard
    .command('trigger')
    .description('run the scheduled guard now and print what it did')
    .option('-l, --label <label>', 'the label the schedule watches', 'production')
    .option('--json', 'print JSON')
    .action(async (opts: { label: string; json?: boolean }) => {
      await withClient(async ({ temporal: client }) => {
        const handle = client.schedule.getHandle(guardScheduleId(opts.label));
        let before: number;
        try {
          before = (await handle.describe()).info.numActionsTaken;
        } catch (err) {
          if (err instanceof ScheduleNotFoundError)
            throw new UserError(`no guard schedule for label ${opts.label}: create it with \`guard schedule\``);
          throw err;
        }
        await handle.trigger(ScheduleOverlapPolicy.ALLOW_ALL);
        // The schedule starts the workflow on its own time: wait for the new action, then for its result.
        let workflowId: string | undefined;
        for (let i = 0; i < 100 && !workflowId; i++) {
          const info = (await handle.describe()).info;
          if (info.numActionsTaken > before) workflowId = info.recentActions.at(-1)?.action.workflow.workflowId;
          else await new Promise((r) => setTimeout(r, 200));
        }
        if (!workflowId) throw new UserError('the schedule did not start the guard within 20 s: is a worker running?');
        const result = (await client.workflow.getHandle(workflowId).result()) as GuardResult;
        print({ workflowId, ...result }, !!opts.json, () => `${workflowId}\n${formatGuard(result)}`);
      });
    });

  withGuardOptions(guard.command('run').description('run the guard once now (without a schedule)')).action(
    async (opts: GuardOptions) => {
      const input = guardInput(opts);
      await withClient(async ({ temporal: client, config }) => {
        const result = await runGuardNow(client, config.TASK_QUEUE, input);
        print(result, !!opts.json, () => formatGuard(result));
      });
    },
  );

  guard
    .command('unschedule')
    .description('remove the guard schedule of a label')
    .option('-l, --label <label>', 'the label the schedule watches', 'production')
    .action(async (opts: { label: string }) => {
      await withClient(async ({ temporal: client }) => {
        try {
          await client.schedule.getHandle(guardScheduleId(opts.label)).delete();
        } catch (err) {
          if (err instanceof ScheduleNotFoundError) throw new UserError(`no guard schedule for label ${opts.label}`);
          throw err;
        }
        console.log(`removed schedule ${guardScheduleId(opts.label)}`);
      });
    });
}
