import { auditStore, startHarness, temporalCli, type Harness } from './support/harness';
import { approveSignal } from '../src/workflows/contract/signals';
import { waitForProgress } from './support/harness';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { decisionsOf } from '../src/cli/format';
import { startCodecServer } from '../src/codecServer/main';
import { seedInput } from './support/seed';

/** Both workflows on the seed's example, against the real Temporal dev server. */

const input = seedInput;

/** Runs the seed example, approving A002 like a person would when it is asked. */
async function runApproving(
  h: Harness,
  type: 'promptDrivenReassignment' | 'codeDrivenReassignment',
): Promise<ReassignmentResult> {
  const handle = await h.start(type, input);
  await waitForProgress(handle, (p) => p.pending_approvals.some((a) => a.appointment_id === 'A002'));
  await handle.signal(approveSignal, { appointmentId: 'A002', by: 'test' });
  return handle.result();
}

describe('the seed example (T001 sick on 2025-11-21)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  test('prompt-driven: 3 affected, the excellent and the approved match assigned, the poor match waitlisted', async () => {
    await h.reload();
    const r = await runApproving(h, 'promptDrivenReassignment');
    expect(r.status).toBe('completed');
    expect(r.total_affected).toBe(3);
    expect(r.successful_assignments).toBe(2);
    expect(r.waitlist_entries).toBe(1);
    expect(decisionsOf(r)).toEqual({ A001: 'P001', A002: 'P001', A003: 'waitlist' });
    expect(r.assignments.find((a) => a.appointment_id === 'A002')?.approved_by).toBe('test');
    expect(r.llm.offline).toBe(true);
    expect(r.llm.calls).toBeGreaterThan(0);
    expect(r.discrepancies).toEqual([]);
    // The database agrees with the result.
    expect((await h.store.appointment('A001'))?.provider_id).toBe('P001');
    expect((await h.store.appointment('A003'))?.status).toBe('waitlisted');
    expect((await h.store.counts()).notifications).toBe(3);
    expect(await auditStore(h.store)).toEqual([]);
  });

  test('code-driven reaches the same decisions as prompt-driven on the same data', async () => {
    await h.reload();
    const prompt = await runApproving(h, 'promptDrivenReassignment');
    await h.reload();
    const code = await runApproving(h, 'codeDrivenReassignment');
    expect(code.mode).toBe('code');
    expect(code.llm.calls).toBe(0);
    expect(decisionsOf(code)).toEqual(decisionsOf(prompt));
    expect(code.successful_assignments).toBe(prompt.successful_assignments);
    expect(code.waitlist_entries).toBe(prompt.waitlist_entries);
  });

  test('the run pins its prompt: version and hash in the result, the memo and the search attributes', async () => {
    await h.reload();
    const handle = await h.start('promptDrivenReassignment', input);
    await waitForProgress(handle, (p) => p.pending_approvals.length > 0);
    await handle.signal(approveSignal, { appointmentId: 'A002' });
    const r: ReassignmentResult = await handle.result();
    expect(r.prompt.orchestrator).toMatchObject({
      name: 'healthcare-orchestrator',
      version: 3,
      label: 'production',
      source: 'local',
    });
    expect(r.prompt.orchestrator.hash).toMatch(/^[0-9a-f]{16}$/);
    const description = await handle.describe();
    expect((description.memo?.prompt as { orchestrator: { version: number } }).orchestrator.version).toBe(3);
    const sa = description.searchAttributes as Record<string, unknown[]>;
    expect(sa.ProviderId).toEqual(['T001']);
    expect(sa.PromptVersion).toEqual([3]);
    expect(sa.ReassignStatus).toEqual(['completed']);
  });

  test('another label is another version: staging assigns the good match without approval', async () => {
    await h.reload();
    const r = await h.run('promptDrivenReassignment', { ...input, promptLabel: 'staging' });
    expect(r.prompt.orchestrator.version).toBe(2);
    expect(r.approvals.requested).toBe(0);
    expect(decisionsOf(r)).toEqual({ A001: 'P001', A002: 'P001', A003: 'waitlist' });
    expect(r.assignments.find((a) => a.appointment_id === 'A002')?.approved_by).toBeNull();
  });

  test('a run started with the Temporal CLI works like one started from our client, and answers its CLI query (through the codec server) and signal', async () => {
    await h.reload();
    const codec = await startCodecServer({ ...h.config, CODEC_PORT: 0 }, () => undefined);
    const id = `reassign-T001-2025-11-21-tcli-${Date.now()}`;
    const started = await temporalCli(h.address, [
      'workflow',
      'start',
      '--type',
      'promptDrivenReassignment',
      '--task-queue',
      h.taskQueue,
      '--workflow-id',
      id,
      '--input',
      JSON.stringify(input),
    ]);
    expect(started.code).toBe(0);
    const handle = h.client.workflow.getHandle(id);
    await waitForProgress(handle, (p) => p.pending_approvals.length > 0);
    const query = ['workflow', 'query', '--workflow-id', id, '--name', 'progress', '--output', 'json'];
    const queried = await temporalCli(h.address, query, { endpoint: codec.url });
    await codec.close();
    expect(queried.code).toBe(0);
    expect(queried.stdout).toContain('"pending_approvals"');
    expect(queried.stdout).toContain('A002');
    // Without the codec server, the CLI sees ciphertext only.
    const raw = await temporalCli(h.address, query);
    expect(raw.stdout).not.toContain('pending_approvals');
    const signalled = await temporalCli(h.address, [
      'workflow',
      'signal',
      '--workflow-id',
      id,
      '--name',
      'approve',
      '--input',
      '{"appointmentId":"A002","by":"temporal-cli"}',
    ]);
    expect(signalled.code).toBe(0);
    const r: ReassignmentResult = await handle.result();
    expect(decisionsOf(r)).toEqual({ A001: 'P001', A002: 'P001', A003: 'waitlist' });
    expect(r.assignments.find((a) => a.appointment_id === 'A002')?.approved_by).toBe('temporal-cli');
  });

  test('invalid input fails the run at once with a readable reason', async () => {
    const handle = await h.start('promptDrivenReassignment', { providerId: 'T001', date: '21/11/2025' } as never);
    await expect(handle.result()).rejects.toThrow(/workflow execution failed/i);
    const failure = await handle.result().catch((e: { cause?: { message?: string } }) => e.cause?.message);
    expect(failure).toMatch(/date.*YYYY-MM-DD/);
  });

  test('an unknown provider fails the run with a clear message and writes nothing', async () => {
    await h.reload();
    const before = await h.store.counts();
    const handle = await h.start('promptDrivenReassignment', { providerId: 'T999', date: '2025-11-21' });
    const failure = await handle
      .result()
      .catch(
        (e: { cause?: { message?: string; cause?: { message?: string } } }) =>
          e.cause?.cause?.message ?? e.cause?.message,
      );
    expect(failure).toMatch(/unknown provider T999/);
    expect(await h.store.counts()).toEqual(before);
  });

  test('a prompt label that does not exist fails the run before anything is written', async () => {
    await h.reload();
    const before = await h.store.counts();
    const handle = await h.start('promptDrivenReassignment', {
      providerId: 'T001',
      date: '2025-11-21',
      promptLabel: 'no-such-label',
    });
    const failure = await handle
      .result()
      .catch(
        (e: { cause?: { message?: string; cause?: { message?: string } } }) =>
          e.cause?.cause?.message ?? e.cause?.message,
      );
    expect(failure).toMatch(/has no version labelled "no-such-label" \(labels: staging, production, latest\)/);
    expect(await h.store.counts()).toEqual(before);
    expect(await h.store.unavailability('T001', '2025-11-21')).toBeUndefined();
  });

  test('a date with no appointments completes at once and says there is nothing to do', async () => {
    await h.reload();
    const r = await h.run('promptDrivenReassignment', { providerId: 'T001', date: '2026-01-05' });
    expect(r).toMatchObject({ status: 'completed', total_affected: 0, successful_assignments: 0, batches: 0 });
    expect(r.message).toMatch(/no appointment of T001 on 2026-01-05 is left to reassign/);
    expect(r.llm.calls).toBe(0);
  });
});
