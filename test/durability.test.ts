import path from 'node:path';
import { freePort, startDevServer, type DevServer } from '../src/temporal/devServer';
import { approveSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { auditStore, startHarness, tempDir, waitForProgress } from './support/harness';

/** The embedded default keeps runs in the dev server's SQLite file: a run survives a server restart. */

test('a reassignment waiting for approval survives a restart of the Temporal server', async () => {
  const dbFile = path.join(tempDir('restart'), 'temporal.db');
  const port = await freePort();
  let server: DevServer = await startDevServer({ dbFile, port });
  const h = await startHarness({ address: server.address });
  try {
    const handle = await h.start('promptDrivenReassignment', {
      providerId: 'T001',
      date: '2025-11-21',
      reason: 'sick',
    });
    await waitForProgress(handle, (p) => p.pending_approvals.length > 0);
    await server.stop();
    server = await startDevServer({ dbFile, port });
    // Same file, same port: the run is still there, still waiting, and the worker picks it up again.
    const p = await waitForProgress(handle, (x) => x.pending_approvals.length > 0, 60_000);
    expect(p.assigned).toBe(0);
    await handle.signal(approveSignal, { appointmentId: 'A002', by: 'after-restart' });
    const r: ReassignmentResult = await handle.result();
    expect(r.status).toBe('completed');
    expect(r.successful_assignments).toBe(2);
    expect(r.assignments.find((a) => a.appointment_id === 'A002')?.approved_by).toBe('after-restart');
    expect((await h.store.counts()).assignments).toBe(2);
    expect(await auditStore(h.store)).toEqual([]);
  } finally {
    await h.close();
    await server.stop();
  }
}, 180_000);
