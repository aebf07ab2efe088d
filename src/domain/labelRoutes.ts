import type { OutcomeFigures } from './results';
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
export interface LabelOutcomeFigures extends OutcomeFigures {
  /** The label whose runs were counted (the one the route follows now). */
  label: string;
}

interface MoveRow extends Omit<LabelRouteMove, 'figures'> {
  figures_json: string | null;
  idempotency_key: string | null;
}

const now = () => new Date().toISOString();
const ANSWERED =
  "(o.status IN ('accepted','declined') OR (o.status = 'no_answer' AND COALESCE(o.reason,'') <> 'superseded'))";

export class LabelRouteRecords extends RunRecords {
  labelRoute(prompt: string, label: string): Promise<LabelRoute | undefined> {
    return this.db.get('SELECT * FROM label_routes WHERE prompt = ? AND label = ?', [prompt, label]);
  }

  labelRoutes(prompt?: string): Promise<LabelRoute[]> {
    return this.db.all(
      'SELECT * FROM label_routes WHERE (CAST(@prompt AS TEXT) IS NULL OR prompt = @prompt) ORDER BY prompt, label',
      { prompt: prompt ?? null },
    );
  }

  /** The label a run asking for `label` gets: the one the route follows, or the label itself without a route. */
  async routedLabel(prompt: string, label: string): Promise<string> {
    return (await this.labelRoute(prompt, label))?.follows ?? label;
  }

  /** The route's moves, newest first. */
  async labelRouteMoves(prompt: string, label: string, limit = 20): Promise<LabelRouteMove[]> {
    const rows = await this.db.all<MoveRow>(
      'SELECT * FROM label_route_moves WHERE prompt = ? AND label = ? ORDER BY id DESC LIMIT ?',
      [prompt, label, limit],
    );
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
  }): Promise<{ moved: LabelRouteMove } | { refused: string }> {
    return this.db.transaction(async (): Promise<{ moved: LabelRouteMove } | { refused: string }> => {
      const prior = await this.db.get<MoveRow>('SELECT * FROM label_route_moves WHERE idempotency_key = ?', [m.key]);
      if (prior) return { moved: toMove(prior) };
      const route = await this.labelRoute(m.prompt, m.label);
      if (route?.pinned_by) return { refused: `pinned by ${route.pinned_by} at ${route.pinned_at}` };
      const current = route?.follows ?? m.label;
      if (current !== m.from) return { refused: `the route follows ${current} now, not ${m.from}` };
      return { moved: await this.writeMove(m, { pinned: undefined }) };
    });
  }

  /**
   * A person pins the route (to `to`, or where it is): the policy leaves it alone until it is unpinned. Recorded
   * as a move.
   */
  pinLabelRoute(p: {
    prompt: string;
    label: string;
    to?: string;
    by: string;
    reason?: string;
  }): Promise<LabelRouteMove> {
    return this.db.transaction(async (): Promise<LabelRouteMove> => {
      const route = await this.labelRoute(p.prompt, p.label);
      const from = route?.follows ?? p.label;
      const to = p.to ?? from;
      return this.writeMove(
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
    });
  }

  /** Lifts a person's pin: the policy may move the route again. Recorded as a move (to where it is). */
  unpinLabelRoute(p: { prompt: string; label: string; by: string; reason?: string }): Promise<LabelRouteMove> {
    return this.db.transaction(async (): Promise<LabelRouteMove> => {
      const route = await this.labelRoute(p.prompt, p.label);
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
    });
  }

  private async writeMove(
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
  ): Promise<LabelRouteMove> {
    await this.db.run(
      `INSERT INTO label_routes (prompt, label, follows, pinned_by, pinned_at, updated_at) VALUES (@prompt, @label, @to, @pinnedBy, @pinnedAt, @now)
         ON CONFLICT (prompt, label) DO UPDATE SET follows = excluded.follows, pinned_by = excluded.pinned_by,
           pinned_at = excluded.pinned_at, updated_at = excluded.updated_at`,
      {
        prompt: m.prompt,
        label: m.label,
        to: m.to,
        pinnedBy: o.pinned?.pinned_by ?? null,
        pinnedAt: o.pinned?.pinned_at ?? null,
        now: now(),
      },
    );
    const row = await this.db.get<MoveRow>(
      'INSERT INTO label_route_moves (prompt, label, from_label, to_label, reason, figures_json, moved_by, idempotency_key, created_at) VALUES (?,?,?,?,?,?,?,?,?) RETURNING *',
      [
        m.prompt,
        m.label,
        m.from,
        m.to,
        m.reason.slice(0, 1000),
        m.figures === undefined ? null : JSON.stringify(m.figures),
        m.by,
        m.key ?? null,
        now(),
      ],
    );
    return toMove(row!);
  }

  /**
   * The outcome figures of the runs whose scoring strategy resolved to `label` (run_prompts.scoring_label), for
   * the offers created since `since`: what the adaptation policy judges a strategy by.
   */
  async scoringOutcomeFigures(label: string, since: string): Promise<LabelOutcomeFigures> {
    const runs = `SELECT run_id FROM run_prompts WHERE scoring_label = @label`;
    const params = { label, since };
    const o = (await this.db.get<{ runs: number; offered_appointments: number; answered: number; accepted: number }>(
      `SELECT COUNT(DISTINCT o.run_id) AS runs, COUNT(DISTINCT o.appointment_id) AS offered_appointments,
           COALESCE(SUM(CASE WHEN ${ANSWERED} THEN 1 ELSE 0 END), 0) AS answered,
           COALESCE(SUM(CASE WHEN o.status = 'accepted' THEN 1 ELSE 0 END), 0) AS accepted
         FROM offers o WHERE o.run_id IN (${runs}) AND o.created_at >= @since`,
      params,
    ))!;
    const s = (await this.db.get<{ n: number; total: number }>(
      `SELECT COUNT(*) AS n, COALESCE(SUM(s.score), 0) AS total FROM satisfaction s
         JOIN offers o ON o.appointment_id = s.appointment_id AND o.offer_no = s.offer_no
         WHERE s.run_id IN (${runs}) AND o.created_at >= @since`,
      params,
    ))!;
    const e = (await this.db.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM escalations WHERE run_id IN (${runs}) AND created_at >= @since`,
      params,
    ))!;
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
