import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Client, Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { z } from 'zod';
import { demoDataset } from '../src/domain/demoData';
import { SchedulingStore } from '../src/domain/store';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { batchWorkflowId, reassignmentWorkflowId } from '../src/workflowIds';
import {
  auditStore,
  promptsCopy,
  temporalCli,
  startHarness,
  tempDir,
  testDataConverter,
  uniqueName,
  type PromptDoc,
} from './support/harness';
import { WorkerProcess } from './support/workerProcess';

/**
 * An MCP server as a tool source. The test serves an MCP server built with the official SDK (an EHR that records
 * each reassignment's outcome, honouring an idempotency key in `_meta`); a prompt version names it; the offline
 * stand-in, reading the prompt, calls its tool after each decision. The worker runs in its own process and is
 * killed while the EHR holds the first call: the run completes, the pinned tool list replays, and the EHR acted
 * once per key. A server that is down: retried, then the batch falls back to code, and the result says why.
 */

const DATE = '2025-11-21';

/**
 * RECORD_HISTORIES=1 writes the crashed run's parent and batch histories into test/fixtures/histories, encrypted
 * under the fixtures' keyring (test/fixtures/replay-keyring.json: the test run's key is thrown away), where
 * test/replay.test.ts replays them from then on.
 */
const recording = process.env.RECORD_HISTORIES === '1';
const codecEnv: Record<string, string> = recording
  ? { PAYLOAD_KEYS: fs.readFileSync(path.join(__dirname, 'fixtures', 'replay-keyring.json'), 'utf8') }
  : {};

interface EhrServer {
  url: string;
  /** Every idempotency key received, in order (a retried call's key again). */
  received: string[];
  /** What each key did, the first time: the server acts once per key. */
  executed: Map<string, { appointment_id: string; outcome: string; provider_id?: string }>;
  /** Calls that arrived without a key. */
  unkeyed: number;
  /** tools/list requests. */
  listed: number;
  /** While set, every tools/call is answered 503 (the server is down for calls); counts them. */
  failCalls: boolean;
  refusedCalls: number;
  /** Holds the record_outcome calls until released. */
  hold(): { arrived: Promise<void>; release: () => void };
  close(): Promise<void>;
}

async function startEhr(): Promise<EhrServer> {
  const received: string[] = [];
  const executed: EhrServer['executed'] = new Map();
  let unkeyed = 0;
  let listed = 0;
  const state = { failCalls: false, refusedCalls: 0 };
  let gate: { opened: Promise<void>; onArrival: () => void } | undefined;
  const build = () => {
    const server = new McpServer({ name: 'test-ehr', version: '1.0.0' });
    server.registerTool(
      'record_outcome',
      {
        description: 'Record in the EHR how a reassigned appointment ended.',
        inputSchema: {
          appointment_id: z.string().regex(/^A\d+$/),
          outcome: z.enum(['reassigned', 'waitlisted']),
          provider_id: z.string().optional(),
        },
        annotations: { readOnlyHint: false, idempotentHint: true },
      },
      async (args, extra) => {
        const key = extra._meta?.idempotency_key;
        if (typeof key !== 'string') unkeyed += 1;
        else received.push(key);
        if (gate) {
          gate.onArrival();
          await gate.opened;
        }
        if (typeof key === 'string' && !executed.has(key)) executed.set(key, args);
        const first = typeof key === 'string' ? executed.get(key)! : args;
        return {
          content: [{ type: 'text', text: `recorded ${first.appointment_id} as ${first.outcome}` }],
          structuredContent: { recorded: first.appointment_id, outcome: first.outcome },
        };
      },
    );
    server.registerTool(
      'opening_hours',
      { description: 'The clinic opening hours (not offered to the model).', annotations: { readOnlyHint: true } },
      () => ({ content: [{ type: 'text', text: '8-18' }] }),
    );
    return server;
  };
  const http_ = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown) : undefined;
      const method = (body as { method?: string } | undefined)?.method;
      if (method === 'tools/list') listed += 1;
      if (method === 'tools/call' && state.failCalls) {
        state.refusedCalls += 1;
        res.writeHead(503).end();
        return;
      }
      const server = build();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      void server.connect(transport).then(() => transport.handleRequest(req, res, body));
    });
  });
  await new Promise<void>((resolve) => http_.listen(0, '127.0.0.1', resolve));
  const { port } = http_.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    received,
    executed,
    get unkeyed() {
      return unkeyed;
    },
    get listed() {
      return listed;
    },
    get failCalls() {
      return state.failCalls;
    },
    set failCalls(on: boolean) {
      state.failCalls = on;
    },
    get refusedCalls() {
      return state.refusedCalls;
    },
    hold() {
      let release!: () => void;
      let arrived!: () => void;
      const opened = new Promise<void>((r) => (release = r));
      const first = new Promise<void>((r) => (arrived = r));
      gate = { opened, onArrival: arrived };
      return {
        arrived: first,
        release: () => {
          gate = undefined;
          release();
        },
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        http_.closeAllConnections();
        http_.close(() => resolve());
      }),
  };
}

/** A version labelled `mcp`: staging's policy (no approvals), with the EHR named and its tool in the steps. */
function withEhr(url: string) {
  return (files: { orchestrator: PromptDoc; scoring: PromptDoc }) => {
    files.scoring.versions.find((v) => v.labels.includes('staging'))!.labels.push('mcp');
    const staging = files.orchestrator.versions.find((v) => v.labels.includes('staging'))!;
    files.orchestrator.versions.push({
      version: 4,
      labels: ['mcp'],
      config: { ...staging.config, mcp_servers: [{ name: 'ehr', url, tools: ['record_outcome'] }] },
      prompt: staging.prompt.replace(
        '4. When every appointment is decided',
        '4. After each decision, call ehr__record_outcome for that appointment.\n5. When every appointment is decided',
      ),
    });
  };
}

describe('an MCP server as a tool source', () => {
  let connection: Connection;
  let client: Client;
  let ehr: EhrServer;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
    client = new Client({ connection, dataConverter: testDataConverter(codecEnv) });
    ehr = await startEhr();
  });
  afterAll(async () => {
    await worker?.stop();
    await ehr?.close();
    await connection?.close();
  });

  test('the model calls the EHR tool the prompt names; the worker is killed mid-call; the run completes, replays, and the EHR acted once per key', async () => {
    const dir = tempDir('mcp-source');
    const dbFile = path.join(dir, 'scheduling.db');
    const seed = await SchedulingStore.open(dbFile);
    await seed.load(demoDataset());
    await seed.close();
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
      TASK_QUEUE: uniqueName('mcp-tq'),
      DB_PATH: dbFile,
      PROMPTS_DIR: promptsCopy(withEhr(ehr.url)),
      WORKFLOW_BUNDLE: process.env.TEST_WORKFLOW_BUNDLE,
      LOG_LEVEL: 'ERROR',
      ...codecEnv,
    };
    worker = await WorkerProcess.start(env);
    const gate = ehr.hold();
    try {
      const handle = await client.workflow.start('promptDrivenReassignment', {
        taskQueue: env.TASK_QUEUE,
        workflowId: recording
          ? `replay-promptDrivenReassignment-mcp-${Date.now()}`
          : reassignmentWorkflowId({ providerId: 'T001', date: DATE, tag: 'mcp', stamp: uniqueName('t') }),
        args: [{ providerId: 'T001', date: DATE, reason: 'sick', promptLabel: 'mcp' }],
      });
      // The EHR holds the first call; the worker dies with it in flight; the EHR then answers nobody.
      await gate.arrived;
      await worker.kill();
      gate.release();
      worker = await WorkerProcess.start(env);
      const result = (await handle.result()) as ReassignmentResult;

      expect(result.status).toBe('completed');
      expect(result.fallbacks).toEqual([]);
      const decided = Object.fromEntries([
        ...result.assignments.map((a) => [a.appointment_id, a.new_provider_id]),
        ...result.waitlisted.map((w) => [w.appointment_id, 'waitlist']),
      ]);
      expect(decided).toEqual({ A001: 'P001', A002: 'P001', A003: 'waitlist' });

      // One write per appointment, each with a key derived from the run: acted on once, though the call the kill
      // interrupted arrived again (a retry carries the same key).
      expect(ehr.unkeyed).toBe(0);
      expect([...ehr.executed.values()].sort((a, b) => a.appointment_id.localeCompare(b.appointment_id))).toEqual([
        { appointment_id: 'A001', outcome: 'reassigned', provider_id: 'P001' },
        { appointment_id: 'A002', outcome: 'reassigned', provider_id: 'P001' },
        { appointment_id: 'A003', outcome: 'waitlisted' },
      ]);
      for (const key of ehr.executed.keys())
        expect(key).toMatch(new RegExp(`^${handle.workflowId}:mcp:ehr:record_outcome:`));
      const first = ehr.received[0]!;
      expect(ehr.received.filter((k) => k === first).length).toBeGreaterThanOrEqual(2);
      expect(new Set(ehr.received)).toEqual(new Set(ehr.executed.keys()));

      // Listed once, at the start, and pinned: the restarted worker did not list again.
      expect(ehr.listed).toBe(1);
      const parent = await handle.fetchHistory();
      const scheduled = parent.events!.filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'listMcpTools',
      );
      expect(scheduled).toHaveLength(1);
      // The parent and the batch, with the pinned list in them, replay against this code.
      const batch = await client.workflow.getHandle(batchWorkflowId(handle.workflowId, 1)).fetchHistory();
      const errors: string[] = [];
      for await (const r of Worker.runReplayHistories(
        {
          workflowBundle: { code: fs.readFileSync(process.env.TEST_WORKFLOW_BUNDLE!, 'utf8') },
          dataConverter: testDataConverter(codecEnv),
        },
        [
          { workflowId: handle.workflowId, history: parent },
          { workflowId: batchWorkflowId(handle.workflowId, 1), history: batch },
        ],
      ))
        if (r.error) errors.push(`${r.workflowId}: ${r.error.message}`);
      expect(errors).toEqual([]);
      if (recording)
        for (const id of [handle.workflowId, batchWorkflowId(handle.workflowId, 1)]) {
          const shown = await temporalCli(process.env.TEST_TEMPORAL_ADDRESS!, [
            'workflow',
            'show',
            '--workflow-id',
            id,
            '--output',
            'json',
          ]);
          fs.writeFileSync(path.join(__dirname, 'fixtures', 'histories', `${id}.json`), shown.stdout);
        }
      const store = await SchedulingStore.open(dbFile);
      try {
        expect(await auditStore(store)).toEqual([]);
      } finally {
        await store.close();
      }
    } finally {
      gate.release();
      await worker.stop();
      worker = undefined;
    }
  }, 180_000);

  test('a server named by command (stdio): the model calls its tool, each write with its key', async () => {
    const log = path.join(tempDir('stdio-ehr'), 'calls.jsonl');
    const script = path.join(__dirname, 'support', 'stdioMcpServer.ts');
    const h = await startHarness({
      editPrompts: (files) => {
        withEhr(ehr.url)(files);
        const mcp = files.orchestrator.versions.find((v) => v.labels.includes('mcp'))!;
        mcp.config.mcp_servers = [
          { name: 'ehr', command: process.execPath, args: ['--import', 'tsx', script, log], tools: ['record_outcome'] },
        ];
      },
    });
    try {
      const result = await h.run('promptDrivenReassignment', { providerId: 'T001', date: DATE, promptLabel: 'mcp' });
      expect(result.status).toBe('completed');
      const calls = fs
        .readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { appointment_id: string; outcome: string; key: string });
      expect(calls.map((c) => [c.appointment_id, c.outcome]).sort()).toEqual([
        ['A001', 'reassigned'],
        ['A002', 'reassigned'],
        ['A003', 'waitlisted'],
      ]);
      expect(new Set(calls.map((c) => c.key)).size).toBe(3);
      expect(calls.every((c) => c.key.includes(':mcp:ehr:record_outcome:'))).toBe(true);
    } finally {
      await h.close();
    }
  }, 120_000);

  test("a shadow run's dry run is never offered the MCP tools: their calls are real and the shadow writes nothing", async () => {
    const h = await startHarness({ editPrompts: withEhr(ehr.url) });
    const before = { received: ehr.received.length, unkeyed: ehr.unkeyed };
    try {
      const result = await h.run('reassignment', {
        providerId: 'T001',
        date: DATE,
        reason: 'sick',
        promptLabel: 'mcp',
        mode: 'shadow',
        shadowWriter: 'code',
      });
      expect(result.status).toBe('completed');
      // The prompt path decided beside the code (its model read the prompt that names the EHR's tool)...
      expect(result.shadow).toMatchObject({ writer: 'code', shadow: 'prompt', agreed: 3 });
      expect(result.shadow!.llm.calls).toBeGreaterThan(0);
      expect(result.shadow!.llm.invalid_tool_calls).toBe(0);
      // ... and the EHR heard nothing from it.
      expect({ received: ehr.received.length, unkeyed: ehr.unkeyed }).toEqual(before);
      expect(await auditStore(h.store)).toEqual([]);
    } finally {
      await h.close();
    }
  }, 120_000);

  test('an MCP server that stops answering calls: each call is retried, then the batch ends, and the result says why', async () => {
    const h = await startHarness({ editPrompts: withEhr(ehr.url) });
    ehr.failCalls = true;
    try {
      const result = await h.run('promptDrivenReassignment', {
        providerId: 'T001',
        date: DATE,
        reason: 'sick',
        promptLabel: 'mcp',
      });
      // Every appointment was decided and told before the EHR's step; that step is what could not be taken.
      expect(result.status).toBe('completed_with_fallback');
      expect(result.fallbacks).toEqual([
        expect.objectContaining({
          reason: expect.stringMatching(/^MCP server ehr is unavailable: MCP server ehr failed on record_outcome/),
          appointments: [],
        }),
      ]);
      expect(result.assignments.map((a) => [a.appointment_id, a.new_provider_id, a.decided_by])).toEqual([
        ['A001', 'P001', 'prompt'],
        ['A002', 'P001', 'prompt'],
      ]);
      // 3 calls, each tried 8 times (the retry policy) before the batch gave the server up.
      expect(ehr.refusedCalls).toBe(3 * 8);
      expect(await auditStore(h.store)).toEqual([]);
    } finally {
      ehr.failCalls = false;
      await h.close();
    }
  }, 120_000);

  test('an MCP server that is down: listing is retried, then every batch falls back to the code-driven steps, and the result says why', async () => {
    const gone = http.createServer();
    await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(gone.address() as AddressInfo).port}/mcp`;
    await new Promise<void>((resolve) => gone.close(() => resolve()));
    const h = await startHarness({ editPrompts: withEhr(url) });
    try {
      const result = await h.run('promptDrivenReassignment', {
        providerId: 'T001',
        date: DATE,
        reason: 'sick',
        promptLabel: 'mcp',
      });
      expect(result.status).toBe('completed_with_fallback');
      expect(result.fallbacks).toEqual([
        expect.objectContaining({
          reason: expect.stringMatching(/^MCP server ehr is unavailable: MCP server ehr does not answer/),
          appointments: ['A001', 'A002', 'A003'],
        }),
      ]);
      expect(result.llm.calls).toBe(0);
      expect(result.waitlisted.map((w) => w.appointment_id)).toEqual(['A003']);
      expect(result.assignments.map((a) => [a.appointment_id, a.decided_by])).toEqual([
        ['A001', 'code'],
        ['A002', 'code'],
      ]);
      expect(await auditStore(h.store)).toEqual([]);
    } finally {
      await h.close();
    }
  }, 120_000);
});
