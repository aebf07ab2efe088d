import { startCodecServer } from '../src/codecServer/main';
import { loadConfig } from '../src/config';
import { outcomesDemoDataset } from '../src/domain/demoData';
import { approveSignal } from '../src/workflows/contract/signals';
import { encryptionEnv, startHarness, storeEnv, temporalCli, waitForProgress, type Harness } from './support/harness';
import { expectOneLineError, runCli } from './support/processes';
import { seedInput } from './support/seed';
import { until } from './support/until';

/**
 * A patient's answer, a visit score and the escalations inbox from our CLI (`answer`, `rate`, `offers`,
 * `escalations`) and from the Temporal CLI (the follow-up's `answer` and `rate` Updates, through the codec server as
 * docs/outcomes.md says: payloads are encrypted, both ways), run as
 * a person runs them, against a follow-up on the real Temporal dev server and the store it writes. Refusals are
 * one line and exit 1, nothing written.
 */

describe('outcomes from the command line', () => {
  let h: Harness;
  let codec: Awaited<ReturnType<typeof startCodecServer>>;
  const env = () => ({ TEMPORAL_ADDRESS: h.address, TASK_QUEUE: h.taskQueue, ...storeEnv(h.store) });
  const cli = (args: string[]) => runCli(args, env());

  beforeAll(async () => {
    h = await startHarness({
      data: outcomesDemoDataset(),
      env: { PATIENT_FOLLOW_UP: 'on', PATIENT_RESPONSE_HOURS: '1', MAX_OFFERS: '2' },
    });
    const handle = await h.start('promptDrivenReassignment', seedInput);
    await waitForProgress(handle, (p) => p.pending_approvals.length > 0, 60_000);
    await handle.signal(approveSignal, { appointmentId: 'A002', by: 'dr-lead' });
    await handle.result();
    const keys = JSON.stringify([{ name: 'olga', key: 'olga-operator-key-0123', role: 'operator' }]);
    codec = await startCodecServer(
      loadConfig({ ...encryptionEnv(), API_KEYS: keys, CODEC_HOST: '127.0.0.1', CODEC_PORT: '0' }),
      () => undefined,
    );
  });
  afterAll(async () => {
    await codec?.close();
    await h?.close();
  });

  test('our CLI: a decline is re-offered, the visit is scored once; bad answers are one line, nothing written', async () => {
    const declined = await cli(['answer', 'A001', 'declined', '--reason', 'too far', '--by', 'front-desk']);
    expect(declined.stderr).toBe('');
    expect(declined.stdout.trim()).toBe('A001: offer 1 (P001) declined; the slot is released and re-offered');
    await until(
      'offer 2 of A001',
      () => h.store.offers('A001'),
      (o) => o.length === 2 && o[1]!.status === 'open',
    );
    // The stale offer number, an answer that is neither, an appointment nobody was offered a slot for.
    expectOneLineError(await cli(['answer', 'A001', 'accepted', '--offer', '1']), /offer 1 of A001 is closed/);
    expectOneLineError(await cli(['answer', 'A001', 'maybe']), /must be accepted or declined/);
    expectOneLineError(await cli(['answer', 'A003', 'accepted']), /A003/);
    expectOneLineError(await cli(['rate', 'A001', '9']), /must be a whole number from 1 to 5/);
    expect((await h.store.offers('A001')).map((o) => o.status)).toEqual(['declined', 'open']);

    const accepted = await cli(['answer', 'A001', 'accepted', '--by', 'front-desk']);
    expect(accepted.stdout.trim()).toBe('A001: offer 2 (P004) accepted; the visit stands');
    expect((await cli(['rate', 'A001', '4', '--by', 'front-desk'])).stdout.trim()).toBe(
      'A001: satisfaction 4/5 recorded',
    );
    expectOneLineError(await cli(['rate', 'A001', '5']), /A001/);
    expect(await h.store.satisfactionOf('A001')).toMatchObject({ score: 4, offer_no: 2 });

    const offers = await cli(['offers', 'A001']);
    expect(offers.stdout).toMatch(/^A001 offer 1: P001 .* declined \(too far\) by front-desk$/m);
    expect(offers.stdout).toMatch(/^A001 offer 2: P004 .*-reoffer-1\) accepted by front-desk$/m);
    expect(offers.stdout).toMatch(/^A001 satisfaction: 4\/5$/m);
  });

  test('the Temporal CLI: the follow-up takes answer and rate Updates; a second answer is refused, nothing written', async () => {
    const followUp = (await h.store.latestOffer('A002'))!.follow_up_id;
    const update = (name: string, input: unknown) =>
      temporalCli(
        h.address,
        ['workflow', 'update', 'execute', '--workflow-id', followUp, '--name', name, '--input', JSON.stringify(input)],
        { endpoint: codec.url, auth: 'Bearer olga-operator-key-0123' },
      );
    const answered = await update('answer', { answer: 'accepted', by: 'front desk' });
    expect(answered.stderr).toBe('');
    expect(answered.code).toBe(0);
    // The Update's result, decoded by the codec server.
    expect(answered.stdout).toMatch(
      /Result +map\[answer:accepted appointment_id:A002 next:visit offer_no:1 provider_id:P001\]/,
    );
    expect(await h.store.latestOffer('A002')).toMatchObject({ status: 'accepted', answered_by: 'front desk' });
    const again = await update('answer', { answer: 'declined', by: 'front desk' });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/A002 has no open offer to answer \(the offer was accepted\)/);
    expect((await h.store.latestOffer('A002'))!.status).toBe('accepted');
    expect((await update('rate', { score: 5, by: 'front desk' })).stdout).toMatch(
      /Result +map\[appointment_id:A002 score:5\]/,
    );
    expect(await h.store.satisfactionOf('A002')).toMatchObject({ score: 5 });
  });

  test('the escalations inbox: listed, acknowledged and resolved with who; an unknown one is one line', async () => {
    const listed = await cli(['escalations', 'list', '--status', 'open', '--json']);
    const open = JSON.parse(listed.stdout) as { id: number; kind: string; appointment_id: string }[];
    const a003 = open.find((e) => e.kind === 'waitlisted_soon' && e.appointment_id === 'A003')!;
    expect(a003).toBeDefined();
    expect((await cli(['escalations', 'ack', String(a003.id), '--by', 'hod-ana'])).stdout.trim()).toBe(
      `#${a003.id} acknowledged by hod-ana`,
    );
    const resolved = await cli(['escalations', 'resolve', String(a003.id), '--by', 'hod-ana', '--note', 'called']);
    expect(resolved.stdout.trim()).toBe(`#${a003.id} resolved by hod-ana`);
    const done = (await h.store.escalations({})).find((e) => e.id === a003.id)!;
    expect(done).toMatchObject({
      status: 'resolved',
      acknowledged_by: 'hod-ana',
      resolved_by: 'hod-ana',
      note: 'called',
    });
    // Who, and when.
    expect(done.acknowledged_at).toMatch(/^\d{4}-\d{2}-\d{2}.\d{2}:\d{2}/);
    expect(done.resolved_at).toMatch(/^\d{4}-\d{2}-\d{2}.\d{2}:\d{2}/);
    expect((await cli(['escalations', 'list', '--status', 'resolved'])).stdout).toMatch(
      new RegExp(`^#${a003.id} resolved .* · resolved by hod-ana$`, 'm'),
    );
    expectOneLineError(await cli(['escalations', 'resolve', String(a003.id)]), /already resolved/);
    expectOneLineError(await cli(['escalations', 'ack', '999999']), /999999/);
    expectOneLineError(await cli(['escalations', 'list', '--status', 'closed']), /open, acknowledged or resolved/);
  });
});
