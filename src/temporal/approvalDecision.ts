import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { describeError } from '../errors';
import { decideApprovalUpdate } from '../workflows/contract/signals';
import type { ApprovalDecisionAccepted, ApprovalDecisionRequest } from '../workflows/contract/types';

/**
 * Approve or reject through the run's `decideApproval` Update: the HTTP API and the CLI both decide here, so a
 * refusal reads the same from either.
 */

/** A decision the run refused before writing anything: one line for the caller (the API's 409, the CLI's error). */
export class DecisionRefused extends Error {}

export async function decideApproval(
  client: Client,
  workflowId: string,
  request: ApprovalDecisionRequest,
): Promise<ApprovalDecisionAccepted> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return await handle.executeUpdate(decideApprovalUpdate, { args: [request] });
  } catch (err) {
    // An Update to a run that has finished answers "not found": tell a finished run from an unknown one.
    const finished = await handle
      .describe()
      .then((d) => d.status.name !== 'RUNNING')
      .catch(() => false);
    if (finished) throw new DecisionRefused(`${workflowId} has finished: it awaits no decision`);
    // The validator's refusal (ApprovalDecisionRefused): not awaiting approval, already decided, batch ended.
    if (err instanceof WorkflowUpdateFailedError) throw new DecisionRefused(describeError(err.cause ?? err));
    throw err;
  }
}
