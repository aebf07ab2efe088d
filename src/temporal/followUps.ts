import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import {
  answerOfferUpdate,
  FOLLOW_UP_BUSY,
  FOLLOW_UP_STARTING,
  rateVisitUpdate,
  type AnswerAccepted,
  type OfferAnswerRequest,
  type RatingRequest,
} from '../workflows/contract/outcomes';

/**
 * A patient's answer and visit score, sent to the appointment's follow-up as Updates (the API, the CLI and the
 * tests go through here). A refusal is a FollowUpRefusal with the workflow's one-line reason; an appointment
 * without a follow-up is a FollowUpRefusal of kind not_found.
 */

export class FollowUpRefusal extends Error {
  constructor(
    message: string,
    readonly kind: 'not_found' | 'conflict',
  ) {
    super(message);
  }
}

async function update<R>(
  appointmentId: string,
  send: () => Promise<R>,
  describe: () => Promise<{ status: { name: string } }>,
): Promise<R> {
  // A follow-up that has just started has not read its offer yet, or is preparing a new one: asked again (20 s at most).
  for (let attempt = 0; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      // An Update to a closed workflow: the server says "not found ... already completed".
      if (/already completed/i.test(err instanceof Error ? err.message : String(err)))
        throw new FollowUpRefusal(
          `the follow-up of ${appointmentId} is over: it takes no more answers or scores`,
          'conflict',
        );
      if (err instanceof WorkflowNotFoundError) {
        // The follow-up may exist and be closed: then it is over, not missing.
        const closed = await describe().then(
          (d) => d.status.name !== 'RUNNING',
          () => false,
        );
        if (closed)
          throw new FollowUpRefusal(
            `the follow-up of ${appointmentId} is over: it takes no more answers or scores`,
            'conflict',
          );
        throw new FollowUpRefusal(
          `appointment ${appointmentId} has no follow-up (no slot was offered to its patient)`,
          'not_found',
        );
      }
      if (err instanceof WorkflowUpdateFailedError) {
        const reason = err.cause instanceof Error ? err.cause.message : err.message;
        if ((reason.includes(FOLLOW_UP_STARTING) || reason.includes(FOLLOW_UP_BUSY)) && attempt < 100) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        throw new FollowUpRefusal(reason, 'conflict');
      }
      throw err;
    }
  }
}

/** Where an appointment's follow-up is found: the store's latest offer names it. */
export interface FollowUpLookup {
  latestOffer(appointmentId: string): Promise<{ follow_up_id: string } | undefined>;
}

async function followUpOf(offers: FollowUpLookup, appointmentId: string): Promise<string> {
  const offer = await offers.latestOffer(appointmentId);
  if (!offer)
    throw new FollowUpRefusal(
      `appointment ${appointmentId} has no follow-up (no slot was offered to its patient)`,
      'not_found',
    );
  return offer.follow_up_id;
}

export async function answerOffer(
  client: Client,
  offers: FollowUpLookup,
  appointmentId: string,
  req: OfferAnswerRequest,
): Promise<AnswerAccepted> {
  const handle = client.workflow.getHandle(await followUpOf(offers, appointmentId));
  return update(
    appointmentId,
    () => handle.executeUpdate(answerOfferUpdate, { args: [req] }),
    () => handle.describe(),
  );
}

export async function rateVisit(
  client: Client,
  offers: FollowUpLookup,
  appointmentId: string,
  req: RatingRequest,
): Promise<{ appointment_id: string; score: number }> {
  const handle = client.workflow.getHandle(await followUpOf(offers, appointmentId));
  return update(
    appointmentId,
    () => handle.executeUpdate(rateVisitUpdate, { args: [req] }),
    () => handle.describe(),
  );
}

/**
 * Ends the follow-ups still running on a task queue: the demo reloads its data, and the follow-ups of earlier
 * demo runs would otherwise wait on offers the new data no longer has. Returns how many were ended.
 */
export async function endFollowUps(client: Client, taskQueue: string, reason: string): Promise<number> {
  let n = 0;
  const query = `WorkflowType = 'patientFollowUp' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue.replace(/'/g, '')}'`;
  for await (const wf of client.workflow.list({ query })) {
    await client.workflow
      .getHandle(wf.workflowId, wf.runId)
      .terminate(reason)
      .then(() => n++)
      .catch(() => undefined);
  }
  return n;
}
