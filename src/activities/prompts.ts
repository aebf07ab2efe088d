import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../errorTypes';
import { runIdOf, runTags } from '../langfuse/tracing';
import { pickArm, routeRun, type Experiment } from '../prompts/experiment';
import {
  ORCHESTRATOR_PROMPT,
  PromptError,
  resolvePromptBundle,
  SCORING_PROMPT,
  type PromptRegistry,
} from '../prompts/registry';
import type { PromptBundle } from '../prompts/schema';
import type { Trace } from './tracing';
import type { OutcomeRecords } from '../domain/outcomes';

/** Runs that ask for this label are split between an experiment's arms; any other label is taken as asked. */
const EXPERIMENT_LABEL = 'production';

export interface PromptDeps {
  registry: PromptRegistry;
  /** An A/B experiment over the `production` label (PROMPT_EXPERIMENT). */
  experiment?: Experiment;
  /** The share of routed runs (mode auto) that go prompt-driven (ROLLOUT_PROMPT_SHARE; all when absent). */
  rolloutShare?: number;
  /** Where each run's pinned prompts are recorded, so the outcomes of its decisions can be attributed. */
  store?: OutcomeRecords;
}

export function promptActivities(deps: PromptDeps, trace: Trace) {
  return {
    /**
     * Resolves name + label to exact versions once per run; the workflow pins the result. Under an experiment
     * the arm (a label) is a pure function of the workflow id, so a retry picks the same one.
     */
    async resolvePrompts(input: {
      label: string;
      workflowId?: string;
      /** The run, for its trace's input and tags (absent in histories of earlier versions). */
      mode?: string;
      /** Pick the run's path by the rollout share (mode auto). */
      route?: boolean;
      run?: { providerId: string; date: string; until?: string; reason: string };
      /** Pin what that run pinned instead of resolving (a re-offer decides with the first decision's prompts). */
      pinFrom?: string;
      /** false: a preview's, which records nothing in the scheduling database (no run's pinned prompts). */
      record?: boolean;
    }): Promise<PromptBundle> {
      if (input.pinFrom !== undefined) {
        const earlier = await deps.store?.runPrompts(input.pinFrom);
        if (!earlier)
          throw ApplicationFailure.nonRetryable(
            `run ${input.pinFrom} has no pinned prompts on record to reuse`,
            ErrorType.prompt,
          );
        const { rollout: _rollout, ...bundle } = earlier.bundle as PromptBundle;
        await recordPinned(deps, input, bundle);
        return bundle;
      }
      const arm =
        deps.experiment && input.workflowId && input.label === EXPERIMENT_LABEL
          ? pickArm(deps.experiment, input.workflowId)
          : undefined;
      try {
        const asked = arm?.arm ?? input.label;
        const bundle = await resolvePromptBundle(deps.registry, asked, await routesFor(deps, asked));
        const fallbacks = [bundle.orchestrator, bundle.scoring].filter((p) => p.fallback);
        for (const p of fallbacks)
          Context.current().log.warn('prompt from the local file instead of Langfuse', {
            prompt: p.name,
            version: p.version,
            reason: p.fallback,
          });
        await trace((t) =>
          t.span({
            runId: runIdOf(Context.current().info.workflowExecution?.workflowId ?? input.workflowId ?? 'unknown'),
            name: 'resolve prompts',
            input: { label: input.label, ...(arm ? { experiment: arm.experiment, arm: arm.arm } : {}) },
            output: { orchestrator: bundle.orchestrator, scoring: bundle.scoring },
            trace: {
              tags: runTags({ prompt: bundle.orchestrator, mode: input.mode, experiment: arm }),
              ...(input.run ? { input: { ...input.run, label: input.label, mode: input.mode } } : {}),
            },
            ...(fallbacks.length > 0
              ? {
                  level: 'WARNING' as const,
                  statusMessage: `local fallback: ${fallbacks.map((p) => `${p.name}: ${p.fallback}`).join('; ')}`,
                }
              : {}),
          }),
        );
        const rollout =
          input.route && input.workflowId ? routeRun(input.workflowId, deps.rolloutShare ?? 1) : undefined;
        const pinned: PromptBundle = {
          ...bundle,
          ...(arm ? { experiment: arm } : {}),
          ...(rollout ? { rollout } : {}),
        };
        if (input.record !== false) await recordPinned(deps, input, pinned);
        return pinned;
      } catch (err) {
        if (err instanceof PromptError) throw ApplicationFailure.nonRetryable(err.message, ErrorType.prompt);
        throw err;
      }
    },
  };
}

/** Where label routes send the label asked for, per prompt (docs/adaptation.md): none without a store. */
async function routesFor(deps: PromptDeps, label: string): Promise<{ orchestrator?: string; scoring?: string }> {
  if (!deps.store) return {};
  const orchestrator = (await deps.store.labelRoute(ORCHESTRATOR_PROMPT, label))?.follows;
  const scoring = (await deps.store.labelRoute(SCORING_PROMPT, label))?.follows;
  return { ...(orchestrator ? { orchestrator } : {}), ...(scoring ? { scoring } : {}) };
}

/** Records what the run pinned, under its workflow id, for the outcome figures (idempotent: a retry adds nothing). */
async function recordPinned(
  deps: PromptDeps,
  input: { workflowId?: string; mode?: string },
  bundle: PromptBundle,
): Promise<void> {
  const runId = input.workflowId ?? Context.current().info.workflowExecution?.workflowId;
  if (!deps.store || !runId) return;
  await deps.store.recordRunPrompts({
    runId,
    mode: bundle.rollout?.path ?? input.mode ?? 'prompt',
    prompt: bundle.orchestrator,
    scoring: bundle.scoring,
    ...(bundle.experiment ? { experiment: bundle.experiment } : {}),
    bundle,
  });
}
