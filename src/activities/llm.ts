import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type OpenAI from 'openai';
import type { TokenPrices } from '../config';
import { ErrorType } from '../errorTypes';
import { runIdOf } from '../langfuse/tracing';
import { checkModelEndpoint, classifyLlmError, LlmAuthError } from '../llm/chatClient';
import type { ChatInput, ChatOutput } from '../llm/chatTypes';
import { readSchemaReply, recoverTextToolCalls, toSchemaConversation, turnSchema } from '../llm/jsonToolCalls';
import type { LlmRateLimiter } from '../llm/rateLimit';
import { openAiTools } from '../llm/toolSchemas';
import { countTokens } from 'gpt-tokenizer';
import type { Trace } from './tracing';

export interface LlmDeps {
  llm: OpenAI;
  /** Model name used when the prompt config's model should be overridden (LLM_MODEL). */
  modelOverride?: string;
  /** True when the client talks to the offline stand-in: recorded in results. */
  offline: boolean;
  /** Token prices for the traces' cost; without them Langfuse prices by model (the offline stand-in is free). */
  prices?: TokenPrices;
  /** LLM_MAX_RPM / LLM_MAX_TPM: calls wait for room in the rate budget before they are sent. */
  limiter?: LlmRateLimiter;
}

type CompletionRequest = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;

/**
 * The request for one turn. Native: the conversation and the tools. json_schema: the conversation written out
 * for a model without tool support, and a response_format schema narrowed to what this turn may name.
 */
function completionRequest(input: ChatInput, model: string): CompletionRequest {
  const base = { model, temperature: input.temperature, max_tokens: input.maxTokens };
  if (input.toolCalling !== 'json_schema' || !input.constraints)
    return {
      ...base,
      messages: input.messages as OpenAI.Chat.Completions.ChatCompletionMessageParam[],
      tools: [
        ...openAiTools(input.tools),
        ...(input.externalTools ?? []).map((t) => ({ type: 'function' as const, function: t })),
      ],
      parallel_tool_calls: true,
    };
  const { name, schema } = turnSchema(input.constraints, input.tools);
  return {
    ...base,
    messages: toSchemaConversation(input.messages, input.tools) as OpenAI.Chat.Completions.ChatCompletionMessageParam[],
    response_format: { type: 'json_schema', json_schema: { name, schema, strict: true } },
  };
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
      const mode = input.toolCalling === 'json_schema' && input.constraints ? 'json_schema' : 'native';
      const request = completionRequest(input, deps.modelOverride ?? input.model);
      try {
        const settle = deps.limiter?.active
          ? await deps.limiter.admit(countTokens(JSON.stringify(request.messages)), ctx.cancellationSignal)
          : undefined;
        const completion = await deps.llm.chat.completions.create(request, { signal: ctx.cancellationSignal });
        settle?.((completion.usage?.prompt_tokens ?? 0) + (completion.usage?.completion_tokens ?? 0));
        const choice = completion.choices[0];
        if (!choice)
          throw ApplicationFailure.create({
            message: 'the model returned no choice',
            type: ErrorType.llmTransient,
            details: [{ attempt: ctx.info.attempt }],
          });
        const content = choice.message.content ?? null;
        const native = (choice.message.tool_calls ?? []).flatMap((c) =>
          c.type === 'function' ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }] : [],
        );
        const turn = input.messages.filter((m) => m.role === 'assistant').length + 1;
        let message: ChatOutput['message'] = { content, tool_calls: native };
        let recovered = 0;
        let formatError: string | undefined;
        if (mode === 'json_schema') {
          const read = readSchemaReply(content, turn);
          message = { content: read.content, tool_calls: read.tool_calls };
          formatError = read.format_error;
        } else if (native.length === 0) {
          // Tool calls written as text: recovered (and counted), not taken for prose.
          const calls = recoverTextToolCalls(content);
          if (calls) {
            recovered = calls.length;
            message = { content: null, tool_calls: calls.map((c, i) => ({ id: `text_${turn}_${i}`, ...c })) };
          }
        }
        const cached = completion.usage?.prompt_tokens_details?.cached_tokens;
        const output: ChatOutput = {
          message,
          finish_reason: choice.finish_reason,
          usage: {
            prompt_tokens: completion.usage?.prompt_tokens ?? 0,
            completion_tokens: completion.usage?.completion_tokens ?? 0,
            ...(typeof cached === 'number' ? { cached_tokens: cached } : {}),
          },
          model: completion.model,
          offline: deps.offline,
          attempt: ctx.info.attempt,
          mode,
          ...(recovered > 0 ? { recovered_tool_calls: recovered } : {}),
          ...(formatError ? { format_error: formatError } : {}),
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
            usage: {
              input: output.usage.prompt_tokens,
              output: output.usage.completion_tokens,
              ...(output.usage.cached_tokens !== undefined ? { cached: output.usage.cached_tokens } : {}),
            },
            ...(prices
              ? {
                  cost: {
                    input: (output.usage.prompt_tokens * prices.inputPer1k) / 1000,
                    output: (output.usage.completion_tokens * prices.outputPer1k) / 1000,
                  },
                }
              : {}),
            ...(input.prompt ? { prompt: input.prompt } : {}),
            metadata: {
              finish_reason: output.finish_reason,
              offline: deps.offline,
              attempt: ctx.info.attempt,
              tool_calling: mode,
              ...(recovered > 0 ? { recovered_tool_calls: recovered } : {}),
            },
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
