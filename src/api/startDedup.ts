import { createHash } from 'node:crypto';
import type { Sql } from '../db/sql';

/**
 * One request, one run. A POST that is retried (a timeout, a double click) must not start a second run:
 *
 * - With an `Idempotency-Key` header, the key (its SHA-256, never the key itself) is recorded with the caller's
 *   name, the request's fingerprint and the run's workflow id, in the scheduling database, before the run starts.
 *   The same key with the same request is answered with that run again (200, `Idempotent-Replayed: true`), for as
 *   long as the database keeps it; the same key with another request is refused (422).
 * - Without a key, identical starts while the first is still in flight, or while the run it started is still
 *   running, get that run (200) instead of a new one: ten identical concurrent starts make one run. (Within one
 *   API process; across several, send a key.)
 */

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export interface Started {
  workflowId: string;
  runId: string;
  type: string;
  mode: string;
}

export type StartAnswer = Started & { replayed: boolean };

/** The request's identity: its fields in a fixed order (key order in the JSON body does not matter). */
export function fingerprintOf(request: Record<string, unknown>): string {
  return sha256(
    JSON.stringify(
      Object.keys(request)
        .sort()
        .map((k) => [k, request[k]]),
    ),
  );
}

export class KeyReused extends Error {}

export class StartDedup {
  private readonly inFlight = new Map<string, Promise<Started>>();
  /** The last run each fingerprint started here, to find it while it runs. */
  private readonly recent = new Map<string, Started>();

  /** On the scheduling database (its tables are in the schema's migrations, src/db/schema.ts). */
  constructor(private readonly db: Sql) {}

  /** A workflow id that the key (and who sent it) always gives, whatever the attempt. */
  static workflowIdFor(who: string, key: string, providerId: string, date: string): string {
    return `reassign-${providerId}-${date}-key-${sha256(`${who}\0${key}`).slice(0, 20)}`;
  }

  /**
   * Starts once per request: `start` is called only when no earlier request answers this one. `isRunning` says
   * whether a run found for an identical request (no key) is still running.
   */
  async start(
    request: { who: string; key?: string; fingerprint: string; workflowId?: string },
    start: () => Promise<Started>,
    isRunning: (workflowId: string) => Promise<boolean>,
    existing: (workflowId: string) => Promise<Started>,
  ): Promise<StartAnswer> {
    if (request.key !== undefined) return this.startWithKey({ ...request, key: request.key }, start, existing);
    const flight = this.inFlight.get(request.fingerprint);
    if (flight) return { ...(await flight), replayed: true };
    // The whole decision is one flight: identical requests that come meanwhile wait for it.
    const attempt = (async (): Promise<StartAnswer> => {
      const last = this.recent.get(request.fingerprint);
      if (last && (await isRunning(last.workflowId).catch(() => false))) return { ...last, replayed: true };
      const run = await start();
      this.recent.set(request.fingerprint, run);
      if (this.recent.size > 1000) this.recent.delete(this.recent.keys().next().value!);
      return { ...run, replayed: false };
    })();
    this.inFlight.set(request.fingerprint, attempt);
    try {
      return await attempt;
    } finally {
      this.inFlight.delete(request.fingerprint);
    }
  }

  private async startWithKey(
    request: { who: string; key: string; fingerprint: string; workflowId?: string },
    start: () => Promise<Started>,
    existing: (workflowId: string) => Promise<Started>,
  ): Promise<StartAnswer> {
    const keyHash = sha256(request.key);
    const recorded = await this.db.get<{ fingerprint: string; workflow_id: string }>(
      'SELECT fingerprint, workflow_id FROM api_idempotency_keys WHERE who = ? AND key_sha256 = ?',
      [request.who, keyHash],
    );
    if (recorded) {
      if (recorded.fingerprint !== request.fingerprint)
        throw new KeyReused('this Idempotency-Key was already used for another request: use a new key');
      const flight = this.inFlight.get(`key:${keyHash}`);
      return { ...(flight ? await flight : await existing(recorded.workflow_id)), replayed: true };
    }
    const inserted = await this.db.run(
      'INSERT INTO api_idempotency_keys (who, key_sha256, fingerprint, workflow_id) VALUES (?,?,?,?) ON CONFLICT DO NOTHING',
      [request.who, keyHash, request.fingerprint, request.workflowId ?? ''],
    );
    // Another API process recorded the same key in between: its run answers this request.
    if (inserted.changes === 0) return this.startWithKey(request, start, existing);
    const started = start();
    this.inFlight.set(`key:${keyHash}`, started);
    try {
      return { ...(await started), replayed: false };
    } catch (err) {
      // Nothing started: the key is free again for a corrected request.
      await this.db.run('DELETE FROM api_idempotency_keys WHERE who = ? AND key_sha256 = ?', [request.who, keyHash]);
      throw err;
    } finally {
      this.inFlight.delete(`key:${keyHash}`);
    }
  }

  async recordStarter(workflowId: string, who: string): Promise<void> {
    await this.db.run('INSERT INTO api_starts (workflow_id, started_by) VALUES (?,?) ON CONFLICT DO NOTHING', [
      workflowId,
      who,
    ]);
  }

  /** Who started these runs through the API, by workflow id. */
  async starters(workflowIds: string[]): Promise<Map<string, string>> {
    if (workflowIds.length === 0) return new Map();
    const rows = await this.db.all<{ workflow_id: string; started_by: string }>(
      `SELECT workflow_id, started_by FROM api_starts WHERE workflow_id IN (${workflowIds.map(() => '?').join(',')})`,
      workflowIds,
    );
    return new Map(rows.map((r) => [r.workflow_id, r.started_by]));
  }
}
