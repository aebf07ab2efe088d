import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

/**
 * Timeouts and retry policies of every activity, in one place.
 * - LLM calls: long start-to-close (a model may think for a minute) but a short heartbeat timeout, so a
 *   killed worker is noticed in seconds; transient errors (429, 5xx, network) retried with back-off and
 *   the server's retry-after; fatal ones (bad key, bad request) not retried.
 * - Tools: short and idempotent, retried often; a refusal is a result, not an error, so never retried.
 * - Prompts: a bad prompt is fatal at once.
 */
export const llmActivities = proxyActivities<Pick<Activities, 'chatCompletion'>>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 8, nonRetryableErrorTypes: ['LlmFatalError'] },
});

export const toolActivities = proxyActivities<Pick<Activities, 'callTool' | 'recordApproval' | 'markProviderUnavailable' | 'recordRunSummary'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 20, nonRetryableErrorTypes: ['InvalidInput'] },
});

export const promptActivities = proxyActivities<Pick<Activities, 'resolvePrompts'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: ['PromptError'] },
});
