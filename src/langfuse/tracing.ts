import { createHash } from 'node:crypto';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { context, TraceFlags, type SpanContext } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { LangfuseSpanProcessor } from '@langfuse/otel';
import {
  createTraceId,
  propagateAttributes,
  setLangfuseTracerProvider,
  startObservation,
  type ObservationLevel,
} from '@langfuse/tracing';
import type { LangfuseConnection } from './client';
import { maskValues, pseudonymiseIds } from './masking';
import type { PatientPseudonyms } from './patientPseudonyms';

/**
 * Langfuse traces, written from activities only (never from workflow code, so a replay writes nothing).
 * A reassignment is one trace: its id is derived from the workflow id, so every activity of the run, in
 * any worker process, joins the same trace; the session is the workflow id.
 */

interface TracingOptions {
  connection: LangfuseConnection;
  /** Replace patient names, phone numbers and notes (TRACE_MASKING=on). */
  masking: boolean;
  /** Patient names to mask wherever they occur. */
  names: () => string[] | Promise<string[]>;
  /** Patient ids to pseudonymise wherever they occur in text. */
  patientIds?: () => Iterable<string> | Promise<Iterable<string>>;
  /** The keyed hash that replaces a patient id (masking on); without it, patient ids are masked outright. */
  pseudonyms?: PatientPseudonyms;
}

interface Timed {
  runId: string;
  name: string;
  input?: unknown;
  output?: unknown;
  metadata?: Record<string, unknown>;
  level?: ObservationLevel;
  statusMessage?: string;
  startTime?: Date;
  endTime?: Date;
  /** Trace-level attributes this observation sets: tags to filter by, the run's input and output. */
  trace?: { tags?: string[]; input?: unknown; output?: unknown };
}

/** The tags a run's trace carries, to filter by in Langfuse's UI: the prompt version, the mode, the A/B arm. */
export function runTags(run: {
  prompt: { name: string; version: number };
  mode?: string;
  experiment?: { experiment: string; arm: string };
}): string[] {
  return [
    `prompt:${run.prompt.name}@${run.prompt.version}`,
    ...(run.mode ? [`mode:${run.mode}`] : []),
    ...(run.experiment ? [`experiment:${run.experiment.experiment}`, `arm:${run.experiment.arm}`] : []),
  ];
}

interface GenerationRecord extends Timed {
  model: string;
  modelParameters: Record<string, string | number>;
  /** cached: input tokens served from the endpoint's prompt cache (Langfuse's input_cached_tokens). */
  usage: { input: number; output: number; cached?: number };
  /** Absent when no prices are configured: Langfuse then prices the generation by its model. */
  cost?: { input: number; output: number };
  /** The pinned prompt; a local fallback is marked so Langfuse does not link it to a version. */
  prompt?: { name: string; version: number; source: 'local' | 'langfuse'; fallback?: string };
}

/** Deterministic ids: the trace from the workflow id (as the SDK's createTraceId(seed) does), a virtual root span beside it. */
async function traceContextFor(runId: string): Promise<SpanContext> {
  const traceId = await createTraceId(runId);
  const spanId = createHash('sha256').update(`${runId}:root`).digest('hex').slice(0, 16);
  return { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true };
}

/** A batch's activities belong to its parent's trace. */
export { runIdOf } from '../workflowIds';

export class RunTracer {
  private constructor(
    private readonly provider: BasicTracerProvider,
    private readonly processor: LangfuseSpanProcessor,
    private readonly options: TracingOptions,
  ) {}

  static create(options: TracingOptions): RunTracer {
    // propagateAttributes carries the session id through the OTel context: it needs a real context manager.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const processor = new LangfuseSpanProcessor({
      baseUrl: options.connection.baseUrl,
      publicKey: options.connection.publicKey,
      secretKey: options.connection.secretKey,
      mediaUploadEnabled: false,
      // No mask here: the SDK's masks only input, output and unflattened metadata; emit() masks every field.
    });
    const provider = new BasicTracerProvider({ spanProcessors: [processor] });
    setLangfuseTracerProvider(provider);
    return new RunTracer(provider, processor, options);
  }

  async generation(g: GenerationRecord): Promise<void> {
    await this.emit(
      g,
      'generation',
      {
        model: g.model,
        modelParameters: g.modelParameters,
        usageDetails: {
          input: g.usage.input,
          output: g.usage.output,
          total: g.usage.input + g.usage.output,
          ...(g.usage.cached !== undefined ? { input_cached_tokens: g.usage.cached } : {}),
        },
        ...(g.cost
          ? { costDetails: { input: g.cost.input, output: g.cost.output, total: g.cost.input + g.cost.output } }
          : {}),
        ...(g.prompt
          ? { prompt: { name: g.prompt.name, version: g.prompt.version, isFallback: g.prompt.source !== 'langfuse' } }
          : {}),
      },
      g.prompt
        ? {
            prompt: `${g.prompt.name} v${g.prompt.version}`,
            prompt_source: g.prompt.source,
            ...(g.prompt.fallback ? { prompt_fallback: g.prompt.fallback } : {}),
          }
        : {},
    );
  }

  tool(t: Timed): Promise<void> {
    return this.emit(t, 'tool');
  }

  event(e: Timed): Promise<void> {
    return this.emit(e, 'event');
  }

  span(s: Timed): Promise<void> {
    return this.emit(s, 'span');
  }

  flush(): Promise<void> {
    return this.processor.forceFlush();
  }

  /** Flushes what is buffered and stops; called when the worker shuts down. */
  async shutdown(): Promise<void> {
    await this.provider.shutdown();
    setLangfuseTracerProvider(null);
  }

  private async emit(
    o: Timed,
    asType: 'generation' | 'tool' | 'event' | 'span',
    extra: Record<string, unknown> = {},
    metadata: Record<string, unknown> = {},
  ): Promise<void> {
    const parentSpanContext = await traceContextFor(o.runId);
    if (this.options.masking) {
      // Everything that leaves for Langfuse: the observation's name, input, output, metadata and status, and the
      // trace's tags, input and output. The session and trace name are the workflow id (the trace id a hash of
      // it): it holds no patient data by design, so only patient ids are looked for in it. Names and ids are
      // read once per observation.
      const names = await this.options.names();
      const ids = [...((await this.options.patientIds?.()) ?? [])];
      const mask = {
        names: () => names,
        patientIds: () => ids,
        ...(this.options.pseudonyms ? { pseudonym: (id: string) => this.options.pseudonyms!.of(id) } : {}),
      };
      const runId = pseudonymiseIds(o.runId, mask);
      ({ o, extra, metadata } = maskValues({ o, extra, metadata }, mask) as {
        o: Timed;
        extra: Record<string, unknown>;
        metadata: Record<string, unknown>;
      });
      o = { ...o, runId };
    }
    const attributes = {
      input: o.input,
      output: o.output,
      metadata: { workflow_id: o.runId, ...metadata, ...o.metadata },
      ...(o.level ? { level: o.level } : {}),
      ...(o.statusMessage ? { statusMessage: o.statusMessage } : {}),
      ...extra,
    };
    const propagated = {
      sessionId: o.runId,
      traceName: `reassignment ${o.runId}`,
      ...(o.trace?.tags ? { tags: o.trace.tags } : {}),
    };
    propagateAttributes(propagated, () => {
      const observation = startObservation(o.name, attributes as never, {
        asType: asType as never,
        parentSpanContext,
        startTime: o.startTime,
      });
      if (o.trace?.input !== undefined || o.trace?.output !== undefined)
        observation.setTraceIO({ input: o.trace.input, output: o.trace.output });
      // An event ends itself at once; the others end at the time the work ended.
      if (asType !== 'event') observation.end(o.endTime);
    });
  }
}
