import type { Sql } from '../db/sql';
import type { Progress } from '../workflows/contract/types';

/**
 * A running run's decisions as they happen. The workflow's `progress` query counts a batch's decisions when the
 * batch ends, so while a batch waits (for an approval, say) it would say 0 decided although the batch has already
 * moved or waitlisted some appointments. Every decision is written to the scheduling database with the run's id,
 * in the transaction that makes it: the API reads those counts there (when the database is on this machine) and
 * shows whichever is further along. Nothing in the workflow changes.
 */
export class LiveDecisions {
  /** On the scheduling database the workers write to (the API's own connection to it). */
  constructor(private readonly db: Sql) {}

  /** The run's assignments and waitlist entries written so far; undefined when the database does not answer. */
  async counts(runId: string): Promise<{ assigned: number; waitlisted: number } | undefined> {
    try {
      return await this.db.get<{ assigned: number; waitlisted: number }>(
        `SELECT (SELECT COUNT(*) FROM assignments WHERE run_id = @run) AS assigned,
                (SELECT COUNT(*) FROM waitlist WHERE run_id = @run) AS waitlisted`,
        { run: runId },
      );
    } catch {
      return undefined; // the query's figures stand
    }
  }

  /** The progress with the decisions the database already holds. */
  async overlay(progress: Progress): Promise<Progress> {
    const live = await this.counts(progress.workflow_id);
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
}
