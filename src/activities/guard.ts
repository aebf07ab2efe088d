import { Context } from '@temporalio/activity';
import { GuardRefusal, rollBackRecorded } from '../langfuse/guardRollback';
import type { PromptOps } from '../langfuse/promptOps';
import type { PromptRegistry } from '../prompts/registry';
import { figuresOf, readRuns } from '../report/runReport';
import type { GuardFigures, GuardMove } from '../workflows/guard/guardVerdict';

/**
 * The rollback guard's activities: the figures of a label's current version over a window (read from Temporal
 * visibility and the runs' results, as `report` reads them), and the label's move back (in Langfuse).
 */

export interface GuardDeps {
  registry: PromptRegistry;
  /** Prompt operations in Langfuse, when it is configured: the guard can move labels only there. */
  promptOps?: PromptOps;
  /** The task queue whose runs are judged (the worker's). */
  taskQueue: string;
}

type GuardedPrompt = 'healthcare-orchestrator' | 'scoring-strategy';

export function guardActivities(deps: GuardDeps) {
  /** The version the label is on now: asked of Langfuse afresh when it holds the prompts, else of the registry. */
  async function currentVersion(prompt: GuardedPrompt, label: string): Promise<{ version: number; hash: string }> {
    if (deps.promptOps) {
      const v = (await deps.promptOps.versions(prompt)).find((x) => x.labels.includes(label));
      if (v) return v;
    }
    const r =
      prompt === 'healthcare-orchestrator'
        ? await deps.registry.resolveOrchestrator(label)
        : await deps.registry.resolveScoring(label);
    return { version: r.version, hash: r.hash };
  }

  return {
    async guardFigures(input: { prompt: GuardedPrompt; label: string; since: string }): Promise<GuardFigures> {
      const current = await currentVersion(input.prompt, input.label);
      const runs = await readRuns(Context.current().client, {
        taskQueue: deps.taskQueue,
        label: input.label,
        since: new Date(input.since),
      });
      // Only the runs that followed the version on the label now: those of a version already rolled back are history.
      const pin = (r: (typeof runs)[number]['result']) =>
        input.prompt === 'healthcare-orchestrator' ? r.prompt.orchestrator : r.prompt.scoring;
      const mine = runs.filter((r) => pin(r.result).version === current.version && pin(r.result).hash === current.hash);
      const f = figuresOf(mine);
      return {
        version: current.version,
        hash: current.hash,
        runs: f.runs,
        appointments: f.appointments,
        fallback_rate: f.fallback_rate,
        shadow_runs: f.shadow_runs,
        shadow_disagreement_rate: f.shadow_disagreement_rate,
      };
    },

    /**
     * Moves the label back. A move that cannot be made as things stand is an answer (why); Langfuse not
     * answering is an error, retried.
     */
    async rollBackLabel(input: {
      prompt: GuardedPrompt;
      label: string;
      from: number;
      reason: string;
      guardId: string;
    }): Promise<{ moved: GuardMove } | { refused: string }> {
      if (!deps.promptOps)
        return {
          refused:
            'prompts are local files (no Langfuse configured): move the label in prompts/ by hand; the guard moves labels in Langfuse',
        };
      try {
        return { moved: await rollBackRecorded(deps.promptOps, { ...input, name: input.prompt }) };
      } catch (err) {
        if (err instanceof GuardRefusal) return { refused: err.message };
        throw err;
      }
    },
  };
}
