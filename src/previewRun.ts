import { randomUUID } from 'node:crypto';
import { ApplicationFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import type { AppConfig } from './config';
import { describeError } from './errors';
import { previewWorkflowId } from './workflowIds';
import { ErrorType } from './errorTypes';
import { previewResultSchema, type PreviewInput, type PreviewResult } from './workflows/preview/previewContract';

/** A preview that got no answer in time (no worker polls, or the model is slow): one line, 504-like. */
export class PreviewTimedOut extends Error {}

/**
 * Runs the preview workflow (a dry run of the prompt-driven path) and waits for its result, at most
 * PREVIEW_TIMEOUT_MS: past that the workflow is terminated (nothing it did is kept anyway) and a PreviewTimedOut
 * says so. A refusal of the input (unknown provider, nothing to reassign, a prompt that cannot be used) comes back
 * as `refused`, for the caller to tell in its own words (404/422, one CLI line).
 */
export async function runPreview(
  client: Client,
  config: AppConfig,
  input: PreviewInput,
  refused: (message: string, kind: 'not_found' | 'invalid') => Error,
): Promise<PreviewResult> {
  const workflowId = previewWorkflowId(input.providerId, input.date, randomUUID().slice(0, 8));
  const timeoutMs = config.PREVIEW_TIMEOUT_MS;
  const handle = await client.workflow.start('previewReassignment', {
    taskQueue: config.TASK_QUEUE,
    workflowId,
    args: [input],
    // A preview nobody waits for any more ends by itself.
    workflowExecutionTimeout: timeoutMs + 60_000,
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const answer = await Promise.race([handle.result() as Promise<unknown>, timedOut]);
    if (answer === 'timeout') {
      await handle.terminate('the preview took too long').catch(() => undefined);
      throw new PreviewTimedOut(
        `the preview got no answer within ${Math.round(timeoutMs / 1000)} s (is a worker running on task queue ${config.TASK_QUEUE}?)`,
      );
    }
    return previewResultSchema.parse(answer);
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause;
      if (
        cause instanceof ApplicationFailure &&
        (cause.type === ErrorType.invalidInput || cause.type === ErrorType.prompt)
      )
        throw refused(cause.message, cause.details?.[0] === 'unknown_provider' ? 'not_found' : 'invalid');
      throw new Error(`the preview failed: ${describeError(cause ?? err)}`, { cause: err });
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
