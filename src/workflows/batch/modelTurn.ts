import { ActivityFailure, ApplicationFailure, patched } from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import { ErrorType } from '../../errorTypes';
import type { ChatInput, ChatMessage, ChatOutput, TurnConstraints } from '../../llm/chatTypes';
import type { ToolName } from '../../tools/catalog';
import { LLM_MAX_ATTEMPTS, llmProxy } from '../activityProxies';
import type { BatchSession } from './batchSession';
import { workflowTimeMs } from '../workflowClock';
import type { BatchInput } from '../contract/types';

/**
 * One turn of the conversation: one chat completion (an activity, retried by Temporal), and everything it
 * cost counted whatever happened: the call, every HTTP attempt (failed ones too), the tokens and the time.
 * A turn the model cannot finish ends the conversation with one clear reason, instead of being asked again.
 */

export type TurnAnswer = { kind: 'reply'; reply: ChatOutput } | { kind: 'stuck'; why: string };

/** Marks the versions that stop at a cut-off reply (older histories went on with it). */
const STOP_ON_TRUNCATED_REPLY = 'stop-on-truncated-reply';

export async function askModel(
  session: BatchSession,
  input: BatchInput,
  messages: ChatMessage[],
  turn: number,
  offered: ToolName[],
  /** json_schema mode: what the turn may name; native mode when absent. */
  constraints?: TurnConstraints,
  /** Tools of the prompt's MCP servers, as pinned, offered beside the catalog's (native mode). */
  external?: ChatInput['externalTools'],
): Promise<TurnAnswer> {
  const { config, orchestrator } = input.bundle;
  const stats = session.outcome.llm;
  const began = workflowTimeMs();
  const count = (attempts: number, failed: number) => {
    stats.attempts = (stats.attempts ?? 0) + attempts;
    stats.failed_attempts = (stats.failed_attempts ?? 0) + failed;
    stats.time_ms = (stats.time_ms ?? 0) + (workflowTimeMs() - began);
  };
  let reply: ChatOutput;
  try {
    reply = await llmProxy.chatCompletion.executeWithOptions(
      { summary: `LLM turn ${turn} · batch ${input.batch} · ${orchestrator.name} v${orchestrator.version}` },
      [
        {
          messages,
          tools: offered,
          ...(constraints ? { toolCalling: 'json_schema' as const, constraints } : {}),
          ...(external && external.length > 0 ? { externalTools: external } : {}),
          model: config.model.name,
          temperature: config.model.temperature,
          maxTokens: config.model.max_tokens,
          prompt: orchestrator,
        },
      ],
    );
  } catch (err) {
    // Retries are over, or the error is fatal: the model is unavailable for this batch.
    if (!(err instanceof ActivityFailure)) throw err;
    const attempts = attemptsOf(err);
    count(attempts, attempts);
    await session.reportLlmProgress();
    const message = (err.cause?.message ?? err.message).slice(0, 300);
    if (err.cause instanceof ApplicationFailure && err.cause.type === ErrorType.llmContextLength)
      return { kind: 'stuck', why: `${message}; the rest is decided without the model` };
    return { kind: 'stuck', why: `the model is unavailable: ${message}` };
  }
  const attempt = reply.attempt ?? 1;
  count(attempt, attempt - 1);
  stats.calls += 1;
  stats.prompt_tokens += reply.usage.prompt_tokens;
  stats.completion_tokens += reply.usage.completion_tokens;
  if (reply.usage.cached_tokens !== undefined)
    stats.cached_tokens = (stats.cached_tokens ?? 0) + reply.usage.cached_tokens;
  if (reply.mode === 'json_schema') stats.schema_turns = (stats.schema_turns ?? 0) + 1;
  if (reply.recovered_tool_calls)
    stats.recovered_tool_calls = (stats.recovered_tool_calls ?? 0) + reply.recovered_tool_calls;
  stats.model = reply.model;
  stats.offline = reply.offline;
  await session.reportLlmProgress();
  // A reply cut off at max_tokens is not an answer (its tool calls may be half written): asking again the same
  // way would be cut off again.
  if (reply.finish_reason === 'length' && patched(STOP_ON_TRUNCATED_REPLY))
    return {
      kind: 'stuck',
      why: `the model's reply was cut off at max_tokens ${config.model.max_tokens} (finish_reason "length"): raise model.max_tokens in the prompt config`,
    };
  return { kind: 'reply', reply };
}

/** How many attempts a failed call made: the activity says on which attempt it failed. */
function attemptsOf(err: ActivityFailure): number {
  const details =
    err.cause instanceof ApplicationFailure ? (err.cause.details?.[0] as { attempt?: number }) : undefined;
  if (typeof details?.attempt === 'number') return details.attempt;
  return err.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED ? LLM_MAX_ATTEMPTS : 1;
}
