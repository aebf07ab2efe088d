import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type OpenAI from 'openai';
import type { Policy } from '../domain/policy';
import { DomainRefusal, type SchedulingStore } from '../domain/store';
import { runIdOf, type RunTracer } from '../langfuse/tracing';
import { checkModelEndpoint, classifyLlmError, LlmAuthError } from '../llm/chatClient';
import { openAiTools } from '../llm/toolSchemas';
import { pickArm, type Experiment } from '../prompts/experiment';
import { PromptError, resolvePromptBundle, type PromptRegistry } from '../prompts/registry';
import type { PromptBundle } from '../prompts/schema';
import { isToolName, tools, type ToolOutcome } from '../tools/catalog';
import type { ChatInput, ChatOutput } from '../llm/chatTypes';
import { ErrorType } from '../errorTypes';
import { describeZodError } from '../zodIssue';
import { isActivityTool, toolHandlers } from '../tools/handlers';

/**
 * Activities: thin adapters between the workflows and the world. Each is safe to retry: reads are pure,
 * writes carry an idempotency key fixed by the workflow.
 */

export interface ActivityDeps {
  store: SchedulingStore;
  registry: PromptRegistry;
  llm: OpenAI;
  /** Model name used when the prompt config's model should be overridden (LLM_MODEL). */
  modelOverride?: string;
  /** True when the client talks to the offline stand-in: recorded in results. */
  offline: boolean;
  /** An A/B experiment over the `production` label (PROMPT_EXPERIMENT). */
  experiment?: Experiment;
  /** Langfuse traces; absent when tracing is off. */
  tracer?: RunTracer;
  /** Price of 1,000 tokens for the traces' cost (the offline stand-in is free). */
  costPer1kTokens?: number;
}

/** Runs that ask for this label are split between an experiment's arms; any other label is taken as asked. */
export const EXPERIMENT_LABEL = 'production';

export interface ToolCallInput {
  name: string;
  args: unknown;
  runId: string;
  policy: Policy;
  decidedBy: 'prompt' | 'code';
  idempotencyKey?: string;
  candidatesPerAppointment: number;
}

const HEARTBEAT_EVERY_MS = 2_000;

export function createActivities(deps: ActivityDeps) {
  const { store, tracer } = deps;
  /** Tracing never fails an activity: a trace lost is logged, the work goes on. */
  const trace = (emit: (t: RunTracer) => Promise<void>) =>
    tracer
      ? emit(tracer).catch((err: unknown) =>
          Context.current().log.warn('could not record a trace observation', { error: String(err) }),
        )
      : Promise.resolve();

  return {
    /**
     * Resolves name + label to exact versions once per run; the workflow pins the result. Under an experiment
     * the arm (a label) is a pure function of the workflow id, so a retry picks the same one.
     */
    async resolvePrompts(input: { label: string; workflowId?: string }): Promise<PromptBundle> {
      const arm =
        deps.experiment && input.workflowId && input.label === EXPERIMENT_LABEL
          ? pickArm(deps.experiment, input.workflowId)
          : undefined;
      try {
        const bundle = await resolvePromptBundle(deps.registry, arm?.arm ?? input.label);
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
            ...(fallbacks.length > 0
              ? {
                  level: 'WARNING' as const,
                  statusMessage: `local fallback: ${fallbacks.map((p) => `${p.name}: ${p.fallback}`).join('; ')}`,
                }
              : {}),
          }),
        );
        return arm ? { ...bundle, experiment: arm } : bundle;
      } catch (err) {
        if (err instanceof PromptError) throw ApplicationFailure.nonRetryable(err.message, ErrorType.prompt);
        throw err;
      }
    },

    /** Records the provider's unavailability (idempotent) and checks the input against the store. */
    async markProviderUnavailable(input: { providerId: string; date: string; until?: string; reason: string }) {
      try {
        if (input.until !== undefined)
          return store.markUnavailableRange(input.providerId, input.date, input.until, input.reason);
        return store.markUnavailable(input.providerId, input.date, input.reason);
      } catch (err) {
        if (err instanceof DomainRefusal) throw ApplicationFailure.nonRetryable(err.message, ErrorType.invalidInput);
        throw err;
      }
    },

    /**
     * Before anything is written: does the model endpoint accept our key? A refused key fails the run at once
     * (a misconfiguration); an endpoint that is merely down is left to the batches' retries and fallback.
     */
    async checkModel(): Promise<{ reachable: boolean; detail: string }> {
      try {
        return await checkModelEndpoint(deps.llm);
      } catch (err) {
        if (err instanceof LlmAuthError) throw ApplicationFailure.nonRetryable(err.message, ErrorType.llmAuth);
        throw err;
      }
    },

    /** One chat completion. Heartbeats while the model thinks, so a dead worker is noticed quickly. */
    async chatCompletion(input: ChatInput): Promise<ChatOutput> {
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
      const startTime = new Date();
      try {
        const completion = await deps.llm.chat.completions.create(
          {
            model: deps.modelOverride ?? input.model,
            temperature: input.temperature,
            max_tokens: input.maxTokens,
            messages: input.messages as OpenAI.Chat.Completions.ChatCompletionMessageParam[],
            tools: openAiTools(input.tools),
            parallel_tool_calls: true,
          },
          { signal: ctx.cancellationSignal },
        );
        const choice = completion.choices[0];
        if (!choice) throw ApplicationFailure.retryable('the model returned no choice', ErrorType.llmTransient);
        const calls = (choice.message.tool_calls ?? []).flatMap((c) =>
          c.type === 'function' ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }] : [],
        );
        const output: ChatOutput = {
          message: { content: choice.message.content ?? null, tool_calls: calls },
          finish_reason: choice.finish_reason,
          usage: {
            prompt_tokens: completion.usage?.prompt_tokens ?? 0,
            completion_tokens: completion.usage?.completion_tokens ?? 0,
          },
          model: completion.model,
          offline: deps.offline,
        };
        const price = deps.offline ? 0 : (deps.costPer1kTokens ?? 0) / 1000;
        await trace((t) =>
          t.generation({
            runId: runIdOf(ctx.info.workflowExecution?.workflowId ?? 'unknown'),
            name: `chat completion · ${ctx.info.workflowExecution?.workflowId ?? ''}`.trimEnd(),
            input: input.messages,
            output: output.message,
            model: output.model,
            modelParameters: { temperature: input.temperature, max_tokens: input.maxTokens },
            usage: { input: output.usage.prompt_tokens, output: output.usage.completion_tokens },
            cost: { input: output.usage.prompt_tokens * price, output: output.usage.completion_tokens * price },
            ...(input.prompt ? { prompt: input.prompt } : {}),
            metadata: { finish_reason: output.finish_reason, offline: deps.offline, attempt: ctx.info.attempt },
            startTime,
            endTime: new Date(),
          }),
        );
        return output;
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        throw classifyLlmError(err);
      } finally {
        clearInterval(beat);
      }
    },

    /**
     * One tool call, dispatched by name through the catalog. A refusal by the domain or invalid arguments
     * come back as a result the model can read; only infrastructure failures throw (and are retried).
     */
    async callTool(input: ToolCallInput): Promise<ToolOutcome> {
      const startTime = new Date();
      const outcome = runTool(input);
      await trace((t) =>
        t.tool({
          runId: input.runId,
          name: input.name,
          input: input.args,
          output: outcome,
          startTime,
          endTime: new Date(),
          ...(outcome.ok ? {} : { level: 'WARNING' as const, statusMessage: outcome.error }),
        }),
      );
      return outcome;
    },

    /** Does nothing: the floor benchmark measures what Temporal itself costs per activity. */
    async noop(): Promise<void> {},

    /** Writes a human's (or the timeout policy's) decision; the assign guard reads it. Idempotent. */
    async recordApproval(input: {
      appointmentId: string;
      providerId: string;
      decision: 'approved' | 'rejected' | 'timed_out';
      decidedBy: string;
      note?: string;
      runId: string;
    }) {
      const recorded = store.recordApproval(
        input.appointmentId,
        input.providerId,
        input.decision,
        input.decidedBy,
        input.note,
        input.runId,
      );
      await trace((t) =>
        t.event({
          runId: input.runId,
          name: `approval ${input.decision} · ${input.appointmentId} → ${input.providerId}`,
          input,
          output: recorded,
        }),
      );
      return recorded;
    },

    /** The run's outcome, for its trace: the last activity of a run, so the summary is visible in Langfuse. */
    async recordRunSummary(input: { runId: string; summary: Record<string, unknown> }): Promise<void> {
      await trace((t) =>
        t.span({
          runId: input.runId,
          name: 'summary',
          output: input.summary,
          ...(input.summary.status === 'completed'
            ? {}
            : { level: 'WARNING' as const, statusMessage: String(input.summary.status) }),
        }),
      );
    },
  };

  /** The tool call itself (callTool adds its trace). */
  function runTool(input: ToolCallInput): ToolOutcome {
    if (!isToolName(input.name) || !isActivityTool(input.name)) {
      return { ok: false, code: 'unknown_tool', error: `there is no tool named ${input.name}` };
    }
    const def = tools[input.name];
    const args = def.input.safeParse(input.args);
    if (!args.success) {
      return {
        ok: false,
        code: 'invalid_arguments',
        error: `invalid arguments for ${input.name}: ${describeZodError(args.error, '(arguments)')}`,
      };
    }
    try {
      const handler = toolHandlers[input.name] as (a: unknown, c: unknown) => unknown;
      const result = handler(args.data, {
        store,
        policy: input.policy,
        runId: input.runId,
        decidedBy: input.decidedBy,
        idempotencyKey: input.idempotencyKey,
        candidatesPerAppointment: input.candidatesPerAppointment,
      });
      return { ok: true, result: def.result.parse(result) };
    } catch (err) {
      if (err instanceof DomainRefusal) return { ok: false, code: err.code, error: err.message };
      throw err;
    }
  }
}

export type Activities = ReturnType<typeof createActivities>;
