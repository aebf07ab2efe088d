import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfig, type AppConfig } from '../config';
import { LabelRouteRefusal, type LabelRoute, type LabelRouteMove } from '../domain/labelRoutes';
import { targetExists, targetOf } from '../db/open';
import { SchedulingStore } from '../domain/store';
import { PROMPT_NAMES, PromptError, SCORING_PROMPT } from '../prompts/registry';
import { promptRegistryFor } from '../prompts/registryFromConfig';
import { adaptScheduleId, adaptWorkflowId } from '../workflowIds';
import { adaptInputSchema, type AdaptInput, type AdaptResult } from '../workflows/adapt/adaptVerdict';
import { addScheduledPolicyCommands, count, labelOption as label, minutes, rate } from './scheduledPolicy';
import { parseWith, print, UserError } from './session';

/**
 * `adapt`: the adaptation policy (docs/adaptation.md). `schedule` creates (or updates) a Temporal Schedule that
 * runs the adaptationPolicy workflow every so often; `trigger` runs the scheduled policy now; `run` runs it once
 * and prints what it saw (`--dry-run`: and moves nothing); `status` shows the route and its moves; `pin` and
 * `unpin` let a person hold a route where it is (or move it) and hand it back to the policy.
 */

const per100 = z.coerce.number().min(0, 'must be 0 or more').max(10_000, 'must be at most 10000');

interface AdaptOptions {
  label: string;
  conservative?: string;
  aggressive?: string;
  window?: number;
  minOutcomes?: number;
  minSatisfactionScores?: number;
  minSatisfaction?: number;
  maxEscalations?: number;
  recoverSatisfaction?: number;
  recoverEscalations?: number;
  cooldown?: number;
  dryRun?: boolean;
  json?: boolean;
}

function withAdaptOptions(command: Command): Command {
  return command
    .option('-l, --label <label>', 'the label whose route moves', label, 'production')
    .option('--conservative <label>', 'the strategy bad outcomes move to (default conservative)', label)
    .option('--aggressive <label>', 'the strategy recovered outcomes move back to (default aggressive)', label)
    .option(
      '--window <duration>',
      'read the offers made within this much time: minutes, 30m, 6h, 1d (default 7d)',
      parseWith(minutes, 'window'),
    )
    .option(
      '--min-outcomes <n>',
      'judge nothing with fewer answered offers (default 20)',
      parseWith(count, 'min-outcomes'),
    )
    .option(
      '--min-satisfaction-scores <n>',
      'judge satisfaction only with this many scores (default 5)',
      parseWith(count, 'min-satisfaction-scores'),
    )
    .option(
      '--min-satisfaction <rate>',
      'move to conservative below this mean satisfaction, score/5 (default 0.8)',
      parseWith(rate, 'min-satisfaction'),
    )
    .option(
      '--max-escalations <n>',
      'move to conservative above this many escalations per 100 offered appointments (default 10)',
      parseWith(per100, 'max-escalations'),
    )
    .option(
      '--recover-satisfaction <rate>',
      'move back only at or above this satisfaction (default 0.85)',
      parseWith(rate, 'recover-satisfaction'),
    )
    .option(
      '--recover-escalations <n>',
      'move back only at or below this many escalations per 100 (default half of --max-escalations)',
      parseWith(per100, 'recover-escalations'),
    )
    .option(
      '--cooldown <duration>',
      'no move back within this long of the last move: minutes, 30m, 6h, 1d (default 1d)',
      parseWith(minutes, 'cooldown'),
    )
    .option('--dry-run', 'judge and report only: move nothing')
    .option('--json', 'print JSON');
}

const optionNames: Record<string, string> = {
  windowMinutes: 'window',
  minOutcomes: 'min-outcomes',
  recoverSatisfaction: 'recover-satisfaction',
  recoverEscalationsPer100: 'recover-escalations',
  aggressive: 'aggressive',
};

/** The workflow's input, checked with its own schema, and its strategy labels against the prompt registry. */
async function adaptInput(o: AdaptOptions, config: AppConfig): Promise<AdaptInput> {
  const input: AdaptInput = {
    label: o.label,
    ...(o.conservative !== undefined ? { conservative: o.conservative } : {}),
    ...(o.aggressive !== undefined ? { aggressive: o.aggressive } : {}),
    ...(o.window !== undefined ? { windowMinutes: o.window } : {}),
    ...(o.minOutcomes !== undefined ? { minOutcomes: o.minOutcomes } : {}),
    ...(o.minSatisfactionScores !== undefined ? { minSatisfactionScores: o.minSatisfactionScores } : {}),
    ...(o.minSatisfaction !== undefined ? { minSatisfaction: o.minSatisfaction } : {}),
    ...(o.maxEscalations !== undefined ? { maxEscalationsPer100: o.maxEscalations } : {}),
    ...(o.recoverSatisfaction !== undefined ? { recoverSatisfaction: o.recoverSatisfaction } : {}),
    ...(o.recoverEscalations !== undefined ? { recoverEscalationsPer100: o.recoverEscalations } : {}),
    ...(o.cooldown !== undefined ? { cooldownMinutes: o.cooldown } : {}),
    ...(o.dryRun ? { dryRun: true } : {}),
  };
  const parsed = adaptInputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? 'input');
    throw new UserError(`${optionNames[key] ?? key}: ${issue.message}`);
  }
  for (const l of new Set([parsed.data.label, parsed.data.conservative, parsed.data.aggressive]))
    await requireLabel(config, SCORING_PROMPT, l);
  return input;
}

/** A label the prompt's registry does not know is a one-line error: a route to it would break every run. */
async function requireLabel(config: AppConfig, prompt: string, l: string): Promise<void> {
  const registry = promptRegistryFor(config);
  try {
    if (prompt === SCORING_PROMPT) await registry.resolveScoring(l);
    else await registry.resolveOrchestrator(l);
  } catch (err) {
    if (err instanceof PromptError) throw new UserError(err.message);
    throw err;
  }
}

const pct = (r: number | null) => (r === null ? '-' : `${(r * 100).toFixed(1)}%`);

function formatResult(r: AdaptResult): string {
  const f = r.figures;
  return [
    `adaptation policy · ${r.prompt} label ${r.label} follows ${f.follows}${f.pinned_by ? ` (pinned by ${f.pinned_by})` : ''} · offers since ${f.since}${r.dry_run ? ' · dry run' : ''}`,
    `  ${f.runs} run(s), ${f.offered_appointments} offered appointment(s), ${f.answered} answered, acceptance ${pct(f.acceptance_rate)}, satisfaction ${f.satisfaction === null ? '-' : f.satisfaction.toFixed(2)} (${f.satisfaction_count} scores), escalations ${f.escalations} (${f.escalations_per_100 === null ? '-' : f.escalations_per_100.toFixed(1)} per 100)`,
    ...r.verdict.reasons.map((x) => `  ${x}`),
    r.moved ? `  moved: ${r.label} ${r.moved.from} → ${r.moved.to} (move #${r.moved.id})` : '  route not moved',
  ].join('\n');
}

export function formatRoute(route: LabelRoute | undefined, prompt: string, l: string): string {
  if (!route) return `${prompt}  ${l} → ${l} (no route: the label resolves as itself)`;
  return `${prompt}  ${l} → ${route.follows}${route.pinned_by ? `  pinned by ${route.pinned_by} at ${route.pinned_at}` : ''}`;
}

export function formatMove(m: LabelRouteMove): string {
  return `${m.created_at}  ${m.label}: ${m.from_label ?? '-'} → ${m.to_label}  by ${m.moved_by}  ${m.reason}`;
}

/** The scheduling database on this machine, where routes live (the embedded mode's, or the worker's shared file). */
async function withStore<T>(fn: (store: SchedulingStore) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const target = targetOf(config);
  if (!targetExists(target)) throw new UserError(`no scheduling database at ${config.DB_PATH}`);
  const store = await SchedulingStore.open(target, config);
  try {
    return await fn(store);
  } catch (err) {
    if (err instanceof LabelRouteRefusal) throw new UserError(err.message);
    throw err;
  } finally {
    await store.close();
  }
}

const promptName = parseWith(z.enum(PROMPT_NAMES), 'prompt');

export function addAdaptCommands(program: Command): void {
  const adapt = program
    .command('adapt')
    .description(
      'the adaptation policy: a Temporal Schedule that moves which scoring strategy a label follows on patient outcomes',
    );
  addScheduledPolicyCommands(adapt, {
    command: 'adapt',
    noun: 'policy',
    scheduleNoun: 'adaptation schedule',
    workflowType: 'adaptationPolicy',
    scheduleId: adaptScheduleId,
    workflowId: adaptWorkflowId,
    purpose: (l) => `adaptation policy of scoring-strategy label ${l}`,
    defaultEvery: 60,
    withOptions: withAdaptOptions,
    input: (opts: AdaptOptions) => adaptInput(opts, loadConfig()),
    format: formatResult,
  });

  adapt
    .command('status')
    .description("a label's route (what it follows, who pinned it) and its latest moves")
    .option('-l, --label <label>', 'the label of scoring-strategy', label, 'production')
    .option('-n, --moves <n>', 'how many moves to show', parseWith(count, 'moves'), 10)
    .option('--json', 'print JSON')
    .action(async (opts: { label: string; moves: number; json?: boolean }) => {
      await withStore(async (store) => {
        const route = await store.labelRoute(SCORING_PROMPT, opts.label);
        const moves = await store.labelRouteMoves(SCORING_PROMPT, opts.label, opts.moves);
        print(
          {
            prompt: SCORING_PROMPT,
            label: opts.label,
            follows: route?.follows ?? opts.label,
            route: route ?? null,
            moves,
          },
          !!opts.json,
          () =>
            [
              formatRoute(route, SCORING_PROMPT, opts.label),
              ...(moves.length > 0
                ? ['moves (newest first):', ...moves.map((m) => `  ${formatMove(m)}`)]
                : ['no moves']),
            ].join('\n'),
        );
      });
    });

  adapt
    .command('pin')
    .description('hold a label where it is, or move it with --to: the policy never moves a pinned route')
    .argument('<prompt>', 'the prompt (scoring-strategy)', promptName)
    .argument('<label>', 'the label runs ask for', label)
    .option('--to <label>', 'the label it follows from now on (default: where it is)', label)
    .option('--by <name>', 'who pins', process.env.USER ?? 'operator')
    .option('--reason <text>', 'why, for the record')
    .option('--json', 'print JSON')
    .action(async (prompt: string, l: string, opts: { to?: string; by: string; reason?: string; json?: boolean }) => {
      if (opts.to !== undefined) await requireLabel(loadConfig(), prompt, opts.to);
      await withStore(async (store) => {
        const move = await store.pinLabelRoute({
          prompt,
          label: l,
          by: opts.by,
          ...(opts.to !== undefined ? { to: opts.to } : {}),
          ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
        });
        print(move, !!opts.json, () => `${prompt}: ${l} → ${move.to_label}, pinned by ${opts.by}`);
      });
    });

  adapt
    .command('unpin')
    .description('hand a pinned label back to the policy (it stays where it is until the policy moves it)')
    .argument('<prompt>', 'the prompt (scoring-strategy)', promptName)
    .argument('<label>', 'the label runs ask for', label)
    .option('--by <name>', 'who unpins', process.env.USER ?? 'operator')
    .option('--reason <text>', 'why, for the record')
    .option('--json', 'print JSON')
    .action(async (prompt: string, l: string, opts: { by: string; reason?: string; json?: boolean }) => {
      await withStore(async (store) => {
        const move = await store.unpinLabelRoute({
          prompt,
          label: l,
          by: opts.by,
          ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
        });
        print(move, !!opts.json, () => `${prompt}: ${l} → ${move.to_label}, unpinned by ${opts.by}`);
      });
    });
}
