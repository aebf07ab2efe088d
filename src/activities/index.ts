import type { SchedulingStore } from '../domain/store';
import type { RunTracer } from '../langfuse/tracing';
import { guardActivities, type GuardDeps } from './guard';
import { llmActivities, type LlmDeps } from './llm';
import { mcpActivities } from './mcp';
import { promptActivities, type PromptDeps } from './prompts';
import { toolActivities } from './tools';
import { traceWith } from './tracing';

/**
 * Activities: thin adapters between the workflows and the world, one file per kind (llm, tools, prompts,
 * tracing, guard). Each is safe to retry: reads are pure, writes carry an idempotency key fixed by the workflow.
 */

interface ActivityDeps extends LlmDeps, PromptDeps, Omit<GuardDeps, 'registry'> {
  store: SchedulingStore;
  /** Langfuse traces; absent when tracing is off. */
  tracer?: RunTracer;
}

export function createActivities(deps: ActivityDeps) {
  const trace = traceWith(deps.tracer);
  return {
    ...promptActivities(deps, trace),
    ...llmActivities(deps, trace),
    ...toolActivities(deps.store, trace),
    ...guardActivities(deps),
    ...mcpActivities(trace),
  };
}

export type Activities = ReturnType<typeof createActivities>;
