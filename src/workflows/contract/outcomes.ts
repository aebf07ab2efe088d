import { z } from 'zod';
import { defineQuery, defineUpdate } from '@temporalio/workflow';

/**
 * The contract of a patient's follow-up (src/workflows/outcomes/patientFollowUp.ts): its input, the answer and
 * rating Updates (the HTTP API, our CLI and the Temporal CLI send them) and its state query. Pure.
 */

export { followUpWorkflowId } from '../../workflowIds';

export interface FollowUpInput {
  appointmentId: string;
  /** How long a patient has to answer an offer before it counts as no answer (PATIENT_RESPONSE_HOURS). */
  responseMs: number;
  /** How many times a declined or unanswered offer re-enters reassignment before the waitlist (MAX_OFFERS). */
  maxReoffers: number;
  /** How long after an accepted offer a satisfaction score is still taken (SATISFACTION_WINDOW_DAYS). */
  satisfactionMs: number;
  /** The task queue its re-offer runs go to. */
  taskQueue: string;
}

export const offerAnswerSchema = z
  .object({
    answer: z.enum(['accepted', 'declined']),
    reason: z.string().trim().min(1).max(200).optional(),
    /** The offer answered; by default the open one. A stale number is refused, so an answer never lands on a later offer. */
    offer: z.number().int().min(1).max(100).optional(),
    by: z.string().trim().min(1).max(100),
  })
  .strict();
export type OfferAnswerRequest = z.infer<typeof offerAnswerSchema>;

export const ratingSchema = z
  .object({ score: z.number().int().min(1).max(5), by: z.string().trim().min(1).max(100) })
  .strict();
export type RatingRequest = z.infer<typeof ratingSchema>;

export interface OfferView {
  offer_no: number;
  /** The appointment's date (a re-offer run covers that day). */
  date: string;
  provider_id: string;
  from_provider_id: string;
  run_id: string;
  decided_by: string;
  /** When the offer counts as unanswered. */
  deadline: string;
}

export interface AnswerAccepted {
  appointment_id: string;
  offer_no: number;
  answer: 'accepted' | 'declined' | 'no_answer';
  provider_id: string;
  /** What happens next: done, a re-offer, or the waitlist. */
  next: 'visit' | 'reoffer' | 'waitlist';
}

export interface FollowUpState {
  appointment_id: string;
  phase: 'starting' | 'awaiting_answer' | 'reoffering' | 'awaiting_rating' | 'finished';
  offer?: OfferView;
  answers: { offer_no: number; answer: string; provider_id: string; by: string }[];
  reoffers: number;
  satisfaction?: number;
  outcome?: 'accepted' | 'waitlisted' | 'undecided';
}

/** The refusal a caller may retry: the follow-up has not read its offer yet (it just started). */
export const FOLLOW_UP_STARTING = 'is starting';

/** The refusal a caller may retry too: a re-offer is being prepared (the new offer is not read yet). */
export const FOLLOW_UP_BUSY = 'a new offer is being prepared';

export const answerOfferUpdate = defineUpdate<AnswerAccepted, [OfferAnswerRequest]>('answer');
export const rateVisitUpdate = defineUpdate<{ appointment_id: string; score: number }, [RatingRequest]>('rate');
export const followUpStateQuery = defineQuery<FollowUpState>('followUp');
