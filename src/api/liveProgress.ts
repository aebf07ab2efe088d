import fs from 'node:fs';
import Database from 'better-sqlite3';
import type { Progress } from '../workflows/contract/types';

/**
 * A running run's decisions as they happen. The workflow's `progress` query counts a batch's decisions when the
 * batch ends, so while a batch waits (for an approval, say) it would say 0 decided although the batch has already
 * moved or waitlisted some appointments. Every decision is written to the scheduling database with the run's id,
 * in the transaction that makes it: the API reads those counts there (when the database is on this machine) and
 * shows whichever is further along. Nothing in the workflow changes.
 */
export class LiveDecisions {
  private db: Database.Database | undefined;

  constructor(private readonly file: string) {}

  private open(): Database.Database | undefined {
    if (!this.db && this.file !== ':memory:' && fs.existsSync(this.file))
      this.db = new Database(this.file, { readonly: true, fileMustExist: true });
    return this.db;
  }

  /** The run's assignments and waitlist entries written so far; undefined without the database. */
  counts(runId: string): { assigned: number; waitlisted: number } | undefined {
    const db = this.open();
    if (!db) return undefined;
    try {
      const one = (sql: string) => (db.prepare(sql).get(runId) as { n: number }).n;
      return {
        assigned: one('SELECT COUNT(*) AS n FROM assignments WHERE run_id = ?'),
        waitlisted: one('SELECT COUNT(*) AS n FROM waitlist WHERE run_id = ?'),
      };
    } catch {
      return undefined; // a database without those tables yet: the query's figures stand
    }
  }

  /** The progress with the decisions the database already holds. */
  overlay(progress: Progress): Progress {
    const live = this.counts(progress.workflow_id);
    if (!live) return progress;
    const assigned = Math.max(progress.assigned, live.assigned);
    const waitlisted = Math.max(progress.waitlisted, live.waitlisted);
    const decided = Math.max(progress.decided, assigned + waitlisted);
    return {
      ...progress,
      assigned,
      waitlisted,
      decided,
    };
  }

  close(): void {
    this.db?.close();
  }
}
