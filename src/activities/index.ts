import type { SchedulingStore } from '../domain/store';
import type { RunTracer } from '../langfuse/tracing';
import { adaptActivities } from './adapt';
import { guardActivities, type GuardDeps } from './guard';
import { llmActivities, type LlmDeps } from './llm';
import { mcpActivities } from './mcp';
import { promptActivities, type PromptDeps } from './prompts';
import { toolActivities } from './tools';
import { outcomeActivities, startFollowUp, type OutcomeSettings } from './outcomes';
import type { OutcomeScorer } from '../langfuse/outcomeScores';
import { traceWith } from './tracing';

/**
 * Activities: thin adapters between the workflows and the world, one file per kind (llm, tools, prompts,
 * tracing, guard, adapt). Each is safe to retry: reads are pure, writes carry an idempotency key fixed by the workflow.
 */

interface ActivityDeps extends LlmDeps, PromptDeps, Omit<GuardDeps, 'registry'> {
  store: SchedulingStore;
  /** Langfuse traces; absent when tracing is off. */
  tracer?: RunTracer;
  /** Patients' follow-ups; off when absent. */
  outcomes?: OutcomeSettings;
  /** Outcome scores in Langfuse, when it is configured. */
  scorer?: OutcomeScorer;
}

const FOLLOW_UPS_OFF: OutcomeSettings = {
  enabled: false,
  responseMs: 0,
  maxReoffers: 0,
  satisfactionMs: 0,
  escalateWaitlistDays: 0,
  taskQueue: '',
};

export function createActivities(deps: ActivityDeps) {
  const trace = traceWith(deps.tracer);
  const outcomeDeps = {
    store: deps.store,
    outcomes: deps.outcomes ?? FOLLOW_UPS_OFF,
    ...(deps.scorer ? { scorer: deps.scorer } : {}),
  };
  return {
    ...promptActivities(deps, trace),
    ...llmActivities(deps, trace),
    ...toolActivities(deps.store, trace, {
      onOffer: (appointmentId) => startFollowUp(outcomeDeps, appointmentId),
      escalateWaitlistDays: deps.outcomes?.escalateWaitlistDays,
    }),
    ...outcomeActivities(outcomeDeps),
    ...guardActivities(deps),
    ...adaptActivities(deps.store),
    ...mcpActivities(trace),
  };
}

export type Activities = ReturnType<typeof createActivities>;
