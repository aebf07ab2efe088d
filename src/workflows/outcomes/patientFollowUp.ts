import {
  condition,
  executeChild,
  log,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { TOOL_OPTIONS } from '../activityProxies';
import { describeZodError } from '../../zodIssue';
import {
  answerOfferUpdate,
  FOLLOW_UP_BUSY,
  FOLLOW_UP_STARTING,
  followUpStateQuery,
  offerAnswerSchema,
  rateVisitUpdate,
  ratingSchema,
  type AnswerAccepted,
  type FollowUpInput,
  type FollowUpState,
  type OfferAnswerRequest,
  type OfferView,
  type RatingRequest,
} from '../contract/outcomes';
import type { ReassignmentResult } from '../contract/types';
import { workflowTimeMs } from '../workflowClock';
import type { OutcomeScore } from '../../langfuse/outcomeScores';

/**
 * What happens after a patient is told about a new slot, for one appointment: the patient accepts, declines, or
 * does not answer by the deadline. Declined or unanswered, the slot is released (in the same transaction as the
 * answer) and the appointment re-enters reassignment, as a child run limited to it, with the prompts the first
 * decision pinned; at most maxReoffers times, then the waitlist and an escalation. Accepted, the follow-up waits
 * for the patient's satisfaction score. One workflow per appointment keeps each history short and lets a run
 * finish without waiting for patients; each outcome is also a Langfuse score on the deciding run's trace.
 */

/** Store transactions like the tool calls: retried often and quickly, a refusal never. */
const outcomes =
  proxyActivities<Pick<Activities, 'openOffer' | 'recordAnswer' | 'waitlistAfterOffers' | 'recordSatisfaction'>>(
    TOOL_OPTIONS,
  );

/** Langfuse may be down for a while: retried for up to a day, without holding the follow-up. */
const scores = proxyActivities<Pick<Activities, 'publishOutcomeScore'>>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '24 hours',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});

export async function patientFollowUp(input: FollowUpInput): Promise<FollowUpState> {
  const state: FollowUpState = { appointment_id: input.appointmentId, phase: 'starting', answers: [], reoffers: 0 };
  let pending: (OfferAnswerRequest & { offer_no: number }) | undefined;
  const settled = new Map<number, AnswerAccepted>();
  let rating: RatingRequest | undefined;
  let rated: { appointment_id: string; score: number } | undefined;
  const scoring: Promise<unknown>[] = [];

  setHandler(followUpStateQuery, () => state);
  setHandler(
    answerOfferUpdate,
    // The handler takes the answer; the validator only judges it. Validators do not run on replay, so a validator
    // that changed state would leave a replaying worker without the answer (and the run stuck on its history).
    async (req) => {
      const offerNo = state.offer!.offer_no;
      pending = { ...offerAnswerSchema.parse(req), offer_no: offerNo };
      await condition(() => settled.has(offerNo));
      return settled.get(offerNo)!;
    },
    {
      validator: (req) => {
        const parsed = offerAnswerSchema.safeParse(req);
        if (!parsed.success) throw new Error(`invalid answer: ${describeZodError(parsed.error, '(answer)')}`);
        const offer = state.offer;
        if (state.phase !== 'awaiting_answer' || !offer || pending)
          throw new Error(`appointment ${input.appointmentId} has no open offer to answer (${describePhase(state)})`);
        if (parsed.data.offer !== undefined && parsed.data.offer !== offer.offer_no)
          throw new Error(
            `offer ${parsed.data.offer} of ${input.appointmentId} is closed; the open offer is ${offer.offer_no}`,
          );
      },
    },
  );
  setHandler(
    rateVisitUpdate,
    async (req) => {
      rating = ratingSchema.parse(req);
      await condition(() => rated !== undefined);
      return rated!;
    },
    {
      validator: (req) => {
        const parsed = ratingSchema.safeParse(req);
        if (!parsed.success) throw new Error(`invalid score: ${describeZodError(parsed.error, '(score)')}`);
        if (state.phase !== 'awaiting_rating' || rating)
          throw new Error(
            rating || state.satisfaction !== undefined
              ? `appointment ${input.appointmentId} already has a satisfaction score`
              : `appointment ${input.appointmentId} has no accepted offer to score (${describePhase(state)})`,
          );
      },
    },
  );

  const score = (s: Omit<OutcomeScore, 'appointmentId'>) =>
    scoring.push(scores.publishOutcomeScore({ ...s, appointmentId: input.appointmentId }));

  let offer = await outcomes.openOffer({ appointmentId: input.appointmentId, responseMs: input.responseMs });
  while (offer) {
    state.offer = offer;
    state.phase = 'awaiting_answer';
    const wait = Math.max(0, Date.parse(offer.deadline) - workflowTimeMs());
    const answeredInTime = await condition(() => pending !== undefined, wait);
    // An answer that came with the deadline's timer still counts: the validator took it first.
    const answer = answeredInTime || pending ? pending! : undefined;
    const recorded = await outcomes.recordAnswer({
      appointmentId: input.appointmentId,
      offerNo: offer.offer_no,
      answer: answer?.answer ?? 'no_answer',
      ...(answer?.reason ? { reason: answer.reason } : {}),
      by: answer?.by ?? 'deadline',
    });
    state.answers.push({
      offer_no: offer.offer_no,
      answer: recorded.answer,
      provider_id: offer.provider_id,
      by: answer?.by ?? 'deadline',
    });
    score({
      runId: offer.run_id,
      kind: 'offer_answer',
      ref: String(offer.offer_no),
      value: recorded.answer === 'accepted' ? 'accept' : recorded.answer === 'declined' ? 'decline' : 'none',
    });
    if (recorded.escalated) score({ runId: offer.run_id, kind: 'escalated', ref: 'second_decline', value: 1 });
    const next: AnswerAccepted['next'] =
      recorded.answer === 'accepted' ? 'visit' : state.reoffers < input.maxReoffers ? 'reoffer' : 'waitlist';
    settled.set(offer.offer_no, {
      appointment_id: input.appointmentId,
      offer_no: offer.offer_no,
      answer: recorded.answer,
      provider_id: offer.provider_id,
      next,
    });
    pending = undefined;
    if (next === 'visit') return awaitRating(offer);
    if (next === 'waitlist') {
      await outcomes.waitlistAfterOffers({
        appointmentId: input.appointmentId,
        runId: offer.run_id,
        offers: offer.offer_no,
      });
      score({ runId: offer.run_id, kind: 'escalated', ref: 'offers_exhausted', value: 1 });
      return finish('waitlisted');
    }
    state.phase = 'reoffering';
    state.reoffers += 1;
    await reoffer(offer);
    offer = await outcomes.openOffer({ appointmentId: input.appointmentId, responseMs: input.responseMs });
  }
  // The re-offer run waitlisted the appointment or left it undecided: nothing more to follow.
  return finish('undecided');

  async function reoffer(declined: OfferView): Promise<void> {
    const child = `${workflowInfo().workflowId}-reoffer-${declined.offer_no}`;
    log.info('re-offering', { appointment: input.appointmentId, after: declined.offer_no, child });
    const result: ReassignmentResult = await executeChild('reassignment', {
      workflowId: child,
      taskQueue: input.taskQueue,
      args: [
        {
          providerId: declined.from_provider_id,
          date: declined.date,
          reason: `re-offer after offer ${declined.offer_no} was ${state.answers.at(-1)?.answer ?? 'turned down'}`,
          mode: declined.decided_by === 'code' ? 'code' : 'prompt',
          only: [input.appointmentId],
          pinFrom: declined.run_id,
        },
      ],
      // The follow-up closing (it never does before its child) must not stop a run mid-way.
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
    log.info('re-offer run finished', { appointment: input.appointmentId, status: result.status });
  }

  async function awaitRating(accepted: OfferView): Promise<FollowUpState> {
    state.phase = 'awaiting_rating';
    const got = await condition(() => rating !== undefined, input.satisfactionMs);
    if (!got || !rating) return finish('accepted');
    const recorded = await outcomes.recordSatisfaction({
      appointmentId: input.appointmentId,
      score: rating.score,
      by: rating.by,
    });
    state.satisfaction = recorded.score;
    rated = { appointment_id: input.appointmentId, score: recorded.score };
    score({ runId: accepted.run_id, kind: 'satisfaction', ref: String(recorded.offer_no), value: recorded.score });
    return finish('accepted');
  }

  async function finish(outcome: FollowUpState['outcome']): Promise<FollowUpState> {
    state.phase = 'finished';
    state.outcome = outcome;
    await Promise.all(scoring);
    return state;
  }
}

function describePhase(s: FollowUpState): string {
  switch (s.phase) {
    case 'starting':
      return `the follow-up ${FOLLOW_UP_STARTING}: try again in a moment`;
    case 'awaiting_answer':
      return `offer ${s.offer?.offer_no} is being answered`;
    case 'reoffering':
      return FOLLOW_UP_BUSY;
    case 'awaiting_rating':
      return 'the offer was accepted';
    case 'finished':
      return `the follow-up is over (${s.outcome})`;
  }
}
