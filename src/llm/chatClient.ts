import OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../errorTypes';

/**
 * One chat completion through the official openai client. The client's own retries are off: Temporal owns
 * retries. Errors are classified: 408/409/429/5xx and network failures are retryable (honouring
 * retry-after); anything else (bad key, bad request) is fatal and not retried.
 */

export function createOpenAiClient(options: { baseURL: string; apiKey?: string; timeoutMs: number }): OpenAI {
  return new OpenAI({
    baseURL: options.baseURL,
    apiKey: options.apiKey ?? 'offline-no-key',
    maxRetries: 0,
    timeout: options.timeoutMs,
  });
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const s = headers?.get('retry-after');
  if (!s) return undefined;
  if (Number.isFinite(Number(s))) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * How endpoints say the request does not fit the context window: OpenAI's 400 `context_length_exceeded`
 * ("This model's maximum context length is ..."), llama.cpp's 500 "Context size has been exceeded", vLLM's
 * "... is longer than the model's context length", and the like.
 */
const CONTEXT_OVERFLOW =
  /context[ _-]?(length|size|window)|maximum context|too many tokens|prompt is too long|exceeds? (the )?(available )?context/i;

/** What the workflow learns from a failed call: the attempt it failed on (earlier ones failed too). */
export interface LlmFailureDetails {
  attempt: number;
}

/**
 * Classifies a failed chat completion: 408/409/429/5xx and network failures are transient (retried, honouring
 * retry-after); a context overflow and every other answer are fatal (retrying cannot help).
 */
export function classifyLlmError(err: unknown, attempt = 1): ApplicationFailure {
  const details: [LlmFailureDetails] = [{ attempt }];
  if (err instanceof OpenAI.APIConnectionError) {
    // Includes timeouts: the endpoint may come back.
    return ApplicationFailure.create({
      message: `LLM endpoint unreachable: ${err.message}`,
      type: ErrorType.llmTransient,
      nonRetryable: false,
      details,
    });
  }
  if (err instanceof OpenAI.APIError) {
    const status = err.status ?? 0;
    if (err.code === 'context_length_exceeded' || CONTEXT_OVERFLOW.test(err.message))
      return ApplicationFailure.create({
        message: `the conversation does not fit the model's context window (LLM endpoint answered ${status}: ${err.message})`,
        type: ErrorType.llmContextLength,
        nonRetryable: true,
        details,
      });
    const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
    const delay = retryable ? retryAfterMs(err.headers) : undefined;
    return ApplicationFailure.create({
      message: `LLM endpoint answered ${status}: ${err.message}`,
      type: retryable ? ErrorType.llmTransient : ErrorType.llmFatal,
      nonRetryable: !retryable,
      details,
      ...(delay !== undefined ? { nextRetryDelay: delay } : {}),
    });
  }
  return ApplicationFailure.create({
    message: `LLM call failed: ${(err as Error)?.message ?? String(err)}`,
    type: ErrorType.llmTransient,
    nonRetryable: false,
    details,
  });
}

/** A refused key, as opposed to an endpoint that is only down. */
export class LlmAuthError extends Error {
  constructor(status: number) {
    super(`the LLM endpoint refused the API key (${status}): check OPENAI_API_KEY`);
    this.name = ErrorType.llmAuth;
  }
}

/**
 * Does the endpoint accept our key? GET /models costs no tokens. Throws LlmAuthError on 401/403; an endpoint
 * without /models (404) counts as reachable, anything else as not reachable yet.
 */
export async function checkModelEndpoint(llm: OpenAI): Promise<{ reachable: boolean; detail: string }> {
  try {
    await llm.models.list({ timeout: 8_000 });
    return { reachable: true, detail: 'models listed' };
  } catch (err) {
    const status = err instanceof OpenAI.APIError ? err.status : undefined;
    if (status === 401 || status === 403) throw new LlmAuthError(status);
    if (status === 404) return { reachable: true, detail: 'no /models route' };
    return {
      reachable: false,
      detail: status ? `GET /models answered ${status}` : `unreachable: ${(err as Error)?.message ?? String(err)}`,
    };
  }
}
