import type { Client } from '@temporalio/client';
import type { AppConfig } from './config';
import type { Escalation, EscalationStatus, Offer } from './domain/outcomes';
import type { LabelRoute, LabelRouteMove } from './domain/labelRoutes';
import { targetOf } from './db/open';
import { withSchedulingStore, type SchedulingStore } from './domain/store';
import { answerOffer, rateVisit, type FollowUpLookup } from './temporal/followUps';
import type { AnswerAccepted, OfferAnswerRequest, RatingRequest } from './workflows/contract/outcomes';

/**
 * What the API and the CLI do about outcomes: a patient's answer and visit score go to the appointment's
 * follow-up workflow (Updates, answered at once: accepted, or refused in one line); the offers and the
 * escalations inbox are read from the scheduling database, where acknowledging or resolving an escalation is
 * recorded with who and when.
 */

export class OutcomeDesk {
  constructor(
    private readonly temporal: Client,
    private readonly config: AppConfig,
  ) {}

  answer(appointmentId: string, req: OfferAnswerRequest): Promise<AnswerAccepted> {
    return answerOffer(this.temporal, this.lookup(), appointmentId, req);
  }

  rate(appointmentId: string, req: RatingRequest): Promise<{ appointment_id: string; score: number }> {
    return rateVisit(this.temporal, this.lookup(), appointmentId, req);
  }

  /** Finds an appointment's follow-up from its latest offer in the database (opened for the lookup only). */
  private lookup(): FollowUpLookup {
    return { latestOffer: (id) => this.withStore((store) => store.latestOffer(id)) };
  }

  /** The appointment's offers and its satisfaction score, or undefined for an unknown appointment. */
  offers(appointmentId: string): Promise<{ offers: Offer[]; satisfaction: number | null } | undefined> {
    return this.withStore(async (store) => {
      if (!(await store.appointment(appointmentId))) return undefined;
      return {
        offers: await store.offers(appointmentId),
        satisfaction: (await store.satisfactionOf(appointmentId))?.score ?? null,
      };
    });
  }

  async escalations(filter: { status?: EscalationStatus; limit?: number }): Promise<Escalation[]> {
    return (await this.withStore((store) => store.escalations(filter))) ?? [];
  }

  async moveEscalation(id: number, to: 'acknowledged' | 'resolved', by: string, note?: string): Promise<Escalation> {
    return (await this.withStore((store) => store.moveEscalation(id, to, by, note)))!;
  }

  /**
   * The label routes (the adaptation policy's, or a person's pin; docs/adaptation.md), each with its last move:
   * which scoring strategy runs use now, and why.
   */
  async labelRoutes(): Promise<(LabelRoute & { last_move: LabelRouteMove | null })[]> {
    const found = await this.withStore(async (store) => {
      const routes = await store.labelRoutes();
      return Promise.all(
        routes.map(async (r) => ({ ...r, last_move: (await store.labelRouteMoves(r.prompt, r.label, 1))[0] ?? null })),
      );
    });
    return found ?? [];
  }

  private withStore<T>(fn: (store: SchedulingStore) => Promise<T>): Promise<T | undefined> {
    return withSchedulingStore(targetOf(this.config), fn, this.config);
  }
}
