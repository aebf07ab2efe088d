import type { Command } from 'commander';
import { guardScheduleId, guardWorkflowId } from '../workflowIds';
import { guardInputSchema, type GuardInput, type GuardResult } from '../workflows/guard/guardVerdict';
import { addScheduledPolicyCommands, count, labelOption, minutes, rate } from './scheduledPolicy';
import { parseWith, UserError } from './session';

/**
 * `guard`: the automatic rollback guard. `schedule` creates (or updates) a Temporal Schedule that runs the
 * rollbackGuard workflow every so often; `trigger` runs the scheduled guard now; `run` runs one guard
 * workflow and prints what it saw; `unschedule` removes the schedule. The limits travel in the workflow's
 * input, checked with its own schema.
 */

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
    .option('-l, --label <label>', 'the label to watch and move back', labelOption, 'production')
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

export function addGuardCommands(program: Command): void {
  const guard = program
    .command('guard')
    .description('the automatic rollback guard: a Temporal Schedule that moves a label back when its runs go wrong');
  addScheduledPolicyCommands(guard, {
    command: 'guard',
    noun: 'guard',
    scheduleNoun: 'guard schedule',
    workflowType: 'rollbackGuard',
    scheduleId: guardScheduleId,
    workflowId: guardWorkflowId,
    purpose: (label) => `rollback guard of label ${label}`,
    defaultEvery: 15,
    withOptions: withGuardOptions,
    input: guardInput,
    format: formatGuard,
  });
}
