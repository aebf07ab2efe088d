import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type OpenAI from 'openai';
import type { TokenPrices } from '../config';
import { ErrorType } from '../errorTypes';
import { runIdOf } from '../langfuse/tracing';
import { checkModelEndpoint, classifyLlmError, LlmAuthError } from '../llm/chatClient';
import type { ChatInput, ChatOutput } from '../llm/chatTypes';
import { openAiTools } from '../llm/toolSchemas';
import type { Trace } from './tracing';

export interface LlmDeps {
  llm: OpenAI;
  /** Model name used when the prompt config's model should be overridden (LLM_MODEL). */
  modelOverride?: string;
  /** True when the client talks to the offline stand-in: recorded in results. */
  offline: boolean;
  /** Token prices for the traces' cost; without them Langfuse prices by model (the offline stand-in is free). */
  prices?: TokenPrices;
}

const HEARTBEAT_EVERY_MS = 2_000;

export function llmActivities(deps: LlmDeps, trace: Trace) {
  return {
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
        if (!choice)
          throw ApplicationFailure.create({
            message: 'the model returned no choice',
            type: ErrorType.llmTransient,
            details: [{ attempt: ctx.info.attempt }],
          });
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
          attempt: ctx.info.attempt,
        };
        const prices = deps.offline ? { inputPer1k: 0, outputPer1k: 0 } : deps.prices;
        await trace((t) =>
          t.generation({
            runId: runIdOf(ctx.info.workflowExecution?.workflowId ?? 'unknown'),
            name: `chat completion · ${ctx.info.workflowExecution?.workflowId ?? ''}`.trimEnd(),
            input: input.messages,
            output: output.message,
            model: output.model,
            modelParameters: { temperature: input.temperature, max_tokens: input.maxTokens },
            usage: { input: output.usage.prompt_tokens, output: output.usage.completion_tokens },
            ...(prices
              ? {
                  cost: {
                    input: (output.usage.prompt_tokens * prices.inputPer1k) / 1000,
                    output: (output.usage.completion_tokens * prices.outputPer1k) / 1000,
                  },
                }
              : {}),
            ...(input.prompt ? { prompt: input.prompt } : {}),
            metadata: { finish_reason: output.finish_reason, offline: deps.offline, attempt: ctx.info.attempt },
            startTime,
            endTime: new Date(),
          }),
        );
        return output;
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        throw classifyLlmError(err, ctx.info.attempt);
      } finally {
        clearInterval(beat);
      }
    },
  };
}
