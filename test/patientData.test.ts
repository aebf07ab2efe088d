import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { startCodecServer, type RunningCodecServer } from '../src/codecServer/main';
import { loadConfig } from '../src/config';
import { syntheticDataset, syntheticPhone } from '../src/domain/syntheticData';
import { freePort, startDevServer, type DevServer } from '../src/temporal/devServer';
import { batchWorkflowId } from '../src/workflowIds';
import { approveSignal, cancelSignal, progressQuery } from '../src/workflows/contract/signals';
import type { Progress, ReassignmentResult } from '../src/workflows/contract/types';
import {
  auditStore,
  encryptionEnv,
  startHarness,
  tempDir,
  temporalCli,
  testDataConverter,
  type Harness,
} from './support/harness';
import { readsPatientDetails } from './support/patientDetailsPrompt';

/**
 * Patient data never in the clear, on a synthetic day of 200 appointments whose patients have notes naming them
 * and a phone number: one run with approvals decided by a person and batches that fall back to the code-driven
 * path (the model's first replies are cut off), and one run cancelled mid-way. Then every place a person with access
 * to the Temporal server could look (the dev server's SQLite files and log, `temporal workflow list`, `show` and
 * `describe` of every run, without a codec) and every log line of the worker hold no patient id, name, phone
 * number or note; through the codec server the same `show` reads them.
 */

const N = 200;
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const data = syntheticDataset({ appointments: N, seed: 20, withNotes: true });
const input = { providerId: 'T001', date: '2025-11-21', reason: 'sick' } as const;

/** Every patient's id, name, phone number and note: none may be readable outside the payloads. */
const sensitive = new Set(data.patients.flatMap((p, i) => [p.id, p.name, syntheticPhone(i + 1), p.notes]));
/** One pattern per kind of value above: a scan finds any of them (and any other patient's) in one pass. */
const PATIENT_DATA = /PAT\d{6}|Synthetic Patient \d+|\+351 9\d\d \d{3} \d{3}|asks for a call back/g;

function hitsIn(text: string): string[] {
  return [...new Set(text.match(PATIENT_DATA) ?? [])];
}

/** The text of a CLI's JSON output, with every base64 `data` field decoded beside it. */
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
  for (const line of stdout.split('\n').filter((l) => l.trim() !== '')) {
    try {
      walk(JSON.parse(line));
    } catch {
      // one document over several lines: parsed whole below
    }
  }
  try {
    walk(JSON.parse(stdout));
  } catch {
    // JSON lines: parsed one by one above
  }
  return [stdout, ...decoded].join('\n');
}

/** The server's SQLite files (database, WAL, shared memory) and its log, as bytes. */
function sqliteText(dbFile: string): string {
  return [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, `${dbFile}.log`]
    .filter((f) => fs.existsSync(f))
    .map((f) => fs.readFileSync(f).toString('latin1'))
    .join('\n');
}

/**
 * Approves the approvals the run asks for (those of the first `batches` batches, or all), as a person at the
 * console would, until the run ends or `enough` holds for its progress; returns how many it approved.
 */
async function approvePending(
  handle: WorkflowHandle,
  options: { batches?: number; enough?: (p: Progress) => boolean } = {},
): Promise<number> {
  let done = false;
  void handle.result().then(
    () => (done = true),
    () => (done = true),
  );
  const approved = new Set<string>();
  while (!done) {
    try {
      const p = await handle.query(progressQuery);
      if (options.enough?.(p)) break;
      const asked = p.pending_approvals.filter((x) => x.batch <= (options.batches ?? Infinity));
      for (const a of asked.filter((x) => !approved.has(x.appointment_id))) {
        approved.add(a.appointment_id);
        await handle.signal(approveSignal, { appointmentId: a.appointment_id, by: 'nurse-jo' });
      }
    } catch {
      // not started yet, or just finished
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return approved.size;
}

describe(`patient data on a synthetic day of ${N} appointments`, () => {
  const logged: string[] = [];
  const said: string[] = [];
  let server: DevServer;
  let dbFile: string;
  let codec: RunningCodecServer;
  let h: Harness;
  let completed: ReassignmentResult;
  let approved: number;
  let cancelled: ReassignmentResult;
  let workflowIds: string[];
  const operatorKey = 'olga-operator-key-0123';
  const viewerKey = 'vic-viewer-key-012345';
  const codecLog: string[] = [];
  let codecUrl: string;

  beforeAll(async () => {
    // Every log line of the worker, the workflows' and activities' included, as a log shipper would keep them.
    Runtime.install({
      logger: new DefaultLogger('DEBUG', (e) => logged.push(`${e.level} ${e.message} ${JSON.stringify(e.meta ?? {})}`)),
      telemetryOptions: { logging: { filter: { core: 'INFO', other: 'INFO' }, forward: {} } },
    });
    dbFile = path.join(tempDir('patient-data'), 'temporal.db');
    // As `npm run server` and `npm run codec-server` start them: the Web UI decodes through the codec server, which
    // only the Web UI's origin may call, and only people with a key.
    const uiPort = await freePort();
    const codecPort = await freePort();
    codec = await startCodecServer(
      loadConfig({
        ...encryptionEnv(),
        API_KEYS: JSON.stringify([
          { name: 'olga', key: operatorKey, role: 'operator' },
          { name: 'vic', key: viewerKey, role: 'viewer' },
        ]),
        CODEC_HOST: '127.0.0.1',
        CODEC_PORT: String(codecPort),
        TEMPORAL_UI_PORT: String(uiPort),
      }),
      (l) => codecLog.push(l),
    );
    // The browser reaches it on localhost, as the Web UI: the same site, so its session cookie goes along.
    codecUrl = `http://localhost:${codecPort}`;
    server = await startDevServer({ dbFile, port: await freePort(), uiPort, uiCodecEndpoint: codecUrl });
    h = await startHarness({
      address: server.address,
      data,
      editPrompts: readsPatientDetails,
      // The first replies are cut off at max_tokens: the batches that get them hand their appointments to the
      // code-driven steps.
      faults: [{ mode: 'truncated', times: 2 }],
      env: { LOG_LEVEL: 'DEBUG' },
      say: (l) => said.push(l),
    });

    const first = await h.start('promptDrivenReassignment', input);
    approved = await approvePending(first);
    completed = (await first.result()) as ReassignmentResult;

    // The same day again, cancelled mid-way: the first three batches' approvals decided and those batches done,
    // the others' approvals waiting.
    await h.reload(data);
    const second = await h.start('promptDrivenReassignment', input);
    await approvePending(second, { batches: 3, enough: (p) => p.batches.done >= 3 && p.pending_approvals.length > 0 });
    await second.signal(cancelSignal, { reason: 'provider back early' });
    cancelled = (await second.result()) as ReassignmentResult;

    workflowIds = [];
    for await (const w of h.client.workflow.list()) workflowIds.push(w.workflowId);
  }, 600_000);

  /** A batch of the completed run where the model decided (it read the patients' details), not the fallback. */
  const decidingBatch = () => {
    const fellBack = new Set(completed.fallbacks.map((f) => f.batch));
    const n = Array.from({ length: N / 10 }, (_, i) => i + 1).find((b) => !fellBack.has(b))!;
    return batchWorkflowId(completed.workflow_id, n);
  };

  afterAll(async () => {
    await h?.close();
    await codec?.close();
    await server?.stop();
  });

  test('the runs took the approval, fallback and cancel paths', async () => {
    expect(completed.total_affected).toBe(N);
    expect(completed.successful_assignments + completed.waitlist_entries).toBe(N);
    expect(approved).toBeGreaterThan(0);
    expect(completed.assignments.filter((a) => a.approved_by === 'nurse-jo').length).toBeGreaterThan(0);
    expect(completed.status).toBe('completed_with_fallback');
    expect(completed.fallbacks.length).toBeGreaterThan(0);
    expect(completed.decided_by.code).toBeGreaterThan(0);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.successful_assignments + cancelled.waitlist_entries).toBeLessThan(N);
    expect(await auditStore(h.store)).toEqual([]);
    // Every kind of value the scan looks for is one the data holds, and the pattern knows each of them.
    expect([...sensitive].every((s) => hitsIn(s).length > 0)).toBe(true);
    expect(workflowIds.length).toBeGreaterThan(N / 10 + 2); // the first run and its batches, the second and some
  });

  test("the server's SQLite files and log hold no patient id, name, phone number or note", () => {
    expect(hitsIn(sqliteText(dbFile))).toEqual([]);
  });

  test('`temporal workflow list`, and `show` and `describe` of every run, without the codec, show none', async () => {
    const list = await temporalCli(server.address, ['workflow', 'list', '--output', 'json', '--limit', '1000']);
    expect(list.code).toBe(0);
    expect(hitsIn(withDataDecoded(list.stdout))).toEqual([]);
    const hits: Record<string, string[]> = {};
    for (const id of workflowIds) {
      for (const command of ['show', 'describe']) {
        const r = await temporalCli(server.address, ['workflow', command, '--workflow-id', id, '--output', 'json']);
        expect(r.code).toBe(0);
        const found = hitsIn(withDataDecoded(r.stdout));
        if (found.length > 0) hits[`${command} ${id}`] = found;
      }
    }
    expect(hits).toEqual({});
  }, 300_000);

  test("the worker's log lines (workflows and activities at DEBUG) and notices hold none", () => {
    expect(logged.length).toBeGreaterThan(0);
    expect(hitsIn([...logged, ...said].join('\n'))).toEqual([]);
  });

  test('through the codec server, with an operator key, `temporal workflow show` reads them', async () => {
    const batch = decidingBatch();
    const r = await temporalCli(server.address, ['workflow', 'show', '--workflow-id', batch, '--output', 'json'], {
      endpoint: codec.url,
      auth: `Bearer ${operatorKey}`,
    });
    expect(r.code).toBe(0);
    const found = hitsIn(withDataDecoded(r.stdout));
    // Patient ids (the prefetched candidates), and the notes with the name and phone number (get_patient_details).
    expect(found.some((s) => /^PAT\d{6}$/.test(s))).toBe(true);
    expect(found.some((s) => /^\+351/.test(s))).toBe(true);
    expect(found.some((s) => /^Synthetic Patient/.test(s))).toBe(true);
    expect(found).toContain('asks for a call back');
  }, 60_000);
  describe('the Web UI in Chromium, decoding through the codec server', () => {
    let browser: Browser;
    beforeAll(async () => {
      if (!fs.existsSync(executablePath))
        throw new Error(
          `no Chromium at ${executablePath}: apt-get install chromium (.ci/run does), or set CHROMIUM_PATH`,
        );
      browser = await chromium.launch({
        executablePath,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
      });
    });
    afterAll(() => browser?.close());

    /**
     * A browser that signed in at the codec server with `key` (none: not signed in), and whose Web UI decodes
     * with cross-origin credentials: what a person sets in the Web UI's codec server settings (stored in the
     * browser's localStorage, as here).
     */
    async function browserSignedIn(key?: string): Promise<BrowserContext> {
      const context = await browser.newContext();
      const settings = { endpoint: codecUrl, includeCredentials: true, overrideRemoteCodecConfiguration: true };
      await context.addInitScript({
        content: Object.entries(settings)
          .map(([k, v]) => `localStorage.setItem(${JSON.stringify(k)}, ${JSON.stringify(JSON.stringify(v))});`)
          .join('\n'),
      });
      if (key) {
        const page = await context.newPage();
        await page.goto(`${codecUrl}/sign-in`);
        await page.getByLabel('API key').fill(key);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByTestId('signed-in').waitFor();
        await page.close();
      }
      return context;
    }

    /** The event that scheduled the batch's first get_patient_details calls (read with our codec, as the worker does). */
    async function detailsEvent(): Promise<{ workflowId: string; runId: string; eventId: number }> {
      const handle = h.client.workflow.getHandle(decidingBatch());
      const { runId } = await handle.describe();
      const codecs = testDataConverter().payloadCodecs ?? [];
      for (const e of (await handle.fetchHistory()).events ?? []) {
        const payloads = e.activityTaskScheduledEventAttributes?.input?.payloads;
        if (!payloads?.length) continue;
        let decoded = payloads as Payload[];
        for (const c of [...codecs].reverse()) decoded = await c.decode(decoded);
        const input = JSON.parse(Buffer.from(decoded[0]!.data ?? new Uint8Array()).toString()) as {
          calls?: { name: string }[];
        };
        if (input.calls?.some((c) => c.name === 'get_patient_details'))
          return { workflowId: handle.workflowId, runId, eventId: Number(e.eventId) };
      }
      throw new Error('no get_patient_details call in the batch');
    }

    /** Opens that event on the run's page in the Web UI (its details: the activity's input); returns the page's text. */
    async function activityInputShown(context: BrowserContext, settle: (text: string) => boolean): Promise<string> {
      const { workflowId, runId, eventId } = await detailsEvent();
      const page = await context.newPage();
      await page.goto(`${server.uiUrl}/namespaces/default/workflows/${workflowId}/${runId}/history/events/${eventId}`);
      await page.getByText('Activity Task Scheduled').first().waitFor();
      let text = '';
      for (let i = 0; i < 80; i++) {
        text = await page.locator('body').innerText();
        if (settle(text)) break;
        await page.waitForTimeout(250);
      }
      await page.close();
      return text;
    }

    test("signed in as an operator, the run's page shows the activity's input decoded: the patient's id", async () => {
      const context = await browserSignedIn(operatorKey);
      try {
        const text = await activityInputShown(context, (t) => /"patient_id": "PAT\d{6}"/.test(t));
        expect(text).toMatch(/"name": "get_patient_details",\s*"args": \{\s*"patient_id": "PAT\d{6}"/);
        expect(codecLog).toContainEqual('codec server: sign-in by olga (operator)');
        expect(codecLog).toContainEqual(
          expect.stringMatching(/^codec server: decode by olga \(operator\): \d+ payload/),
        );
      } finally {
        await context.close();
      }
    }, 120_000);

    test.each([
      ['signed in as a viewer (a role that may not see patient data)', viewerKey],
      ['not signed in', undefined],
    ])(
      '%s, the same page shows it encrypted',
      async (_, key) => {
        const context = await browserSignedIn(key);
        const decodedBefore = codecLog.filter((l) => l.includes('decode by')).length;
        try {
          const text = await activityInputShown(context, (t) => t.includes('Codec Server could not connect'));
          expect(text).toContain('Codec Server could not connect');
          expect(text).toMatch(/[A-Za-z0-9+/]{200,}/); // the input is there, as base64 ciphertext
          expect(hitsIn(text)).toEqual([]);
          expect(codecLog.filter((l) => l.includes('decode by'))).toHaveLength(decodedBefore);
        } finally {
          await context.close();
        }
      },
      120_000,
    );
  });
});
