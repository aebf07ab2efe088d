import { LabelRouteRecords } from './labelRoutes';
import { DomainRefusal } from './refusals';
import { followUpWorkflowId } from '../workflowIds';

/**
 * What happened after a decision: the offers patients were told about and their answers, satisfaction scores,
 * and the escalations a head of department must see. An answer and what it implies (the slot released) are one
 * transaction; an escalation is raised once per (kind, ref), however often the step that raises it is retried.
 */

export type OfferAnswer = 'accepted' | 'declined' | 'no_answer';
export type OfferStatus = 'open' | OfferAnswer;

export interface Offer {
  appointment_id: string;
  offer_no: number;
  provider_id: string;
  from_provider_id: string;
  score: number;
  band: string;
  run_id: string;
  decided_by: string;
  /** The follow-up workflow that waits for the answer. */
  follow_up_id: string;
  status: OfferStatus;
  reason: string | null;
  answered_by: string | null;
  answered_at: string | null;
  created_at: string;
}

/** An appointment's live (not released) assignment, as an offer is opened from it. */
export interface LiveAssignment {
  to_provider_id: string;
  from_provider_id: string;
  idempotency_key: string;
  score: number;
  band: string;
  run_id: string;
  decided_by: string;
}

export const escalationKinds = [
  'approval_rejected',
  'approval_timed_out',
  'second_decline',
  'offers_exhausted',
  'waitlisted_soon',
  'fallback_majority',
] as const;
export type EscalationKind = (typeof escalationKinds)[number];
export type EscalationStatus = 'open' | 'acknowledged' | 'resolved';

export interface Escalation {
  id: number;
  kind: EscalationKind;
  ref: string;
  appointment_id: string | null;
  run_id: string | null;
  reason: string;
  status: EscalationStatus;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
  note: string | null;
  created_at: string;
}

/** Outcome counts over a set of decisions (a run, a prompt version, an arm, a path). */
export interface OutcomeCounts {
  /** Appointments that were offered a slot at least once. */
  offered_appointments: number;
  offers: number;
  accepted: number;
  declined: number;
  no_answer: number;
  open: number;
  satisfaction_count: number;
  satisfaction_sum: number;
  escalations: number;
}

export interface AnswerRecorded {
  appointment_id: string;
  offer_no: number;
  answer: OfferAnswer;
  provider_id: string;
  run_id: string;
  /** Offers of this appointment answered declined or not at all, this one included. */
  refused_offers: number;
  /** The slot went back and the appointment is with the unavailable provider again (declined, no answer). */
  released: boolean;
}

/** The counts of no decision at all. */
export const EMPTY_OUTCOME_COUNTS: Readonly<OutcomeCounts> = {
  offered_appointments: 0,
  offers: 0,
  accepted: 0,
  declined: 0,
  no_answer: 0,
  open: 0,
  satisfaction_count: 0,
  satisfaction_sum: 0,
  escalations: 0,
};

const now = () => new Date().toISOString();

export class OutcomeRecords extends LabelRouteRecords {
  /** The prompts a run pinned and its path: what the outcomes of its decisions are attributed to. Idempotent. */
  async recordRunPrompts(r: {
    runId: string;
    mode: string;
    prompt: { name: string; label: string; version: number };
    scoring: { label: string; version: number };
    experiment?: { experiment: string; arm: string };
    bundle: unknown;
  }): Promise<void> {
    await this.db.run(
      'INSERT INTO run_prompts (run_id, mode, prompt_name, prompt_label, prompt_version, scoring_label, scoring_version, experiment, arm, bundle_json) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING',
      [
        r.runId,
        r.mode,
        r.prompt.name,
        r.prompt.label,
        r.prompt.version,
        r.scoring.label,
        r.scoring.version,
        r.experiment?.experiment ?? null,
        r.experiment?.arm ?? null,
        JSON.stringify(r.bundle),
      ],
    );
  }

  /** The prompts a run pinned, as it pinned them (a re-offer uses the same), or undefined if not recorded. */
  async runPrompts(runId: string): Promise<{ mode: string; bundle: unknown } | undefined> {
    const row = await this.db.get<{ mode: string; bundle_json: string }>(
      'SELECT mode, bundle_json FROM run_prompts WHERE run_id = ?',
      [runId],
    );
    return row ? { mode: row.mode, bundle: JSON.parse(row.bundle_json) as unknown } : undefined;
  }

  /**
   * Opens an offer for the appointment's live assignment, in the transaction that tells the patient (called by
   * `notify`). The offer is numbered after the appointment's earlier ones.
   */
  protected async openOfferFor(appointmentId: string, assignment: LiveAssignment): Promise<void> {
    const { n } = (await this.db.get<{ n: number }>(
      'SELECT COALESCE(MAX(offer_no), 0) AS n FROM offers WHERE appointment_id = ?',
      [appointmentId],
    ))!;
    await this.db.run(
      "UPDATE offers SET status = 'no_answer', reason = 'superseded', answered_at = ? WHERE appointment_id = ? AND status = 'open'",
      [now(), appointmentId],
    );
    await this.db.run(
      'INSERT INTO offers (appointment_id, offer_no, provider_id, from_provider_id, score, band, run_id, decided_by, assignment_key, follow_up_id) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING',
      [
        appointmentId,
        n + 1,
        assignment.to_provider_id,
        assignment.from_provider_id,
        assignment.score,
        assignment.band,
        assignment.run_id,
        assignment.decided_by,
        assignment.idempotency_key,
        followUpWorkflowId(appointmentId, assignment.run_id),
      ],
    );
  }

  /** The appointment's latest offer (open or answered), or undefined if it was never offered a slot. */
  latestOffer(appointmentId: string): Promise<Offer | undefined> {
    return this.db.get('SELECT * FROM offers WHERE appointment_id = ? ORDER BY offer_no DESC LIMIT 1', [appointmentId]);
  }

  /** Every open offer, oldest first (what patients have yet to answer). */
  openOffers(): Promise<Offer[]> {
    return this.db.all("SELECT * FROM offers WHERE status = 'open' ORDER BY created_at, appointment_id");
  }

  offers(appointmentId: string): Promise<Offer[]> {
    return this.db.all('SELECT * FROM offers WHERE appointment_id = ? ORDER BY offer_no', [appointmentId]);
  }

  /** Providers whose offer for this appointment the patient declined or let pass: never offered again. */
  async refusedProvidersOf(appointmentId: string): Promise<string[]> {
    const rows = await this.db.all<{ provider_id: string }>(
      "SELECT provider_id FROM offers WHERE appointment_id = ? AND status IN ('declined','no_answer')",
      [appointmentId],
    );
    return rows.map((r) => r.provider_id);
  }

  /**
   * Records the answer to an open offer. Declined or unanswered, the slot goes back in the same transaction: the
   * assignment is released and the appointment is with the unavailable provider again, to be decided anew.
   * Idempotent: the same answer again returns what was recorded; another answer to a closed offer is refused.
   */
  answerOffer(a: {
    appointmentId: string;
    offerNo: number;
    answer: OfferAnswer;
    reason?: string;
    by: string;
  }): Promise<AnswerRecorded> {
    return this.db.transaction(async (): Promise<AnswerRecorded> => {
      await this.requireAppointment(a.appointmentId);
      const offer = await this.db.get<Offer & { assignment_key: string }>(
        'SELECT * FROM offers WHERE appointment_id = ? AND offer_no = ?',
        [a.appointmentId, a.offerNo],
      );
      if (!offer)
        throw new DomainRefusal(`appointment ${a.appointmentId} has no offer number ${a.offerNo}`, 'no_open_offer');
      if (offer.status !== 'open' && offer.status !== a.answer)
        throw new DomainRefusal(
          `offer ${a.offerNo} of ${a.appointmentId} is closed: it was answered ${offer.status}`,
          'offer_closed',
        );
      const released = a.answer !== 'accepted';
      if (offer.status === 'open') {
        await this.db.run(
          'UPDATE offers SET status = ?, reason = ?, answered_by = ?, answered_at = ? WHERE appointment_id = ? AND offer_no = ?',
          [a.answer, a.reason ?? null, a.by, now(), a.appointmentId, a.offerNo],
        );
        if (released) {
          const live = await this.db.get<{ from_provider_id: string; released_at: string | null }>(
            'SELECT from_provider_id, released_at FROM assignments WHERE idempotency_key = ?',
            [offer.assignment_key],
          );
          if (live && live.released_at === null) {
            await this.db.run('UPDATE assignments SET released_at = ? WHERE idempotency_key = ?', [
              now(),
              offer.assignment_key,
            ]);
            await this.db.run("UPDATE appointments SET provider_id = ?, status = 'scheduled' WHERE id = ?", [
              live.from_provider_id,
              a.appointmentId,
            ]);
          }
        }
      }
      const { n: refused } = (await this.db.get<{ n: number }>(
        "SELECT COUNT(*) AS n FROM offers WHERE appointment_id = ? AND status IN ('declined','no_answer')",
        [a.appointmentId],
      ))!;
      return {
        appointment_id: a.appointmentId,
        offer_no: a.offerNo,
        answer: a.answer,
        provider_id: offer.provider_id,
        run_id: offer.run_id,
        refused_offers: refused,
        released,
      };
    });
  }

  /** A patient's score of the visit (1-5), kept with the accepted offer that produced the slot. Once per appointment. */
  recordSatisfaction(s: { appointmentId: string; score: number; by: string }): Promise<{
    appointment_id: string;
    score: number;
    offer_no: number;
    run_id: string;
    recorded: boolean;
  }> {
    return this.db.transaction(async () => {
      await this.requireAppointment(s.appointmentId);
      if (!Number.isInteger(s.score) || s.score < 1 || s.score > 5)
        throw new RangeError(`a satisfaction score is a whole number from 1 to 5, not ${s.score}`);
      const offer = await this.db.get<{ offer_no: number; run_id: string }>(
        "SELECT offer_no, run_id FROM offers WHERE appointment_id = ? AND status = 'accepted' ORDER BY offer_no DESC LIMIT 1",
        [s.appointmentId],
      );
      if (!offer)
        throw new DomainRefusal(
          `appointment ${s.appointmentId} has no accepted offer: there is no visit to score`,
          'no_accepted_offer',
        );
      const prior = await this.db.get<{ score: number; offer_no: number }>(
        'SELECT score, offer_no FROM satisfaction WHERE appointment_id = ?',
        [s.appointmentId],
      );
      if (prior) {
        if (prior.score === s.score && prior.offer_no === offer.offer_no)
          return { appointment_id: s.appointmentId, score: s.score, ...offer, recorded: false };
        throw new DomainRefusal(`appointment ${s.appointmentId} already has a satisfaction score`, 'already_rated');
      }
      await this.db.run(
        'INSERT INTO satisfaction (appointment_id, offer_no, score, run_id, recorded_by) VALUES (?,?,?,?,?)',
        [s.appointmentId, offer.offer_no, s.score, offer.run_id, s.by],
      );
      return { appointment_id: s.appointmentId, score: s.score, ...offer, recorded: true };
    });
  }

  satisfactionOf(appointmentId: string): Promise<{ score: number; offer_no: number; run_id: string } | undefined> {
    return this.db.get('SELECT score, offer_no, run_id FROM satisfaction WHERE appointment_id = ?', [appointmentId]);
  }

  /** Raises an escalation once: the same (kind, ref) again returns the first one, unchanged. */
  raiseEscalation(e: {
    kind: EscalationKind;
    ref: string;
    appointmentId?: string;
    runId?: string;
    reason: string;
  }): Promise<{ escalation: Escalation; raised: boolean }> {
    return this.db.transaction(async () => {
      const info = await this.db.run(
        'INSERT INTO escalations (kind, ref, appointment_id, run_id, reason) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING',
        [e.kind, e.ref, e.appointmentId ?? null, e.runId ?? null, e.reason.slice(0, 500)],
      );
      const escalation = (await this.db.get<Escalation>('SELECT * FROM escalations WHERE kind = ? AND ref = ?', [
        e.kind,
        e.ref,
      ]))!;
      return { escalation, raised: info.changes === 1 };
    });
  }

  escalations(filter: { status?: EscalationStatus; limit?: number } = {}): Promise<Escalation[]> {
    return this.db.all(
      'SELECT * FROM escalations WHERE (CAST(@status AS TEXT) IS NULL OR status = @status) ORDER BY id DESC LIMIT @limit',
      { status: filter.status ?? null, limit: filter.limit ?? 500 },
    );
  }

  escalation(id: number): Promise<Escalation | undefined> {
    return this.db.get('SELECT * FROM escalations WHERE id = ?', [id]);
  }

  /** Acknowledge (someone is on it) or resolve (done, with an optional note), recording who and when. */
  moveEscalation(id: number, to: 'acknowledged' | 'resolved', by: string, note?: string): Promise<Escalation> {
    return this.db.transaction(async (): Promise<Escalation> => {
      const e = await this.escalation(id);
      if (!e) throw new DomainRefusal(`unknown escalation ${id}`, 'unknown_escalation');
      if (e.status === 'resolved' || (to === 'acknowledged' && e.status === 'acknowledged'))
        throw new DomainRefusal(`escalation ${id} is already ${e.status}`, 'escalation_closed');
      if (to === 'acknowledged')
        await this.db.run(
          "UPDATE escalations SET status = 'acknowledged', acknowledged_by = ?, acknowledged_at = ? WHERE id = ?",
          [by, now(), id],
        );
      else
        await this.db.run(
          "UPDATE escalations SET status = 'resolved', resolved_by = ?, resolved_at = ?, note = COALESCE(?, note) WHERE id = ?",
          [by, now(), note ?? null, id],
        );
      return (await this.escalation(id))!;
    });
  }

  /** Outcome counts of the decisions made by these runs (offers by the run that decided them). */
  async outcomeCounts(runIds: readonly string[]): Promise<OutcomeCounts> {
    if (runIds.length === 0) return { ...EMPTY_OUTCOME_COUNTS };
    const ids = [...new Set(runIds)];
    const list = ids.map(() => '?').join(',');
    const count = (status: string) => `COALESCE(SUM(CASE WHEN status = '${status}' THEN 1 ELSE 0 END), 0) AS ${status}`;
    const offers = (await this.db.get<Omit<OutcomeCounts, 'satisfaction_count' | 'satisfaction_sum' | 'escalations'>>(
      `SELECT COUNT(DISTINCT appointment_id) AS offered_appointments, COUNT(*) AS offers,
         ${['accepted', 'declined', 'no_answer', 'open'].map(count).join(', ')}
       FROM offers WHERE run_id IN (${list})`,
      ids,
    ))!;
    const sat = (await this.db.get<{ satisfaction_count: number; satisfaction_sum: number }>(
      `SELECT COUNT(*) AS satisfaction_count, COALESCE(SUM(score), 0) AS satisfaction_sum FROM satisfaction WHERE run_id IN (${list})`,
      ids,
    ))!;
    const esc = (await this.db.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM escalations WHERE run_id IN (${list})`,
      ids,
    ))!;
    return { ...offers, ...sat, escalations: esc.n };
  }
}
