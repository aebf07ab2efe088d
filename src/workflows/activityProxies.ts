import { proxyActivities, proxyLocalActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { ErrorType } from '../errorTypes';

/**
 * The workflow side of the activities: one proxy per family (named `…Proxy`, apart from the factories in
 * src/activities/ that implement them), each with its timeouts and retry policy, in one place.
 * docs/reliability.md summarises this table.
 *
 * | activity (proxy)                                     | start-to-close | heartbeat | retries                                    | never retried                       |
 * |------------------------------------------------------|----------------|-----------|--------------------------------------------|-------------------------------------|
 * | chatCompletion (llmProxy)                            | 3 min          | 10 s      | 6 attempts, 1 s ×2 up to 30 s, Retry-After | LlmFatalError, LlmAuthError, LlmContextLengthError |
 * | checkModel (modelCheckProxy)                         | 10 s           | –         | 2 attempts                                 | LlmAuthError                        |
 * | callTool, callTools, recordApproval, markProviderUnavailable, recordRunSummary, recordRunFailure, claimApproval, releaseApproval (toolProxy) | 10 s | – | 20 attempts, 200 ms ×2 up to 5 s | InvalidInput |
 * | callTools for the prefetch (localReadProxy, local) | 10 s | – | 20 attempts, 200 ms ×2 up to 5 s | InvalidInput |
 * | resolvePrompts (promptProxy)                         | 10 s           | –         | 5 attempts, 1 s ×2                         | PromptError                         |
 * | listMcpTools, callMcpTool (mcpProxy)                 | 30 s           | 5 s       | 8 attempts, 200 ms ×2 up to 5 s            | InvalidInput                        |
 * | guardFigures, rollBackLabel (guardProxy)             | 1 min          | –         | 5 attempts, 1 s ×2                         | –                                   |
 * | adaptationFigures, moveLabelRoute (adaptProxy)       | 30 s           | –         | 5 attempts, 1 s ×2                         | –                                   |
 *
 * Why these numbers:
 * - A model may think for a minute or two (the client's own timeout, LLM_TIMEOUT_MS, is 2 min by default), so
 *   the LLM call gets a long start-to-close; it heartbeats every 2 s, so a killed worker is noticed within the
 *   10 s heartbeat timeout rather than after 3 minutes. Transient errors (429, 5xx, timeouts, network) are
 *   retried with back-off, and the endpoint's Retry-After replaces the back-off for that attempt. After the
 *   6th failure (about 30 s of waiting) the batch hands its remaining appointments to the code-driven
 *   fallback. A refused key or a 400 is fatal at once: retrying cannot fix it.
 * - Tools are database transactions (SQLite, or PostgreSQL shared by several workers) that take milliseconds: 10 s
 *   is generous, and a killed worker's tool call is retried after at most 10 s. Every write carries an idempotency
 *   key, so retrying is always safe. A refusal by the domain is a result, not an error, so it is never retried.
 *   A database that does not answer (restarted, failing over) is retried for about 16 minutes before the run
 *   gives the call up.
 * - A prompt that does not parse or validate is fatal at once; a registry that does not answer is retried.
 * - An MCP server is another service over the network: a call gets 30 s and heartbeats every second, so a killed
 *   worker's call is retried within 5 s. Back-off from 200 ms to 5 s, 8 attempts (about 16 s of waiting): a server
 *   still down after that is given up, and the batch falls back to the code-driven steps.
 */

/** A chat completion is tried this many times before the batch gives the model up. */
export const LLM_MAX_ATTEMPTS = 6;

export const llmProxy = proxyActivities<Pick<Activities, 'chatCompletion'>>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '10 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: LLM_MAX_ATTEMPTS,
    nonRetryableErrorTypes: [ErrorType.llmFatal, ErrorType.llmAuth, ErrorType.llmContextLength],
  },
});

export const modelCheckProxy = proxyActivities<Pick<Activities, 'checkModel'>>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 2, nonRetryableErrorTypes: [ErrorType.llmAuth] },
});

/**
 * Tool calls and the other store activities: one database transaction each, retried quickly at first, then every
 * 30 s for about a quarter of an hour in all, so that a database restart or failover (PostgreSQL shared by several
 * workers) holds the run up rather than ending it.
 */
export const TOOL_OPTIONS = {
  startToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '200 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 40,
    nonRetryableErrorTypes: [ErrorType.invalidInput],
  },
} satisfies ActivityOptions;

export const toolProxy =
  proxyActivities<
    Pick<
      Activities,
      | 'callTool'
      | 'callTools'
      | 'recordApproval'
      | 'markProviderUnavailable'
      | 'recordRunSummary'
      | 'recordRunFailure'
      | 'claimApproval'
      | 'releaseApproval'
    >
  >(TOOL_OPTIONS);

/**
 * Reads the workflow makes before a model turn (the prefetch of every appointment's candidates) run as a local
 * activity: in the worker, recorded as a marker, retried like the other tool calls, without a round trip through
 * the server on the batch's critical path.
 */
export const localReadProxy = proxyLocalActivities<Pick<Activities, 'callTools'>>(TOOL_OPTIONS);

export const promptProxy = proxyActivities<Pick<Activities, 'resolvePrompts'>>({
  // A Langfuse fetch gives up after PROMPT_FETCH_TIMEOUT_MS (5 s) and falls back to the local file.
  startToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumAttempts: 5,
    nonRetryableErrorTypes: [ErrorType.prompt],
  },
});

/** The rollback guard reads many runs' results from visibility: a minute; a move it cannot make is an answer. */
export const guardProxy = proxyActivities<Pick<Activities, 'guardFigures' | 'rollBackLabel'>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 5 },
});

/** The adaptation policy reads and moves a label route in the store; a move it cannot make is an answer. */
export const adaptProxy = proxyActivities<Pick<Activities, 'adaptationFigures' | 'moveLabelRoute'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 5 },
});

/** MCP servers named by the prompt config: listing their tools at the start of a run, and each call. */
export const mcpProxy = proxyActivities<Pick<Activities, 'listMcpTools' | 'callMcpTool'>>({
  startToCloseTimeout: '30 seconds',
  heartbeatTimeout: '5 seconds',
  retry: {
    initialInterval: '200 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '5 seconds',
    maximumAttempts: 8,
    nonRetryableErrorTypes: [ErrorType.invalidInput],
  },
});
