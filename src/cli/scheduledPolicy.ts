import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Command } from 'commander';
import { z } from 'zod';
import { labelSchema } from '../prompts/schema';
import { idStamp } from '../workflowIds';
import { parseWith, print, UserError, withClient } from './session';

/**
 * The commands every scheduled policy has (the rollback guard, the adaptation policy): `schedule` creates or
 * updates a Temporal Schedule that starts the policy's workflow every so often, `trigger` runs the scheduled
 * policy now and prints what it did, `run` runs one workflow without a schedule, `unschedule` removes the
 * schedule. Each policy brings its workflow, ids, options, input check and output.
 */

export const rate = z.coerce.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');
export const count = z.coerce.number().int('must be a whole number').min(1, 'must be at least 1');
export const minutes = z
  .string()
  .regex(/^\d+[mhd]?$/, 'expected minutes, or a duration such as 30m, 6h or 1d')
  .transform((v) => Number.parseInt(v, 10) * ({ h: 60, d: 1440 }[v.slice(-1)] ?? 1));
export const labelOption = parseWith(labelSchema, 'label');

export interface ScheduledPolicy<Options extends { label: string; json?: boolean }, Input, Result> {
  /** The command's name (`guard`, `adapt`). */
  command: string;
  /** What the policy is called in messages: "guard", "policy". */
  noun: string;
  /** What its schedule is called in messages: "guard schedule", "adaptation schedule". */
  scheduleNoun: string;
  workflowType: string;
  scheduleId(label: string): string;
  workflowId(label: string, stamp: string): string;
  /** The schedule's memo. */
  purpose(label: string): string;
  /** Minutes between runs when `--every` is not given. */
  defaultEvery: number;
  /** Adds the options of `schedule` and `run`. */
  withOptions(command: Command): Command;
  /** The workflow's input from the options, checked (a UserError when it is not right). */
  input(options: Options): Input | Promise<Input>;
  format(result: Result): string;
}

export function addScheduledPolicyCommands<Options extends { label: string; json?: boolean }, Input, Result>(
  parent: Command,
  p: ScheduledPolicy<Options, Input, Result>,
): void {
  p.withOptions(
    parent
      .command('schedule')
      .description(`create or update the Temporal Schedule that runs the ${p.noun}`)
      .option('--every <duration>', 'how often: minutes, 30m, 6h, 1d', parseWith(minutes, 'every'), p.defaultEvery),
  ).action(async (opts: Options & { every: number }) => {
    const input = await p.input(opts);
    await withClient(async ({ temporal: client, config }) => {
      const scheduleId = p.scheduleId(opts.label);
      const action = {
        type: 'startWorkflow' as const,
        workflowType: p.workflowType,
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
          memo: { purpose: p.purpose(opts.label) },
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

  parent
    .command('trigger')
    .description(`run the scheduled ${p.noun} now and print what it did`)
    .option('-l, --label <label>', 'the label the schedule watches', labelOption, 'production')
    .option('--json', 'print JSON')
    .action(async (opts: { label: string; json?: boolean }) => {
      await withClient(async ({ temporal: client }) => {
        const handle = client.schedule.getHandle(p.scheduleId(opts.label));
        let before: number;
        try {
          before = (await handle.describe()).info.numActionsTaken;
        } catch (err) {
          if (err instanceof ScheduleNotFoundError)
            throw new UserError(
              `no ${p.scheduleNoun} for label ${opts.label}: create it with \`${p.command} schedule\``,
            );
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
        if (!workflowId)
          throw new UserError(`the schedule did not start the ${p.noun} within 20 s: is a worker running?`);
        const result = (await client.workflow.getHandle(workflowId).result()) as Result;
        print({ workflowId, ...result }, !!opts.json, () => `${workflowId}\n${p.format(result)}`);
      });
    });

  p.withOptions(parent.command('run').description(`run the ${p.noun} once now (without a schedule)`)).action(
    async (opts: Options) => {
      const input = await p.input(opts);
      await withClient(async ({ temporal: client, config }) => {
        const result = (await client.workflow.execute(p.workflowType, {
          taskQueue: config.TASK_QUEUE,
          workflowId: p.workflowId(opts.label, idStamp(new Date())),
          args: [input],
        })) as Result;
        print(result, !!opts.json, () => p.format(result));
      });
    },
  );

  parent
    .command('unschedule')
    .description(`remove the ${p.scheduleNoun} of a label`)
    .option('-l, --label <label>', 'the label the schedule watches', labelOption, 'production')
    .action(async (opts: { label: string }) => {
      await withClient(async ({ temporal: client }) => {
        try {
          await client.schedule.getHandle(p.scheduleId(opts.label)).delete();
        } catch (err) {
          if (err instanceof ScheduleNotFoundError) throw new UserError(`no ${p.scheduleNoun} for label ${opts.label}`);
          throw err;
        }
        console.log(`removed schedule ${p.scheduleId(opts.label)}`);
      });
    });
}
