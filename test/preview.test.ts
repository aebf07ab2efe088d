import { startApi, type RunningApi } from '../src/api/main';
import { ReassignmentClient } from '../src/client';
import { loadConfig } from '../src/config';
import type { SchedulingStore } from '../src/domain/store';
import type { PreviewResult } from '../src/workflows/preview/previewContract';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import {
  encryptionEnv,
  queryRows,
  startHarness,
  startHarnessApi,
  storeEnv,
  type Harness,
  untilVisible,
  waitForProgress,
} from './support/harness';
import { expectOneLineError, runCli } from './support/processes';

/**
 * The preview before a start (issue 19): a dry run of the prompt-driven path in Temporal (the previewReassignment
 * workflow): the model is asked, its tools go through the guards in transactions that are rolled back, no human is
 * asked and no patient told, and nothing is written: every table of the scheduling database is the same after it.
 */

const SEED = { providerId: 'T001', date: '2025-11-21', promptLabel: 'production' };

/** Every table of the scheduling database, every row, in a stable order. */
async function snapshot(store: SchedulingStore, except: string[] = []): Promise<Record<string, unknown[]>> {
  const tables =
    store.target.kind === 'sqlite'
      ? await queryRows(store, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      : await queryRows(
          store,
          'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name',
        );
  const out: Record<string, unknown[]> = {};
  for (const { name } of tables as { name: string }[]) {
    if (except.includes(name)) continue;
    const rows = await queryRows(store, `SELECT * FROM "${name}"`);
    out[name] = rows.map((r) => JSON.stringify(r)).sort();
  }
  return out;
}

/** What the API writes about each request (its access log, and SQLite's counter of that log's ids). */
const API_LOG = ['access_log', 'sqlite_sequence'];

const byId = (p: PreviewResult) => Object.fromEntries(p.appointments.map((a) => [a.appointment_id, a]));

describe('preview: a dry run of the prompt-driven path, nothing written', () => {
  let h: Harness;
  let client: ReassignmentClient;
  beforeAll(async () => {
    h = await startHarness();
    client = await ReassignmentClient.connect(
      loadConfig({ TEMPORAL_ADDRESS: h.address, TASK_QUEUE: h.taskQueue, ...storeEnv(h.store), ...encryptionEnv() }),
    );
  });
  afterAll(async () => {
    await client?.close();
    await h?.close();
  });
  beforeEach(() => h.reload());

  test('the seed day: A001 moved, A002 asked about, A003 waitlisted, by the prompt; every table the same after', async () => {
    const before = await snapshot(h.store);
    expect(before.appointments!.length).toBeGreaterThan(0);
    const p = await client.preview(SEED);
    expect(await snapshot(h.store)).toEqual(before);
    expect(p.written).toBe(false);
    expect(p.workflow_id).toMatch(/^preview-T001-2025-11-21-[0-9a-f]{8}$/);
    expect(p.prompt).toMatchObject({ name: 'healthcare-orchestrator', label: 'production' });
    const a = byId(p);
    expect(a.A001).toMatchObject({ outcome: 'assign', provider_id: 'P001', decided_by: 'prompt' });
    expect(a.A002).toMatchObject({ outcome: 'ask_approval', provider_id: 'P001', score: 129, band: 'good' });
    expect(a.A002!.decided_by).toBe('prompt');
    expect(a.A003).toMatchObject({ outcome: 'waitlist', provider_id: null, decided_by: 'prompt' });
    // The offline stand-in model read the prompt: its calls and tokens are the preview's figures.
    expect(p.llm.calls).toBeGreaterThan(0);
    expect(p.llm.prompt_tokens).toBeGreaterThan(0);
    expect(p.llm).toMatchObject({ offline: true, fallback_used: false, fallback_reasons: [] });
    // Nothing anywhere says the provider is away, and no run was recorded.
    expect(await h.store.unavailability('T001', '2025-11-21')).toBeUndefined();
    // The workflow is a preview's, not a run: the run list does not show it.
    expect((await client.list({ limit: 100 })).map((r) => r.workflow_id)).not.toContain(p.workflow_id);
  });

  test('then a real run decides the same as its preview', async () => {
    const p = await client.preview(SEED);
    const handle = await h.start('promptDrivenReassignment', { ...SEED, reason: 'sick' });
    await waitForProgress(handle, (pr) => pr.pending_approvals.length > 0);
    await handle.signal('approve', { appointmentId: 'A002', by: 'dr-lead' });
    const r = (await handle.result()) as ReassignmentResult;
    const assigned = Object.fromEntries(r.assignments.map((x) => [x.appointment_id, x.new_provider_id]));
    for (const a of p.appointments) {
      if (a.outcome === 'waitlist') expect(r.waitlisted.map((w) => w.appointment_id)).toContain(a.appointment_id);
      else expect(assigned[a.appointment_id]).toBe(a.provider_id);
    }
    expect(r.approvals.requested).toBe(p.appointments.filter((a) => a.outcome === 'ask_approval').length);
    // Nothing left to preview now: one line, and still nothing written.
    const after = await snapshot(h.store);
    await expect(client.preview(SEED)).rejects.toThrow(/nothing left to reassign/);
    expect(await snapshot(h.store)).toEqual(after);
  });
});

describe('preview with a model that answers in prose', () => {
  let h: Harness;
  let client: ReassignmentClient;
  beforeAll(async () => {
    // Native tool calls asked for (production's auto would ask again under a JSON schema), approvals kept.
    h = await startHarness({
      faults: [{ mode: 'text_only' }],
      editPrompts: ({ orchestrator }) => {
        for (const v of orchestrator.versions) if (v.config.tool_calling === 'auto') v.config.tool_calling = 'native';
      },
    });
    client = await ReassignmentClient.connect(
      loadConfig({ TEMPORAL_ADDRESS: h.address, TASK_QUEUE: h.taskQueue, ...storeEnv(h.store), ...encryptionEnv() }),
    );
  });
  afterAll(async () => {
    await client?.close();
    await h?.close();
  });

  test('the fallback shows in the preview, decided by the code, and nothing is written', async () => {
    const before = await snapshot(h.store);
    const p = await client.preview(SEED);
    expect(await snapshot(h.store)).toEqual(before);
    expect(p.llm.fallback_used).toBe(true);
    expect(p.llm.fallback_reasons[0]).toMatch(/does not seem to support tool calling/);
    const a = byId(p);
    expect(a.A001).toMatchObject({ outcome: 'assign', provider_id: 'P001', decided_by: 'code_fallback' });
    expect(a.A002).toMatchObject({ outcome: 'ask_approval', provider_id: 'P001', decided_by: 'code_fallback' });
    expect(a.A003).toMatchObject({ outcome: 'waitlist', decided_by: 'code_fallback' });
  });
});

describe('preview over several batches', () => {
  let h: Harness;
  let client: ReassignmentClient;
  beforeAll(async () => {
    h = await startHarness({
      editPrompts: ({ orchestrator }) => {
        for (const v of orchestrator.versions) v.config.batch_size = 1;
      },
    });
    client = await ReassignmentClient.connect(
      loadConfig({ TEMPORAL_ADDRESS: h.address, TASK_QUEUE: h.taskQueue, ...storeEnv(h.store), ...encryptionEnv() }),
    );
  });
  afterAll(async () => {
    await client?.close();
    await h?.close();
  });

  test('one batch per appointment, one after the other: the same decisions, one conversation each, nothing written', async () => {
    const before = await snapshot(h.store);
    const p = await client.preview(SEED);
    expect(await snapshot(h.store)).toEqual(before);
    expect(p.appointments.map((a) => `${a.appointment_id} ${a.outcome} ${a.provider_id} ${a.decided_by}`)).toEqual([
      'A001 assign P001 prompt',
      'A002 ask_approval P001 prompt',
      'A003 waitlist null prompt',
    ]);
    expect(p.llm.calls).toBeGreaterThanOrEqual(3);
  });
});

describe('POST /api/preview and the preview command', () => {
  let h: Harness;
  let api: RunningApi;
  const post = async (body: unknown) => {
    const r = await fetch(`${api.url}/api/preview`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  beforeAll(async () => {
    h = await startHarness();
    api = await startHarnessApi(h);
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
  });

  test('the prompt-driven decisions, the model figures, and nothing written but the access log', async () => {
    const before = await snapshot(h.store, API_LOG);
    const r = await post({ provider_id: 'T001', date: '2025-11-21' });
    expect(r.status).toBe(200);
    expect(await snapshot(h.store, API_LOG)).toEqual(before);
    const p = r.body as unknown as PreviewResult;
    expect(p.appointments.map((a) => `${a.appointment_id} ${a.outcome} ${a.provider_id} ${a.decided_by}`)).toEqual([
      'A001 assign P001 prompt',
      'A002 ask_approval P001 prompt',
      'A003 waitlist null prompt',
    ]);
    expect(p.llm.calls).toBeGreaterThan(0);
  });

  test('bad input: unknown provider 404, bad date 400, a day without appointments 422, each one line', async () => {
    const unknown = await post({ provider_id: 'T999', date: '2025-11-21' });
    expect(unknown).toEqual({ status: 404, body: { error: 'unknown provider T999' } });
    const bad = await post({ provider_id: 'T001', date: '2025-13-40' });
    expect(bad.status).toBe(400);
    expect(String(bad.body.error)).toMatch(/^invalid body: date /);
    const empty = await post({ provider_id: 'T001', date: '2031-01-06' });
    expect(empty.status).toBe(422);
    expect(String(empty.body.error)).toMatch(/no appointments on 2031-01-06: nothing to reassign/);
  });

  test('no worker answers: 504 in one line once PREVIEW_TIMEOUT_MS passes, and the preview is ended', async () => {
    const idle = await startApi(
      loadConfig({
        TEMPORAL_ADDRESS: h.address,
        TASK_QUEUE: `${h.taskQueue}-nobody`,
        ...storeEnv(h.store),
        PROMPTS_DIR: h.promptsDir,
        API_PORT: '0',
        PREVIEW_TIMEOUT_MS: '1500',
        ...encryptionEnv(),
      }),
      () => undefined,
    );
    try {
      const r = await fetch(`${idle.url}/api/preview`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ provider_id: 'T001', date: '2025-11-21' }),
      });
      expect(r.status).toBe(504);
      const { error } = (await r.json()) as { error: string };
      expect(error).toMatch(/^the preview got no answer within 2 s \(is a worker running on task queue .*-nobody\?\)$/);
      const listed = async () => {
        const found: { id: string; status: string }[] = [];
        for await (const w of h.client.workflow.list({ query: `TaskQueue = '${h.taskQueue}-nobody'` }))
          found.push({ id: w.workflowId, status: w.status.name });
        return found;
      };
      const left = await untilVisible(listed, (l) => l.length === 1 && l[0]!.status === 'TERMINATED');
      expect(left).toEqual([{ id: expect.stringMatching(/^preview-T001-2025-11-21-/), status: 'TERMINATED' }]);
    } finally {
      await idle.close();
    }
  });

  test('the CLI prints the same, and a mistake is one line', async () => {
    const env = { TEMPORAL_ADDRESS: h.address, TASK_QUEUE: h.taskQueue, ...storeEnv(h.store) };
    const r = await runCli(['preview', '--provider', 'T001', '--date', '2025-11-21'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/nothing written/);
    expect(r.stdout).toMatch(/A001 \S+ \S+: move → P001 · score \d+ \(\w+\) · by the prompt/);
    expect(r.stdout).toMatch(/A002 \S+ \S+: ask approval → P001 · score 129 \(good\)/);
    expect(r.stdout).toMatch(/A003 \S+ \S+: waitlist · by the prompt/);
    expectOneLineError(
      await runCli(['preview', '--provider', 'T999', '--date', '2025-11-21'], env),
      /unknown provider T999/,
    );
  });
});
