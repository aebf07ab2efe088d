import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { decisionsOf } from '../src/cli/format';
import { startCodecServer } from '../src/codecServer/main';
import { loadConfig } from '../src/config';
import { demoDataset } from '../src/domain/demoData';
import { syntheticDataset } from '../src/domain/syntheticData';
import { decideApproval } from '../src/temporal/approvalDecision';
import { KEY_ID_METADATA } from '../src/temporal/codec/encryptionCodec';
import { freePort, startDevServer, type DevServer } from '../src/temporal/devServer';
import { approveSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { batchWorkflowId } from '../src/workflowIds';
import {
  auditStore,
  encryptionEnv,
  queryRows,
  startHarness,
  tempDir,
  temporalCli,
  testDataConverter,
  uniqueName,
  untilVisible,
  waitForProgress,
  type Harness,
} from './support/harness';
import { expectOneLineError, payloadEncodings, runCli, runScript, scripts } from './support/processes';
import { seedInput } from './support/seed';

/**
 * Payload encryption against the real Temporal dev server: what the server stores and what its CLI shows
 * without the codec hold no patient's name, note or id; a rotated keyring reads what the old key wrote; a run
 * whose key the worker lacks fails its workflow task (not the run) with a line naming the key id, and goes on
 * once the key is back; bad key settings are one line and a non-zero exit.
 */

const ring = (current: string, keys: Record<string, string>) => JSON.stringify({ current, keys });
const newKey = () => randomBytes(32).toString('base64');

/** Every patient's name, note and id in the demo data: none may be readable in Temporal. */
const sensitive = demoDataset().patients.flatMap((p) => [p.name, p.id, ...(p.notes ? [p.notes] : [])]);

function hitsIn(text: string): string[] {
  return sensitive.filter((s) => text.includes(s));
}

/** The server's SQLite files (database, WAL, shared memory) and its log as bytes, searched for each sensitive string. */
function sqliteHits(dbFile: string): string[] {
  const files = [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, `${dbFile}.log`].filter((f) => fs.existsSync(f));
  return [...new Set(files.flatMap((f) => hitsIn(fs.readFileSync(f).toString('latin1'))))];
}

/** The JSON of `temporal workflow show --output json`, and every base64 `data` field in it decoded. */
function withDataDecoded(stdout: string): string {
  const decoded: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        if (k === 'data' && typeof x === 'string') decoded.push(Buffer.from(x, 'base64').toString('latin1'));
        walk(x);
      }
  };
  walk(JSON.parse(stdout));
  return [stdout, ...decoded].join('\n');
}

/** `temporal workflow show --output json` without a codec: what a person with server access reads. */
async function shownHits(address: string, workflowId: string): Promise<string[]> {
  const shown = await temporalCli(address, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json']);
  expect(shown.code).toBe(0);
  return hitsIn(withDataDecoded(shown.stdout));
}

/** Runs the seed example both ways, approving A002 when asked; returns the run ids and their batches' ids. */
async function seedExample(h: Harness): Promise<string[]> {
  const ids: string[] = [];
  for (const type of ['promptDrivenReassignment', 'codeDrivenReassignment'] as const) {
    await h.reload();
    const handle = await h.start(type, seedInput);
    await waitForProgress(handle, (p) => p.pending_approvals.length > 0);
    await handle.signal(approveSignal, { appointmentId: 'A002', by: 'test' });
    const r = (await handle.result()) as ReassignmentResult;
    expect(decisionsOf(r)).toEqual({ A001: 'P001', A002: 'P001', A003: 'waitlist' });
    ids.push(handle.workflowId, batchWorkflowId(handle.workflowId, 1));
  }
  return ids;
}

/**
 * The key ids of the payloads in a run's stored history, as the server holds it ('(plain)' for one without).
 * Search attributes, headers and patch markers (the ids of `patched()`, written by the SDK's core) are never
 * encoded by a codec (nothing identifying goes there), so not counted.
 */
async function keyIdsIn(handle: WorkflowHandle): Promise<Set<string>> {
  const history = await handle.fetchHistory();
  const ids = new Set<string>();
  const walk = (v: unknown, at: string): void => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${at}[${i}]`));
    else if (v && typeof v === 'object' && !(v instanceof Uint8Array) && !ArrayBuffer.isView(v)) {
      const metadata = (v as Payload).metadata;
      if (metadata && typeof metadata === 'object' && (v as Payload).data !== undefined) {
        const id = metadata[KEY_ID_METADATA];
        ids.add(id ? Buffer.from(id).toString() : `(plain) ${at}`);
        return;
      }
      for (const [k, x] of Object.entries(v))
        if (!['searchAttributes', 'header', 'patch-data'].includes(k)) walk(x, `${at}.${k}`);
    }
  };
  walk(history.events, 'events');
  return ids;
}

describe('what the Temporal server holds', () => {
  let server: DevServer;
  let dbFile: string;
  const codecEndpoint = 'http://localhost:8089';
  beforeAll(async () => {
    dbFile = path.join(tempDir('encrypted-server'), 'temporal.db');
    // As `npm run server` starts it: its Web UI decodes through the codec server.
    server = await startDevServer({
      dbFile,
      port: await freePort(),
      uiPort: await freePort(),
      uiCodecEndpoint: codecEndpoint,
    });
  });
  afterAll(() => server?.stop());

  test("the dev server's Web UI is told to decode through the codec server", async () => {
    const settings = (await (await fetch(`${server.uiUrl}/api/v1/settings`)).json()) as { Codec: { Endpoint: string } };
    expect(settings.Codec.Endpoint).toBe(codecEndpoint);
  });

  test('`npm run server` starts the dev server with its Web UI decoding through the codec server (CODEC_PORT)', async () => {
    const dir = tempDir('npm-run-server');
    const [port, uiPort, codecPort] = [await freePort(), await freePort(), await freePort()];
    // Its own process group, so that the dev server it starts goes with it whatever happens.
    const child = spawn(path.join(__dirname, '..', 'node_modules', '.bin', 'tsx'), ['scripts/server.ts'], {
      cwd: path.join(__dirname, '..'),
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
        TEMPORAL_UI_PORT: String(uiPort),
        CODEC_PORT: String(codecPort),
        TEMPORAL_DB_PATH: path.join(dir, 'temporal.db'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const deadline = Date.now() + 60_000;
      // Its two lines: the dev server's addresses, then where its Web UI decodes.
      while (!/The Web UI decodes payloads through/.test(out) && child.exitCode === null && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const uiUrl = /Web UI (http\S+);/.exec(out)?.[1];
      expect(uiUrl).toBeDefined();
      const settings = (await (await fetch(`${uiUrl}/api/v1/settings`)).json()) as { Codec: { Endpoint: string } };
      expect(settings.Codec.Endpoint).toBe(`http://localhost:${codecPort}`);
      expect(out).toContain(`The Web UI decodes payloads through http://localhost:${codecPort}`);
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([
        exited.then(() => true),
        new Promise((r) => (timer = setTimeout(r, 15_000, false))),
      ]);
      clearTimeout(timer);
      if (!stopped) process.kill(-child.pid!, 'SIGKILL');
    }
  }, 90_000);

  test("after the seed example, its SQLite file, its log, the worker's lines and `temporal workflow show` hold no patient name, note or id", async () => {
    const said: string[] = [];
    const h = await startHarness({ address: server.address, say: (l) => said.push(l) });
    let ids: string[];
    try {
      ids = await seedExample(h);
    } finally {
      await h.close();
    }
    expect(ids).toHaveLength(4);
    for (const id of ids) expect({ id, hits: await shownHits(server.address, id) }).toEqual({ id, hits: [] });
    expect(sqliteHits(dbFile)).toEqual([]);
    expect(hitsIn(said.join('\n'))).toEqual([]);

    // Through the codec server, with an operator's API key, the Temporal CLI reads the run; the decode is logged
    // with who asked. Without the key it reads nothing.
    const logged: string[] = [];
    const keys = JSON.stringify([{ name: 'olga', key: 'olga-operator-key-0123', role: 'operator' }]);
    const codec = await startCodecServer(
      loadConfig({ ...encryptionEnv(), API_KEYS: keys, CODEC_HOST: '127.0.0.1', CODEC_PORT: '0' }),
      (l) => logged.push(l),
    );
    try {
      const show = ['workflow', 'show', '--workflow-id', ids[0]!, '--output', 'json'];
      const read = await temporalCli(server.address, show, {
        endpoint: codec.url,
        auth: 'Bearer olga-operator-key-0123',
      });
      expect(read.code).toBe(0);
      expect(withDataDecoded(read.stdout)).toContain('"providerId":"T001"');
      expect(logged).toContainEqual(expect.stringMatching(/^codec server: decode by olga \(operator\): \d+ payload/));
      const refused = await temporalCli(server.address, show, { endpoint: codec.url });
      expect(refused.code).not.toBe(0);
      expect(refused.stdout).toBe('');
    } finally {
      await codec.close();
    }

    // The same scan finds them once a run is recorded unencrypted: the zero above is not a blind scan.
    const plain = await startHarness({ address: server.address, env: { PAYLOAD_ENCRYPTION: 'off' } });
    try {
      const handle = await plain.start('promptDrivenReassignment', { ...seedInput, promptLabel: 'staging' });
      await handle.result();
      expect(await shownHits(server.address, handle.workflowId)).not.toEqual([]);
    } finally {
      await plain.close();
    }
    // (Plain payloads hold patient ids; names and notes only when the model asks get_patient_details.)
    expect(sqliteHits(dbFile)).toEqual(expect.arrayContaining(['PAT001']));
  }, 240_000);
});

describe('key rotation and a missing key', () => {
  const k1 = newKey();
  const k2 = newKey();

  test('after rotation, the old key still reads and replays what it wrote, and the new key writes', async () => {
    const before = await startHarness({ env: { PAYLOAD_KEYS: ring('k1', { k1 }) } });
    const after = await startHarness({ env: { PAYLOAD_KEYS: ring('k2', { k1, k2 }) } });
    try {
      const input = { ...seedInput, promptLabel: 'staging' };
      const old = await before.start('promptDrivenReassignment', input);
      const oldResult = (await old.result()) as ReassignmentResult;
      expect(await keyIdsIn(old)).toEqual(new Set(['k1']));

      // The rotated keyring reads the old run, and replays its history (a worker picking it up after rotation).
      const reread = after.client.workflow.getHandle(old.workflowId);
      expect(decisionsOf((await reread.result()) as ReassignmentResult)).toEqual(decisionsOf(oldResult));
      await Worker.runReplayHistory(
        {
          workflowBundle: { code: fs.readFileSync(process.env.TEST_WORKFLOW_BUNDLE!, 'utf8') },
          dataConverter: testDataConverter({ PAYLOAD_KEYS: ring('k2', { k1, k2 }) }),
        },
        await reread.fetchHistory(),
        old.workflowId,
      );

      await after.reload();
      const next = await after.start('promptDrivenReassignment', input);
      expect(decisionsOf((await next.result()) as ReassignmentResult)).toEqual({
        A001: 'P001',
        A002: 'P001',
        A003: 'waitlist',
      });
      expect(await keyIdsIn(next)).toEqual(new Set(['k2']));
      // A process still on the old keyring cannot read it, and says which key it lacks.
      await expect(before.client.workflow.getHandle(next.workflowId).result()).rejects.toThrow(/key id "k2"/);
    } finally {
      await before.close();
      await after.close();
    }
  }, 180_000);

  test('a run started under key 1 and waiting when the keyring becomes {2 current, 1 old} finishes: its history holds both key ids and replays, the store audits clean', async () => {
    const before = await startHarness({ env: { PAYLOAD_KEYS: ring('k1', { k1 }) } });
    const handle = await before.start('promptDrivenReassignment', seedInput);
    await waitForProgress(handle, (p) => p.pending_approvals.length > 0);
    expect(await keyIdsIn(handle)).toEqual(new Set(['k1']));
    // The rotation: every process stops and starts again with the new keyring, on the same task queue and data.
    await before.close();
    const after = await startHarness({
      target: before.store.target,
      keepData: true,
      env: { TASK_QUEUE: before.taskQueue, PAYLOAD_KEYS: ring('k2', { k1, k2 }) },
    });
    try {
      const resumed = after.client.workflow.getHandle(handle.workflowId);
      await resumed.signal(approveSignal, { appointmentId: 'A002', by: 'test' });
      const r = (await resumed.result()) as ReassignmentResult;
      expect(decisionsOf(r)).toEqual({ A001: 'P001', A002: 'P001', A003: 'waitlist' });
      // Written under k1 before the rotation, under k2 after it (the signal, the rest of the run, its result).
      expect(await keyIdsIn(resumed)).toEqual(new Set(['k1', 'k2']));
      for (const id of [handle.workflowId, batchWorkflowId(handle.workflowId, 1)])
        await Worker.runReplayHistory(
          {
            workflowBundle: { code: fs.readFileSync(process.env.TEST_WORKFLOW_BUNDLE!, 'utf8') },
            dataConverter: testDataConverter({ PAYLOAD_KEYS: ring('k2', { k1, k2 }) }),
          },
          await after.client.workflow.getHandle(id).fetchHistory(),
          id,
        );
      expect(await auditStore(after.store)).toEqual([]);
    } finally {
      await after.close();
    }
  }, 180_000);

  test('a run under a key the worker lacks fails its workflow task (not the run) with a line naming the key id, and goes on once the key is there', async () => {
    const taskQueue = uniqueName('missing-key');
    const stranger = newKey();
    const said: string[] = [];
    const lacking = await startHarness({
      env: { TASK_QUEUE: taskQueue, PAYLOAD_KEYS: ring('k1', { k1 }) },
      say: (l) => said.push(l),
    });
    // A client on a keyring the worker does not have (say, rotated on the client side first).
    const connection = await Connection.connect({ address: lacking.address });
    const client = new Client({
      connection,
      dataConverter: testDataConverter({ PAYLOAD_KEYS: ring('stranger', { stranger }) }),
    });
    const id = `reassign-T001-2025-11-21-${uniqueName('missing-key')}`;
    const handle = await client.workflow.start('promptDrivenReassignment', {
      taskQueue,
      workflowId: id,
      args: [{ ...seedInput, promptLabel: 'staging' }],
    });
    try {
      const deadline = Date.now() + 30_000;
      let failedTasks = 0;
      while (Date.now() < deadline && failedTasks === 0) {
        const history = await handle.fetchHistory();
        failedTasks = (history.events ?? []).filter(
          (e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        ).length;
        if (failedTasks === 0) await new Promise((r) => setTimeout(r, 300));
      }
      expect(failedTasks).toBeGreaterThan(0);
      expect(said).toContainEqual(expect.stringMatching(new RegExp(`cannot decrypt \\(workflow ${id}\\).*"stranger"`)));
      expect(said.join('\n')).not.toContain(stranger);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      // Nothing was done under the unreadable input: no decision, no notification written.
      expect(
        await queryRows(
          lacking.store,
          'SELECT run_id AS id FROM runs UNION ALL SELECT idempotency_key FROM tool_calls',
        ),
      ).toEqual([]);
    } finally {
      await lacking.close();
    }
    // The key is added to the worker's keyring: the same run goes on from where it stopped, and completes.
    const fixed = await startHarness({
      env: { TASK_QUEUE: taskQueue, PAYLOAD_KEYS: ring('k1', { k1, stranger }) },
    });
    try {
      const r = (await fixed.client.workflow.getHandle(id).result()) as ReassignmentResult;
      expect(decisionsOf(r)).toEqual({ A001: 'P001', A002: 'P001', A003: 'waitlist' });
      expect(await auditStore(fixed.store)).toEqual([]);
    } finally {
      await fixed.close();
      await connection.close();
    }
  }, 180_000);
});

describe('every kind of payload', () => {
  /** `temporal workflow show` of one run, without a codec: its JSON text and its events. */
  async function shown(address: string, workflowId: string, runId?: string) {
    const r = await temporalCli(address, [
      'workflow',
      'show',
      '--workflow-id',
      workflowId,
      ...(runId ? ['--run-id', runId] : []),
      '--output',
      'json',
    ]);
    expect(r.code).toBe(0);
    return { text: r.stdout, events: (JSON.parse(r.stdout) as { events: Record<string, unknown>[] }).events };
  }

  test('an Update, and failures (their messages and stack traces), are ciphertext in the stored history', async () => {
    const h = await startHarness();
    // A model endpoint that refuses the key: the model check's activity fails (non-retryable), and so does the run.
    const refused = await startHarness({ faults: [{ mode: 'unauthorized' }] });
    try {
      const handle = await h.start('promptDrivenReassignment', seedInput);
      await waitForProgress(handle, (p) => p.pending_approvals.length > 0);
      await decideApproval(h.client, handle.workflowId, { appointmentId: 'A002', decision: 'approve', by: 'test' });
      expect(decisionsOf((await handle.result()) as ReassignmentResult)).toEqual({
        A001: 'P001',
        A002: 'P001',
        A003: 'waitlist',
      });
      const decided = await shown(h.address, handle.workflowId);
      expect(decided.events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
      expect(decided.events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes)).toHaveLength(1);

      const failing = await refused.start('promptDrivenReassignment', seedInput);
      // Through our codec the reason reads in clear (so the scan below has something to miss).
      await expect(failing.result()).rejects.toThrow();
      const reason = await failing.result().catch((e: Error & { cause?: Error }) => e.cause?.message ?? e.message);
      expect(reason).toMatch(/refused the API key \(401\)/);
      const failed = await shown(refused.address, failing.workflowId);
      const failures = failed.events
        .map(
          (e) =>
            (
              (e.activityTaskFailedEventAttributes ?? e.workflowExecutionFailedEventAttributes) as
                { failure: { message: string; stackTrace?: string } } | undefined
            )?.failure,
        )
        .filter((f) => f !== undefined);
      expect(failures.length).toBeGreaterThanOrEqual(2); // the activity's, and the run's
      // A failure's own message and stack trace are in its encoded attributes, encrypted like any payload.
      for (const f of failures) expect(f.message).toBe('Encoded failure');
      for (const { text } of [decided, failed]) {
        expect(new Set(payloadEncodings(text))).toEqual(new Set(['binary/encrypted']));
        expect(withDataDecoded(text)).not.toMatch(/refused the API key|\.ts:\d+|PAT00\d|Maria Lopez/);
      }
    } finally {
      await h.close();
      await refused.close();
    }
  }, 120_000);

  test('the input each continued-as-new run starts with is ciphertext, as are all its other payloads', async () => {
    const n = 200;
    const h = await startHarness({
      data: syntheticDataset({ appointments: n, seed: 9 }),
      editPrompts: ({ orchestrator }) => {
        const production = orchestrator.versions.find((v) => v.labels.includes('production'))!;
        production.config.approval = { bands: [], timeout: '24h', on_timeout: 'waitlist' };
      },
    });
    try {
      const handle = await h.start('promptDrivenReassignment', { ...seedInput, historyEventLimit: 100 });
      const result = (await handle.result()) as ReassignmentResult;
      expect(result.total_affected).toBe(n);
      expect(result.runs).toBeGreaterThan(1);
      const runs = await untilVisible(
        async () => {
          const ids: string[] = [];
          for await (const w of h.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` }))
            ids.push(w.runId);
          return ids;
        },
        (ids) => ids.length === result.runs,
      );
      expect(runs).toHaveLength(result.runs);
      let continued = 0;
      for (const runId of runs) {
        const { text, events } = await shown(h.address, handle.workflowId, runId);
        const started = events[0]!.workflowExecutionStartedEventAttributes as {
          continuedExecutionRunId?: string;
          input: { payloads: unknown[] };
        };
        if (started.continuedExecutionRunId) continued++;
        expect(payloadEncodings(JSON.stringify(started.input))).toEqual(
          started.input.payloads.map(() => 'binary/encrypted'),
        );
        expect(new Set(payloadEncodings(text))).toEqual(new Set(['binary/encrypted']));
      }
      expect(continued).toBe(result.runs - 1);
    } finally {
      await h.close();
    }
  }, 300_000);
});

describe('bad key settings', () => {
  const material = newKey();
  test.each([
    [
      'malformed PAYLOAD_KEYS',
      `{"current":"k1","keys":{"k1":"${material}"`,
      /invalid configuration: PAYLOAD_KEYS is not JSON/,
    ],
    ['an unknown current key id', ring('k9', { k1: material }), /current key id is not one of keys/],
  ])(
    '%s: the worker, the CLI, the API and the codec server each say one line and exit 1',
    async (_, keys, pattern) => {
      const env = { PAYLOAD_KEYS: keys, TEMPORAL_ADDRESS: '127.0.0.1:1' };
      for (const r of await Promise.all([
        runScript(scripts.worker, [], env),
        runCli(['list'], env),
        runScript(path.join(__dirname, '..', 'src', 'codecServer', 'main.ts'), [], { ...env, CODEC_PORT: '0' }),
        runScript(path.join(__dirname, '..', 'src', 'api', 'main.ts'), [], { ...env, API_PORT: '0' }),
      ])) {
        expectOneLineError(r, pattern);
        expect(r.stderr).not.toContain(material);
      }
    },
    120_000,
  );
});

/**
 * A long-running entry point of ours, started as a user does (tsx), until its start-up banner shows on stdout (or
 * it exits): what it printed by then, and its exit code if it ended. Stopped with SIGTERM.
 */
async function startedUntil(
  script: string,
  env: Record<string, string>,
  banner: RegExp,
): Promise<{ out: string; code: number | null }> {
  const child = spawn(path.join(__dirname, '..', 'node_modules', '.bin', 'tsx'), [script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let code: number | null = null;
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', (c) => ((code = c), resolve())));
  const deadline = Date.now() + 60_000;
  while (code === null && !banner.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (code === null) child.kill('SIGTERM');
  await exited;
  return { out, code: banner.test(out) ? null : code };
}

describe('PAYLOAD_ENCRYPTION=off', () => {
  test('the worker, the API and the codec server warn at every start, and the CLI at every command', async () => {
    const dir = tempDir('encryption-off');
    const env = {
      PAYLOAD_ENCRYPTION: 'off',
      TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS!,
      TASK_QUEUE: uniqueName('encryption-off'),
      DB_PATH: path.join(dir, 'scheduling.db'),
      API_PORT: '0',
      CODEC_PORT: '0',
    };
    const src = path.join(__dirname, '..', 'src');
    const started = await Promise.all([
      startedUntil(scripts.worker, env, /^worker polling task queue/m),
      startedUntil(path.join(src, 'api', 'main.ts'), env, /^operator console and API on /m),
      startedUntil(path.join(src, 'codecServer', 'main.ts'), env, /^codec server on /m),
    ]);
    const cli = await runCli(['list'], env);
    expect(cli.code).toBe(0);
    for (const { out } of [...started, { out: `${cli.stdout}${cli.stderr}` }]) {
      expect(out).toMatch(
        /^warning: PAYLOAD_ENCRYPTION=off: inputs, results and patient data are stored in Temporal as plain JSON$/m,
      );
      expect(out.split('warning: PAYLOAD_ENCRYPTION=off')).toHaveLength(2);
    }
    // And the start-up banners of the worker and the codec server say it too.
    expect(started[0]!.out).toMatch(/worker polling task queue .*payload encryption OFF/);
    expect(started[2]!.out).toMatch(/codec server on .*payload encryption OFF/);
  }, 120_000);
});
