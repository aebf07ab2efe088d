import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowIdConflictPolicy } from '@temporalio/client';
import type { PromptBundle } from '../prompts/schema';
import { DomainRefusal, type SchedulingStore } from '../domain/store';
import type { OfferAnswer } from '../domain/outcomes';
import { ErrorType } from '../errorTypes';
import type { OutcomeScore, OutcomeScorer } from '../langfuse/outcomeScores';
import type { FollowUpInput, OfferView } from '../workflows/contract/outcomes';

/**
 * The follow-up's activities: what a patient answered (and the slot released with it), satisfaction, the
 * waitlist after the last offer, escalations, and the outcome scores in Langfuse. Plus the start of a follow-up
 * when a patient is told about a new slot (called by the notify tool's activity).
 */

export interface OutcomeSettings {
  /** Off: patients are told, and nothing follows (no follow-up workflow). */
  enabled: boolean;
  responseMs: number;
  maxReoffers: number;
  satisfactionMs: number;
  /** A waitlisted patient whose appointment is this close (or past) is escalated. */
  escalateWaitlistDays: number;
  taskQueue: string;
}

export interface OutcomeDeps {
  store: SchedulingStore;
  outcomes: OutcomeSettings;
  /** Langfuse scores; absent when Langfuse is not configured (the figures are in the database either way). */
  scorer?: OutcomeScorer;
}

const refusal = (err: unknown): never => {
  if (err instanceof DomainRefusal) throw ApplicationFailure.nonRetryable(err.message, ErrorType.invalidInput);
  throw err;
};

/**
 * Starts the appointment's follow-up if it has an open offer and none is running (a re-offer's notification
 * finds the follow-up that asked for it). Idempotent: a retried notification starts nothing twice.
 */
export async function startFollowUp(deps: OutcomeDeps, appointmentId: string): Promise<void> {
  if (!deps.outcomes.enabled) return;
  const offer = await deps.store.latestOffer(appointmentId);
  if (!offer || offer.status !== 'open') return;
  const input: FollowUpInput = {
    appointmentId,
    responseMs: deps.outcomes.responseMs,
    maxReoffers: deps.outcomes.maxReoffers,
    satisfactionMs: deps.outcomes.satisfactionMs,
    taskQueue: deps.outcomes.taskQueue,
  };
  await Context.current().client.workflow.start('patientFollowUp', {
    workflowId: offer.follow_up_id,
    taskQueue: deps.outcomes.taskQueue,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
}

export function outcomeActivities(deps: OutcomeDeps) {
  const { store } = deps;
  return {
    /** The appointment's open offer, with its deadline; null when none is open (decided otherwise, or waitlisted). */
    async openOffer(input: { appointmentId: string; responseMs: number }): Promise<OfferView | null> {
      const offer = await store.latestOffer(input.appointmentId);
      if (!offer || offer.status !== 'open') return null;
      return {
        offer_no: offer.offer_no,
        date: (await store.appointment(input.appointmentId))!.date,
        provider_id: offer.provider_id,
        from_provider_id: offer.from_provider_id,
        run_id: offer.run_id,
        decided_by: offer.decided_by,
        deadline: new Date(Date.parse(`${offer.created_at}`) + input.responseMs).toISOString(),
      };
    },

    /**
     * Records an answer (or its absence by the deadline); declined or unanswered, the slot is released in the
     * same transaction. A second refusal for the appointment is escalated.
     */
    async recordAnswer(input: {
      appointmentId: string;
      offerNo: number;
      answer: OfferAnswer;
      reason?: string;
      by: string;
    }) {
      try {
        const recorded = await store.answerOffer(input);
        const escalate = recorded.answer !== 'accepted' && recorded.refused_offers === 2;
        if (escalate)
          await store.raiseEscalation({
            kind: 'second_decline',
            ref: input.appointmentId,
            appointmentId: input.appointmentId,
            runId: recorded.run_id,
            reason: `the patient of ${input.appointmentId} turned down a second offer (${recorded.provider_id}, ${input.answer === 'no_answer' ? 'no answer' : 'declined'})`,
          });
        return { ...recorded, escalated: escalate };
      } catch (err) {
        return refusal(err);
      }
    },

    /**
     * The last offer was turned down too: the patient goes on the waitlist (and is told), and a head of department
     * sees it. Written under the follow-up's id; keys make it happen once.
     */
    async waitlistAfterOffers(input: { appointmentId: string; runId: string; offers: number }) {
      const followUpId = Context.current().info.workflowExecution?.workflowId ?? `follow-up-${input.appointmentId}`;
      const pinned = await store.runPrompts(input.runId);
      if (!pinned)
        throw ApplicationFailure.nonRetryable(
          `run ${input.runId} has no pinned prompts on record`,
          ErrorType.invalidInput,
        );
      const bundle = pinned.bundle as PromptBundle;
      const ctx = {
        runId: followUpId,
        policy: bundle.policy,
        decidedBy: (pinned.mode === 'code' ? 'code' : 'prompt') as 'prompt' | 'code',
      };
      const reason = `turned down ${input.offers} offers`;
      try {
        const appointment = await store.appointment(input.appointmentId);
        if (appointment?.status !== 'waitlisted')
          await store.waitlist(input.appointmentId, reason, { ...ctx, idempotencyKey: `${followUpId}:waitlist` });
        await store.notify(input.appointmentId, 'waitlisted', {
          ...ctx,
          idempotencyKey: `${followUpId}:notify-waitlisted`,
        });
      } catch (err) {
        if (!(err instanceof DomainRefusal && err.code === 'already_notified')) refusal(err);
      }
      const { escalation } = await store.raiseEscalation({
        kind: 'offers_exhausted',
        ref: input.appointmentId,
        appointmentId: input.appointmentId,
        runId: input.runId,
        reason: `the patient of ${input.appointmentId} turned down ${input.offers} offers and is on the waitlist`,
      });
      return { waitlisted: true, escalation_id: escalation.id };
    },

    async recordSatisfaction(input: { appointmentId: string; score: number; by: string }) {
      try {
        return await store.recordSatisfaction(input);
      } catch (err) {
        return refusal(err);
      }
    },

    /** One outcome as a Langfuse score (no-op without Langfuse); retried by Temporal when Langfuse is down. */
    async publishOutcomeScore(score: OutcomeScore): Promise<{ sent: boolean; id?: string }> {
      if (!deps.scorer) return { sent: false };
      const { id } = await deps.scorer.send(score);
      return { sent: true, id };
    },
  };
}
