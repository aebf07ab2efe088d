import { Context } from '@temporalio/activity';
import type { RunTracer } from '../langfuse/tracing';

/**
 * Traces are written from activities only (never from workflow code, so a replay writes nothing), and a trace
 * never fails the work: one that cannot be recorded is logged, and the activity goes on.
 */
export type Trace = (emit: (t: RunTracer) => Promise<void>) => Promise<void>;

export function traceWith(tracer: RunTracer | undefined): Trace {
  return (emit) =>
    tracer
      ? emit(tracer).catch((err: unknown) =>
          Context.current().log.warn('could not record a trace observation', { error: String(err) }),
        )
      : Promise.resolve();
}
