import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { approveSignal, cancelSignal } from '../src/workflows/contract/signals';
import {
  encryptionEnv,
  startHarness,
  temporalCli,
  testDataConverter,
  waitForProgress,
  type Harness,
} from './support/harness';
import type { Fault } from '../src/llm/offline/faults';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import type { PreviewResult } from '../src/workflows/preview/previewContract';
import { batchWorkflowId } from '../src/workflowIds';
import { seedInput } from './support/seed';
import { outcomesDemoDataset } from '../src/domain/demoData';
import { answerOffer, rateVisit } from '../src/temporal/followUps';
import type { FollowUpState } from '../src/workflows/contract/outcomes';
import type { AdaptResult } from '../src/workflows/adapt/adaptVerdict';
import { scored, writeOutcomes } from './support/outcomeRows';
import { until } from './support/until';

/**
 * Determinism guard: histories of both workflows (parents and their batches, with an approval and a
 * cancellation), exported as JSON by the Temporal CLI as a person would from the Web UI, replay against the
 * current workflow code without nondeterminism errors, and so does a run whose batch fell back to code. The histories
 * recorded into test/fixtures/histories (named by workflow id) by an earlier version must replay too;
 * RECORD_HISTORIES=1 adds the ones of this run.
 */

const fixtures = path.join(__dirname, 'fixtures', 'histories');
const input = seedInput;

function bundle() {
  return { workflowBundle: { code: fs.readFileSync(process.env.TEST_WORKFLOW_BUNDLE!, 'utf8') } };
}

/**
 * Histories are recorded encrypted: the replayer needs the same data converter, codec and keys, as production's
 * would. A fresh history is written under the test run's keyring (thrown away after the run); RECORD_HISTORIES=1
 * records under the fixtures' keyring, committed beside them (a test key, for nothing else), so that the
 * committed histories are ciphertext the replayer must decode. Histories recorded before encryption have no codec
 * metadata and pass through.
 */
const recording = process.env.RECORD_HISTORIES === '1';
type KeyringDoc = { current: string; keys: Record<string, string> };
const fixtureKeyring = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'fixtures', 'replay-keyring.json'), 'utf8'),
) as KeyringDoc;
const env = recording ? { env: { PAYLOAD_KEYS: JSON.stringify(fixtureKeyring) } } : {};

/** The test run's keyring, with the fixtures' keys too unless told otherwise: it reads both kinds of history. */
function replayKeys(withFixtureKeys = true): string {
  const run = JSON.parse(encryptionEnv().PAYLOAD_KEYS!) as KeyringDoc;
  return JSON.stringify({
    current: run.current,
    keys: { ...run.keys, ...(withFixtureKeys ? fixtureKeyring.keys : {}) },
  });
}

async function replayAll(
  histories: { workflowId: string; history: unknown }[],
  withFixtureKeys = true,
): Promise<string[]> {
  const errors: string[] = [];
  const options = {
    ...bundle(),
    dataConverter: testDataConverter({ PAYLOAD_KEYS: replayKeys(withFixtureKeys) }),
  };
  for await (const r of Worker.runReplayHistories(options, histories as never)) {
    if (r.error) errors.push(`${r.workflowId}: ${r.error.message}`);
  }
  return errors;
}

describe('replay', () => {
  let h: Harness;
  const recorded: { name: string; workflowId: string; json: string }[] = [];
  const asHistories = (list: typeof recorded) =>
    list.map((r) => ({ workflowId: r.workflowId, history: historyFromJSON(JSON.parse(r.json)) }));

  beforeAll(async () => {
    h = await startHarness(env);
    const exportJson = async (workflowId: string) => {
      const shown = await temporalCli(h.address, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json']);
      if (shown.code !== 0) throw new Error(shown.stderr);
      return shown.stdout;
    };
    const capture = async (name: string, workflowId: string, batches = true) => {
      recorded.push({ name, workflowId, json: await exportJson(workflowId) });
      if (batches)
        recorded.push({
          name: `${name}-batch`,
          workflowId: batchWorkflowId(workflowId, 1),
          json: await exportJson(batchWorkflowId(workflowId, 1)),
        });
    };
    for (const type of ['promptDrivenReassignment', 'codeDrivenReassignment'] as const) {
      await h.reload();
      const approved = await h.start(type, input, `replay-${type}-approved-${Date.now()}`);
      await waitForProgress(approved, (p) => p.pending_approvals.length > 0);
      await approved.signal(approveSignal, { appointmentId: 'A002' });
      await approved.result();
      await capture(`${type}-approved`, approved.workflowId);
      await h.reload();
      const cancelled = await h.start(type, input, `replay-${type}-cancelled-${Date.now()}`);
      await waitForProgress(cancelled, (p) => p.pending_approvals.length > 0);
      await cancelled.signal(cancelSignal, {});
      await cancelled.result();
      await capture(`${type}-cancelled`, cancelled.workflowId);
    }
    // A shadow run of the generic workflow (code-driven writes, prompt-driven decides in a dry run beside it).
    await h.reload();
    const shadow = await h.start(
      'reassignment',
      { ...input, mode: 'shadow' },
      `replay-reassignment-shadow-${Date.now()}`,
    );
    await waitForProgress(shadow, (p) => p.pending_approvals.length > 0);
    await shadow.signal(approveSignal, { appointmentId: 'A002' });
    expect((await shadow.result()).shadow?.agreed).toBe(3);
    await capture('reassignment-shadow', shadow.workflowId);
    // The rollback guard, over the runs above (local prompts: it judges, it cannot move a label).
    const guardId = `replay-rollbackGuard-${Date.now()}`;
    await h.client.workflow.execute('rollbackGuard', { taskQueue: h.taskQueue, workflowId: guardId, args: [{}] });
    await capture('rollbackGuard', guardId, false);
    /** A run on a harness of its own (a misbehaving model), recorded with its batch. */
    const captureOn = async (
      faults: Fault[],
      name: string,
      run: (harness: Harness, id: string) => Promise<ReassignmentResult>,
    ) => {
      const own = await startHarness({ ...env, faults });
      try {
        const id = `replay-promptDrivenReassignment-${name}-${Date.now()}`;
        const r = await run(own, id);
        const shown = async (workflowId: string) =>
          (await temporalCli(own.address, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json']))
            .stdout;
        recorded.push({ name, workflowId: id, json: await shown(id) });
        recorded.push({
          name: `${name}-batch`,
          workflowId: batchWorkflowId(id, 1),
          json: await shown(batchWorkflowId(id, 1)),
        });
        return r;
      } finally {
        await own.close();
      }
    };
    // The fallback path: a model that only ever answers with empty replies, so the code decides the batch.
    const fellBack = await captureOn([{ mode: 'empty_reply' }], 'fallback', async (own, id) =>
      (await own.start('promptDrivenReassignment', { ...input, promptLabel: 'staging' }, id)).result(),
    );
    expect(fellBack.status).toBe('completed_with_fallback');
    // tool_calling auto on an endpoint without tool support: the batch switches to json_schema mode.
    const switched = await captureOn([{ mode: 'text_only' }], 'schema', async (own, id) => {
      const handle = await own.start('promptDrivenReassignment', input, id);
      await waitForProgress(handle, (p) => p.pending_approvals.length > 0);
      await handle.signal(approveSignal, { appointmentId: 'A002' });
      return handle.result();
    });
    expect(switched.llm.mode_switches).toBe(1);
    /**
     * A patient's follow-up (issue 18) on a harness of its own (follow-ups on, the outcomes' demo data): the seed
     * run, then `play` drives A001's follow-up to its end; recorded with each re-offer run and its batch.
     */
    const captureFollowUp = async (
      name: string,
      settings: Record<string, string>,
      play: (own: Harness, followUpId: string) => Promise<void>,
    ): Promise<FollowUpState> => {
      const own = await startHarness({
        data: outcomesDemoDataset(),
        env: {
          ...(recording ? { PAYLOAD_KEYS: JSON.stringify(fixtureKeyring) } : {}),
          PATIENT_FOLLOW_UP: 'on',
          ...settings,
        },
      });
      try {
        const run = await own.start('promptDrivenReassignment', input, `replay-${name}-${Date.now()}`);
        await waitForProgress(run, (p) => p.pending_approvals.length > 0);
        await run.signal(approveSignal, { appointmentId: 'A002' });
        await run.result();
        const followUpId = (await own.store.latestOffer('A001'))!.follow_up_id;
        await play(own, followUpId);
        const state = (await own.client.workflow.getHandle(followUpId).result()) as FollowUpState;
        const shown = async (workflowId: string) =>
          (await temporalCli(own.address, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json']))
            .stdout;
        recorded.push({ name, workflowId: followUpId, json: await shown(followUpId) });
        for (let n = 1; n <= state.reoffers; n++) {
          const reoffer = `${followUpId}-reoffer-${n}`;
          recorded.push({ name: `${name}-reoffer-${n}`, workflowId: reoffer, json: await shown(reoffer) });
          const batch = batchWorkflowId(reoffer, 1);
          recorded.push({ name: `${name}-reoffer-${n}-batch`, workflowId: batch, json: await shown(batch) });
        }
        return state;
      } finally {
        await own.close();
      }
    };
    // Declined (an Update), re-offered by a child run, accepted and scored (Updates).
    const declined = await captureFollowUp('followUp-declined', { PATIENT_RESPONSE_HOURS: '1' }, async (own) => {
      await answerOffer(own.client, own.store, 'A001', { answer: 'declined', reason: 'too far', by: 'replay' });
      await until(
        'offer 2 of A001',
        () => own.store.offers('A001'),
        (o) => o.length === 2 && o[1]!.status === 'open',
      );
      await answerOffer(own.client, own.store, 'A001', { answer: 'accepted', by: 'replay' });
      await rateVisit(own.client, own.store, 'A001', { score: 4, by: 'replay' });
    });
    expect(declined).toMatchObject({ outcome: 'accepted', reoffers: 1, satisfaction: 4 });
    // Nobody answers (the deadline's timer, 3.6 s), re-offered once, nobody answers again: the waitlist.
    const unanswered = await captureFollowUp(
      'followUp-unanswered',
      { PATIENT_RESPONSE_HOURS: '0.001', MAX_OFFERS: '1' },
      async () => undefined,
    );
    expect(unanswered).toMatchObject({ outcome: 'waitlisted', reoffers: 1 });
    // The adaptation policy moving production to conservative on bad outcomes (rows as a follow-up leaves them).
    await writeOutcomes(h.store, scored('production', 1, 10));
    const adaptId = `replay-adaptationPolicy-${Date.now()}`;
    const adapted = (await h.client.workflow.execute('adaptationPolicy', {
      taskQueue: h.taskQueue,
      workflowId: adaptId,
      args: [{ minOutcomes: 10 }],
    })) as AdaptResult;
    expect(adapted.moved).toMatchObject({ from: 'production', to: 'conservative' });
    await capture('adaptationPolicy', adaptId, false);
    // A preview (a dry run of the prompt-driven path, its approval assumed), on the seed day as it was.
    await h.reload();
    const previewId = `replay-previewReassignment-${Date.now()}`;
    const preview = (await h.client.workflow.execute('previewReassignment', {
      taskQueue: h.taskQueue,
      workflowId: previewId,
      args: [{ providerId: input.providerId, date: input.date, promptLabel: 'production' }],
    })) as PreviewResult;
    expect(preview.appointments.map((a) => a.outcome)).toEqual(['assign', 'ask_approval', 'waitlist']);
    await capture('previewReassignment', previewId, false);
    if (recording) {
      fs.mkdirSync(fixtures, { recursive: true });
      for (const r of recorded) fs.writeFileSync(path.join(fixtures, `${r.workflowId}.json`), r.json);
    }
  });
  afterAll(() => h.close());

  test('fresh histories of both workflows replay without nondeterminism', async () => {
    expect(recorded).toHaveLength(23);
    // What the Temporal CLI exports without the codec is ciphertext: no patient's name, note or id.
    for (const r of recorded) {
      expect(r.json).toContain(Buffer.from('binary/encrypted').toString('base64'));
      expect(r.json).not.toMatch(/Maria Lopez|Wei Chen|Joan Silva|PAT00\d|Knee follow-up/);
    }
    expect(await replayAll(asHistories(recorded))).toEqual([]);
  });

  const committed = () =>
    fs
      .readdirSync(fixtures)
      .filter((f) => f.endsWith('.json'))
      .map((f) => {
        const json = fs.readFileSync(path.join(fixtures, f), 'utf8');
        return { workflowId: f.replace(/\.json$/, ''), json, history: historyFromJSON(JSON.parse(json)) };
      });
  const ENCRYPTED = Buffer.from('binary/encrypted').toString('base64');

  test('the committed histories of earlier runs still replay', async () => {
    const files = committed();
    expect(files.length).toBeGreaterThanOrEqual(18);
    expect(await replayAll(files)).toEqual([]);
  });

  test("the committed histories recorded encrypted are ciphertext, replayed by decoding them with the fixtures' keyring", async () => {
    const encrypted = committed().filter((f) => f.json.includes(ENCRYPTED));
    // A parent and its batch at least, written under the fixtures' key id and holding no patient data in clear.
    expect(encrypted.length).toBeGreaterThanOrEqual(2);
    for (const f of encrypted) {
      expect(f.json).toContain(Buffer.from(fixtureKeyring.current).toString('base64'));
      expect(f.json).not.toMatch(/PAT00\d/);
      expect(
        Buffer.from(f.json)
          .toString()
          .match(/"data":\s*"([^"]+)"/g)
          ?.map((d) => Buffer.from(d.split('"')[3]!, 'base64').toString('latin1'))
          .join('\n'),
      ).not.toMatch(/Maria Lopez|Wei Chen|Joan Silva|PAT00\d|Knee follow-up/);
    }
    expect(await replayAll(encrypted)).toEqual([]);
    // Without the fixtures' key the same histories do not replay (the task fails on the missing key, its message
    // encrypted in turn): the replay above decoded them.
    const without = await replayAll(encrypted, false);
    expect(without).toHaveLength(encrypted.length);
    for (const e of without) expect(e).toMatch(/workflow task failure/);
  });

  test('replay catches a workflow whose code changed its commands', async () => {
    // A history whose first activity is swapped for another must fail to replay: the guard has teeth.
    const original = recorded.find((r) => r.name === 'codeDrivenReassignment-approved')!;
    const json = JSON.parse(original.json);
    const scheduled = json.events.find(
      (e: { activityTaskScheduledEventAttributes?: unknown }) => e.activityTaskScheduledEventAttributes,
    );
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'somethingElse';
    const errors = await replayAll([{ workflowId: 'tampered', history: historyFromJSON(json) }]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/nondetermin/i);
  });
});
