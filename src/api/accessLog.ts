import { z } from 'zod';
import type { Sql } from '../db/sql';

/**
 * The API's access log, kept in the scheduling database beside the decisions it explains: who asked, what, when,
 * and the outcome. Failed authentications and every view of patient data are in it, and every change (a start,
 * a decision, a cancel); the reads a console polls every two seconds are not, unless they are refused. It holds
 * no secret (never a key, only the name it belongs to) and no patient data (paths name workflow and appointment
 * ids; query strings are not kept). The `auditor` role reads it through GET /api/access-log.
 */

export const accessOutcomeSchema = z.enum(['ok', 'refused', 'failed authentication', 'forbidden', 'error']);

export const accessEntrySchema = z.object({
  id: z.number().int(),
  at: z.string().describe('when the answer was sent (UTC)'),
  who: z.string().describe("the key's name; `unauthenticated` when no valid key came"),
  role: z.string().nullable(),
  address: z.string().describe("the caller's address"),
  method: z.string(),
  path: z.string().describe('the path, without its query string'),
  patient_data: z.boolean().describe('the answer carried patient data (include=patients)'),
  status: z.number().int(),
  outcome: accessOutcomeSchema,
});
export type AccessEntry = z.infer<typeof accessEntrySchema>;

export const accessLogQuerySchema = z
  .object({
    who: z.string().min(1).max(100).optional(),
    outcome: accessOutcomeSchema.optional(),
    patient_data: z.enum(['true', 'false']).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

export function outcomeOf(status: number): AccessEntry['outcome'] {
  if (status === 401) return 'failed authentication';
  if (status === 403) return 'forbidden';
  if (status >= 500) return 'error';
  if (status >= 400) return 'refused';
  return 'ok';
}

export class AccessLog {
  /** On the scheduling database (its table is in the schema's migrations, src/db/schema.ts). */
  constructor(private readonly db: Sql) {}

  async record(e: Omit<AccessEntry, 'id' | 'at' | 'outcome'>): Promise<void> {
    await this.db.run(
      'INSERT INTO access_log (who, role, address, method, path, patient_data, status, outcome) VALUES (?,?,?,?,?,?,?,?)',
      [e.who, e.role, e.address, e.method, e.path, e.patient_data ? 1 : 0, e.status, outcomeOf(e.status)],
    );
  }

  /** Newest first. */
  async entries(filter: z.infer<typeof accessLogQuerySchema>): Promise<AccessEntry[]> {
    const conditions: [string, unknown][] = [];
    if (filter.who) conditions.push(['who = ?', filter.who]);
    if (filter.outcome) conditions.push(['outcome = ?', filter.outcome]);
    if (filter.patient_data) conditions.push(['patient_data = ?', filter.patient_data === 'true' ? 1 : 0]);
    const where = conditions.map(([c]) => c);
    const args = conditions.map(([, v]) => v);
    const rows = await this.db.all<Omit<AccessEntry, 'patient_data'> & { patient_data: number }>(
      `SELECT * FROM access_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
      [...args, filter.limit],
    );
    return rows.map((r) => ({ ...r, patient_data: r.patient_data === 1 }));
  }
}
