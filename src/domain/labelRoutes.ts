import { RunRecords } from './runRecords';

/**
 * Label routes: a label of a prompt that resolves as another label (production follows conservative), moved by
 * the adaptation policy or pinned by a person, every move recorded.
 */

/** A route change that cannot be made as things stand (unpinning a route nobody pinned): a one-line answer. */
export class LabelRouteRefusal extends Error {
  override name = 'LabelRouteRefusal';
}

export interface LabelRoute {
  prompt: string;
  label: string;
  follows: string;
  pinned_by: string | null;
  pinned_at: string | null;
  updated_at: string;
}

export interface LabelRouteMove {
  id: number;
  prompt: string;
  label: string;
  from_label: string | null;
  to_label: string;
  reason: string;
  figures: unknown;
  moved_by: string;
  created_at: string;
}

/** The outcome figures of the runs that used one label of the scoring strategy, over a window. */
export interface LabelOutcomeFigures {
  /** The label whose runs were counted (the one the route follows now). */
  label: string;
  /** Offers created since this time were counted (the window's start, or the route's last move if later). */
  since: string;
  runs: number;
  offered_appointments: number;
  /** Offers answered accepted, declined or not at all by their deadline (an offer superseded is no answer). */
  answered: number;
  accepted: number;
  acceptance_rate: number | null;
  satisfaction_count: number;
  /** Mean satisfaction score over 5 (a 0-1 scale), null without scores. */
  satisfaction: number | null;
  escalations: number;
  /** Escalations raised about those runs' decisions per 100 offered appointments, null without offers. */
  escalations_per_100: number | null;
}

interface MoveRow extends Omit<LabelRouteMove, 'figures'> {
  figures_json: string | null;
  idempotency_key: string | null;
}

const now = () => new Date().toISOString();
const ANSWERED =
  "o.status IN ('accepted','declined') OR (o.status = 'no_answer' AND COALESCE(o.reason,'') <> 'superseded')";

export class LabelRouteRecords extends RunRecords {
  labelRoute(prompt: string, label: string): LabelRoute | undefined {
    return this.db.prepare('SELECT * FROM label_routes WHERE prompt = ? AND label = ?').get(prompt, label) as
      LabelRoute | undefined;
  }

  labelRoutes(prompt?: string): LabelRoute[] {
    return this.db
      .prepare('SELECT * FROM label_routes WHERE (@prompt IS NULL OR prompt = @prompt) ORDER BY prompt, label')
      .all({ prompt: prompt ?? null }) as LabelRoute[];
  }

  /** The label a run asking for `label` gets: the one the route follows, or the label itself without a route. */
  routedLabel(prompt: string, label: string): string {
    return this.labelRoute(prompt, label)?.follows ?? label;
  }

  /** The route's moves, newest first. */
  labelRouteMoves(prompt: string, label: string, limit = 20): LabelRouteMove[] {
    const rows = this.db
      .prepare('SELECT * FROM label_route_moves WHERE prompt = ? AND label = ? ORDER BY id DESC LIMIT ?')
      .all(prompt, label, limit) as MoveRow[];
    return rows.map(toMove);
  }

  /**
   * Moves a route, as the adaptation policy does: once per key (a retried activity returns the first move),
   * refused when a person pinned the route or when it no longer follows `from` (it moved meanwhile).
   */
  moveLabelRoute(m: {
    prompt: string;
    label: string;
    from: string;
    to: string;
    reason: string;
    figures?: unknown;
    by: string;
    key: string;
  }): { moved: LabelRouteMove } | { refused: string } {
    return this.db
      .transaction((): { moved: LabelRouteMove } | { refused: string } => {
        const prior = this.db.prepare('SELECT * FROM label_route_moves WHERE idempotency_key = ?').get(m.key) as
          MoveRow | undefined;
        if (prior) return { moved: toMove(prior) };
        const route = this.labelRoute(m.prompt, m.label);
        if (route?.pinned_by) return { refused: `pinned by ${route.pinned_by} at ${route.pinned_at}` };
        const current = route?.follows ?? m.label;
        if (current !== m.from) return { refused: `the route follows ${current} now, not ${m.from}` };
        return { moved: this.writeMove(m, { pinned: undefined }) };
      })
      .immediate();
  }

  /**
   * A person pins the route (to `to`, or where it is): the policy leaves it alone until it is unpinned. Recorded
   * as a move.
   */
  pinLabelRoute(p: { prompt: string; label: string; to?: string; by: string; reason?: string }): LabelRouteMove {
    return this.db
      .transaction((): LabelRouteMove => {
        const route = this.labelRoute(p.prompt, p.label);
        const from = route?.follows ?? p.label;
        const to = p.to ?? from;
        const move = this.writeMove(
          {
            prompt: p.prompt,
            label: p.label,
            from,
            to,
            reason: `pinned by ${p.by}${p.reason ? `: ${p.reason}` : ''}`,
            by: p.by,
          },
          { pinned: { pinned_by: p.by, pinned_at: now() } },
        );
        return move;
      })
      .immediate();
  }

  /** Lifts a person's pin: the policy may move the route again. Recorded as a move (to where it is). */
  unpinLabelRoute(p: { prompt: string; label: string; by: string; reason?: string }): LabelRouteMove {
    return this.db
      .transaction((): LabelRouteMove => {
        const route = this.labelRoute(p.prompt, p.label);
        if (!route?.pinned_by) throw new LabelRouteRefusal(`${p.prompt} label ${p.label} is not pinned`);
        return this.writeMove(
          {
            prompt: p.prompt,
            label: p.label,
            from: route.follows,
            to: route.follows,
            reason: `unpinned by ${p.by} (was pinned by ${route.pinned_by})${p.reason ? `: ${p.reason}` : ''}`,
            by: p.by,
          },
          { pinned: undefined },
        );
      })
      .immediate();
  }

  private writeMove(
    m: {
      prompt: string;
      label: string;
      from: string;
      to: string;
      reason: string;
      figures?: unknown;
      by: string;
      key?: string;
    },
    o: { pinned: { pinned_by: string | null; pinned_at: string | null } | undefined },
  ): LabelRouteMove {
    this.db
      .prepare(
        `INSERT INTO label_routes (prompt, label, follows, pinned_by, pinned_at, updated_at) VALUES (@prompt, @label, @to, @pinnedBy, @pinnedAt, @now)
         ON CONFLICT (prompt, label) DO UPDATE SET follows = excluded.follows, pinned_by = excluded.pinned_by,
           pinned_at = excluded.pinned_at, updated_at = excluded.updated_at`,
      )
      .run({
        prompt: m.prompt,
        label: m.label,
        to: m.to,
        pinnedBy: o.pinned?.pinned_by ?? null,
        pinnedAt: o.pinned?.pinned_at ?? null,
        now: now(),
      });
    const info = this.db
      .prepare(
        'INSERT INTO label_route_moves (prompt, label, from_label, to_label, reason, figures_json, moved_by, idempotency_key, created_at) VALUES (?,?,?,?,?,?,?,?,?)',
      )
      .run(
        m.prompt,
        m.label,
        m.from,
        m.to,
        m.reason.slice(0, 1000),
        m.figures === undefined ? null : JSON.stringify(m.figures),
        m.by,
        m.key ?? null,
        now(),
      );
    return toMove(this.db.prepare('SELECT * FROM label_route_moves WHERE id = ?').get(info.lastInsertRowid) as MoveRow);
  }

  /**
   * The outcome figures of the runs whose scoring strategy resolved to `label` (run_prompts.scoring_label), for
   * the offers created since `since`: what the adaptation policy judges a strategy by.
   */
  scoringOutcomeFigures(label: string, since: string): LabelOutcomeFigures {
    const runs = `SELECT run_id FROM run_prompts WHERE scoring_label = @label`;
    const params = { label, since };
    const o = this.db
      .prepare(
        `SELECT COUNT(DISTINCT o.run_id) AS runs, COUNT(DISTINCT o.appointment_id) AS offered_appointments,
           COALESCE(SUM(${ANSWERED}), 0) AS answered, COALESCE(SUM(o.status = 'accepted'), 0) AS accepted
         FROM offers o WHERE o.run_id IN (${runs}) AND o.created_at >= @since`,
      )
      .get(params) as { runs: number; offered_appointments: number; answered: number; accepted: number };
    const s = this.db
      .prepare(
        `SELECT COUNT(*) AS n, COALESCE(SUM(s.score), 0) AS total FROM satisfaction s
         JOIN offers o ON o.appointment_id = s.appointment_id AND o.offer_no = s.offer_no
         WHERE s.run_id IN (${runs}) AND o.created_at >= @since`,
      )
      .get(params) as { n: number; total: number };
    const e = this.db
      .prepare(`SELECT COUNT(*) AS n FROM escalations WHERE run_id IN (${runs}) AND created_at >= @since`)
      .get(params) as { n: number };
    return {
      label,
      since,
      runs: o.runs,
      offered_appointments: o.offered_appointments,
      answered: o.answered,
      accepted: o.accepted,
      acceptance_rate: o.answered > 0 ? o.accepted / o.answered : null,
      satisfaction_count: s.n,
      satisfaction: s.n > 0 ? s.total / s.n / 5 : null,
      escalations: e.n,
      escalations_per_100: o.offered_appointments > 0 ? (e.n * 100) / o.offered_appointments : null,
    };
  }
}

function toMove({ figures_json, idempotency_key: _k, ...r }: MoveRow): LabelRouteMove {
  return { ...r, figures: figures_json ? (JSON.parse(figures_json) as unknown) : null };
}
