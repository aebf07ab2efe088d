import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from '../src/db/postgresServer';
import { approveSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { decisionsOf } from '../src/cli/format';
import { auditStore, startHarness, waitForProgress, type Harness } from './support/harness';

/**
 * PostgreSQL stopped in the middle of a run (issue 21): the activities that need it fail and Temporal retries them;
 * nothing is written half-way; once the database is back the run goes on where it was and ends as it would have.
 * The cluster is this test's own, on a port of its own, so stopping it disturbs no other test.
 */

test('PostgreSQL stopped mid-run: activities fail retryably, the run resumes when it is back, nothing lost', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reassign-pg-outage-'));
  fs.chmodSync(dir, 0o755);
  let pg = await startPostgres({ dir: path.join(dir, 'pg'), stopWithProcess: true });
  const port = pg.port;
  let h: Harness | undefined;
  try {
    h = await startHarness({ target: { kind: 'postgres', url: await pg.createDatabase('outage') } });
    // The production prompt asks a human about A002: the run waits there, with A001 already decided.
    const handle = await h.start('promptDrivenReassignment', {
      providerId: 'T001',
      date: '2025-11-21',
      reason: 'sick',
      promptLabel: 'production',
    });
    await waitForProgress(handle, (p) => p.pending_approvals.some((a) => a.appointment_id === 'A002'), 60_000);

    await pg.stop();
    // The approval arrives while the database is down: recording it is an activity that now fails.
    await handle.signal(approveSignal, { appointmentId: 'A002', by: 'operator during the outage' });
    // The batch (a child workflow) goes on with it: its store activity is being retried, with the database's error.
    let failing: { activity: string; attempt: number } | undefined;
    for (let i = 0; i < 150 && !failing; i++) {
      for await (const wf of h.client.workflow.list({
        query: `TaskQueue = '${h.taskQueue}' AND ExecutionStatus = 'Running'`,
      })) {
        const pending = (await h.client.workflow.getHandle(wf.workflowId).describe()).raw.pendingActivities ?? [];
        const retried = pending.find((a) => (a.attempt ?? 0) > 1 && a.lastFailure);
        if (retried)
          failing = {
            activity: retried.activityType?.name ?? '?',
            attempt: retried.attempt!,
          };
      }
      if (!failing) await new Promise((r) => setTimeout(r, 200));
    }
    expect(['recordApproval', 'callTool', 'callTools']).toContain(failing?.activity);
    // (Its message is encrypted like every failure: ciphertext here.)
    expect(failing!.attempt).toBeGreaterThanOrEqual(2);
    // The run is still running, waiting on its retried activity.
    expect((await handle.describe()).status.name).toBe('RUNNING');

    pg = await startPostgres({ dir: path.join(dir, 'pg'), port, stopWithProcess: true });
    const result = (await handle.result()) as ReassignmentResult;
    expect(result.status).toBe('completed');
    expect(decisionsOf(result)).toEqual({ A001: 'P001', A002: 'P001', A003: 'waitlist' });
    for (const id of ['A001', 'A002', 'A003']) {
      const r = await h.store.appointmentRecord(id);
      expect(r.assignments.length + r.waitlist.length).toBe(1);
      expect(r.notifications).toHaveLength(1);
    }
    expect((await h.store.appointmentRecord('A002')).approvals).toEqual([
      expect.objectContaining({ provider_id: 'P001', decision: 'approved', decided_by: 'operator during the outage' }),
    ]);
    expect(await auditStore(h.store)).toEqual([]);
  } finally {
    await h?.close();
    await pg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
