import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { startApi, type RunningApi } from '../src/api/main';
import { loadConfig, projectRoot } from '../src/config';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { REASSIGNMENT_TYPES } from '../src/workflowIds';
import { auditStore, encryptionEnv, startHarness, storeEnv, tempDir, type Harness } from './support/harness';

/**
 * The product as an MCP server, driven by the official SDK's own Client (a real MCP client not written here):
 * over streamable HTTP on the API server (/mcp, with the API's keys and roles), and over stdio as `npm run -s mcp`
 * is started by an assistant. Against the real Temporal dev server and a worker with the offline stand-in model.
 */

const OPERATOR = 'operator-key-mcp-0123456789';
const VIEWER = 'viewer-key-mcp-0123456789ab';
const keys = JSON.stringify([
  { name: 'alice', key: OPERATOR, role: 'operator' },
  { name: 'victor', key: VIEWER, role: 'viewer' },
]);

type ToolCall = (name: string, args?: Record<string, unknown>) => Promise<CallToolResult>;

const text = (r: CallToolResult) => (r.content[0] as { text: string }).text;
const json = <T = Record<string, unknown>>(r: CallToolResult): T => {
  if (r.isError) throw new Error(`tool error: ${text(r)}`);
  return r.structuredContent as T;
};

async function until<T>(what: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await what();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error('timed out');
}

/** The assistant's whole errand: start the seed example, find A002 waiting, approve it, read the result. */
async function approveTheSeedExample(call: ToolCall): Promise<{ id: string; result: ReassignmentResult }> {
  const started = json<{ workflow_id: string; type: string }>(
    await call('start_reassignment', { provider_id: 'T001', date: '2025-11-21', reason: 'sick' }),
  );
  expect(started.type).toBe('promptDrivenReassignment');
  const id = started.workflow_id;
  const waiting = await until(async () => {
    const inbox = json<{ approvals: { workflow_id: string; appointment_id: string; provider_id: string }[] }>(
      await call('list_approvals'),
    );
    return inbox.approvals.find((a) => a.workflow_id === id);
  });
  expect(waiting).toMatchObject({ appointment_id: 'A002', provider_id: 'P001' });
  const decided = json(await call('decide_approval', { workflow_id: id, appointment_id: 'A002', decision: 'approve' }));
  expect(decided).toMatchObject({ workflow_id: id, appointment_id: 'A002', decision: 'approved' });
  const again = await call('decide_approval', { workflow_id: id, appointment_id: 'A002', decision: 'reject' });
  expect(again.isError).toBe(true);
  expect(text(again)).toMatch(/^A002 (was already approved|is no longer awaiting|is not awaiting)|has finished/);
  expect(text(again)).not.toContain('\n');
  const result = await until(async () => {
    const detail = json<{ result: ReassignmentResult | null }>(await call('get_reassignment', { workflow_id: id }));
    return detail.result ?? undefined;
  });
  return { id, result };
}

/**
 * The MCP Inspector's CLI mode (`mcp-inspector --cli`, from npm, run offline from node_modules): one method per
 * process, its answer as JSON on stdout; a tool error exits non-zero with the result printed first.
 */
function inspector(args: string[]): Promise<{ code: number; out: CallToolResult & Record<string, unknown> }> {
  const bin = path.join(projectRoot, 'node_modules', '.bin', 'mcp-inspector');
  return new Promise((resolve) => {
    execFile(
      bin,
      ['--cli', ...args],
      // The inspector keeps a catalog of servers; a temp one, so that the test writes nothing in $HOME.
      { env: { ...process.env, MCP_CATALOG_PATH: path.join(tempDir('inspector'), 'mcp.json') }, timeout: 60_000 },
      (err, stdout) => {
        const first = /^\{[\s\S]*?^\}/m.exec(stdout)?.[0] ?? '{}';
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: JSON.parse(first) });
      },
    );
  });
}

describe('the MCP server', () => {
  let h: Harness;
  let api: RunningApi;
  let env: Record<string, string>;
  const clients: Client[] = [];

  const overHttp = async (key: string): Promise<Client> => {
    const client = new Client({ name: 'mcp-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${api.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${key}` } },
      }),
    );
    clients.push(client);
    return client;
  };
  const caller =
    (client: Client): ToolCall =>
    (name, args = {}) =>
      client.callTool({ name, arguments: args }) as Promise<CallToolResult>;

  beforeAll(async () => {
    h = await startHarness();
    env = {
      TEMPORAL_ADDRESS: h.address,
      TASK_QUEUE: h.taskQueue,
      ...storeEnv(h.store),
      PROMPTS_DIR: h.promptsDir,
      LOG_LEVEL: 'ERROR',
      ...encryptionEnv(),
    };
    api = await startApi(loadConfig({ ...env, API_PORT: '0', API_KEYS: keys }), () => undefined);
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await api?.close();
    await h?.close();
  });
  beforeEach(() => h.reload());

  test('over streamable HTTP: the tools are listed with their schemas; an operator starts the seed example, approves A002 and reads the result', async () => {
    const client = await overHttp(OPERATOR);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual([
      'start_reassignment',
      'get_reassignment',
      'list_reassignments',
      'list_approvals',
      'decide_approval',
      'cancel_reassignment',
      'find_candidates',
      'calculate_match_score',
    ]);
    expect(tools.find((t) => t.name === 'find_candidates')!.inputSchema).toMatchObject({
      type: 'object',
      required: ['appointment_id'],
    });
    expect(tools.find((t) => t.name === 'list_approvals')!.annotations).toMatchObject({ readOnlyHint: true });
    const { id, result } = await approveTheSeedExample(caller(client));
    expect(result).toMatchObject({ workflow_id: id, status: 'completed', successful_assignments: 2 });
    // The decision went through the run's Update, recorded under the key's name.
    expect(result.assignments.find((a) => a.appointment_id === 'A002')).toMatchObject({
      new_provider_id: 'P001',
      approved_by: 'alice',
    });
    expect((await h.store.appointmentRecord('A002')).approvals).toEqual([
      expect.objectContaining({ decision: 'approved', decided_by: 'alice' }),
    ]);
    const listed = json<{ runs: { workflow_id: string }[] }>(
      await caller(client)('list_reassignments', { provider: 'T001' }),
    );
    expect(listed.runs.map((r) => r.workflow_id)).toContain(id);
    expect(await auditStore(h.store)).toEqual([]);
  });

  test('over streamable HTTP, a viewer reads but is refused decide_approval, start_reassignment and patient names, in one line', async () => {
    const operator = caller(await overHttp(OPERATOR));
    const viewer = caller(await overHttp(VIEWER));
    const id = json<{ workflow_id: string }>(
      await operator('start_reassignment', { provider_id: 'T001', date: '2025-11-21' }),
    ).workflow_id;
    await until(async () =>
      json<{ approvals: { workflow_id: string }[] }>(await viewer('list_approvals')).approvals.find(
        (a) => a.workflow_id === id,
      ),
    );
    // The start went through the API's own start: its starter is recorded under the key's name, and an identical
    // start while the run is running gets that run, not a second one.
    const detail = (await (
      await fetch(`${api.url}/api/reassignments/${id}`, { headers: { authorization: `Bearer ${VIEWER}` } })
    ).json()) as { started_by: string | null };
    expect(detail.started_by).toBe('alice');
    const again = json<{ workflow_id: string }>(
      await operator('start_reassignment', { provider_id: 'T001', date: '2025-11-21' }),
    );
    expect(again.workflow_id).toBe(id);
    const refused = await viewer('decide_approval', { workflow_id: id, appointment_id: 'A002', decision: 'approve' });
    expect(refused).toMatchObject({ isError: true });
    expect(text(refused)).toBe('the viewer role may not do this: it needs the operator role');
    expect((await h.store.appointmentRecord('A002')).approvals).toEqual([]);
    expect((await viewer('start_reassignment', { provider_id: 'T001', date: '2025-11-21' })).isError).toBe(true);
    const names = await viewer('get_reassignment', { workflow_id: id, include_patients: true });
    expect(text(names)).toBe('patient names are for the operator role only');
    const withNames = json<{ patients: Record<string, string> }>(
      await operator('get_reassignment', { workflow_id: id, include_patients: true }),
    );
    expect(Object.keys(withNames.patients)).toContain('A002');
    // While the run runs, get_reassignment is its progress: A002 waiting for a human.
    const running = json<{ execution_status: string; progress: { pending_approvals: { appointment_id: string }[] } }>(
      await viewer('get_reassignment', { workflow_id: id }),
    );
    expect(running.execution_status).toBe('RUNNING');
    expect(running.progress.pending_approvals.map((p) => p.appointment_id)).toEqual(['A002']);
    // Without the operator's ask, no patient name in what a viewer reads.
    const names_ = Object.values(withNames.patients);
    expect(names_.length).toBeGreaterThan(0);
    for (const read of [
      await viewer('get_reassignment', { workflow_id: id }),
      await viewer('list_approvals'),
      await viewer('list_reassignments', { provider: 'T001' }),
    ]) {
      expect(read.isError).toBeFalsy();
      for (const n of names_) expect(JSON.stringify(read)).not.toContain(n);
    }
    const notCancelled = await viewer('cancel_reassignment', { workflow_id: id });
    expect(text(notCancelled)).toBe('the viewer role may not do this: it needs the operator role');
    expect((await h.client.workflow.getHandle(id).describe()).status.name).toBe('RUNNING');
    const score = json<{ score: number; band: string }>(
      await viewer('calculate_match_score', { appointment_id: 'A002', provider_id: 'P001' }),
    );
    expect(score).toMatchObject({ score: 129, band: 'good' });
    expect(json(await operator('cancel_reassignment', { workflow_id: id }))).toMatchObject({
      cancellation: 'requested',
    });
    expect(((await h.client.workflow.getHandle(id).result()) as ReassignmentResult).status).toBe('cancelled');
  });

  test('over streamable HTTP, no key or an unknown key is refused with 401 before any MCP message is read', async () => {
    const bare = await fetch(`${api.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(bare.status).toBe(401);
    // Stateless: a request with a key is answered on its own, no session to carry to the next one.
    const keyed = await fetch(`${api.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${VIEWER}`,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      }),
    });
    expect(keyed.status).toBe(200);
    expect(keyed.headers.get('mcp-session-id')).toBeNull();
    expect(((await keyed.json()) as { result: { serverInfo: { name: string } } }).result.serverInfo.name).toBe(
      'prompt-driven-reassignment',
    );
    await expect(overHttp('not-a-key-000000000000')).rejects.toThrow();
  });

  test('bad input: an unknown tool or a malformed argument is an MCP error in one line, and nothing is started or written', async () => {
    const call = caller(await overHttp(OPERATOR));
    const reassignments = async () => {
      const ids = [];
      for await (const e of h.client.workflow.list({ query: `TaskQueue = '${h.taskQueue}'` }))
        if (REASSIGNMENT_TYPES.includes(e.type)) ids.push(e.workflowId);
      return ids.sort();
    };
    const runsBefore = await reassignments();
    const before = await h.store.counts();
    const unknown = call('start_reasignment', { provider_id: 'T001', date: '2025-11-21' });
    await expect(unknown).rejects.toThrow(
      /^MCP error -32602: unknown tool start_reasignment: use one of start_reassignment, /,
    );
    const malformed = call('start_reassignment', { provider_id: 'T001', date: '21/11/2025' });
    await expect(malformed).rejects.toThrow(/^MCP error -32602: invalid arguments for start_reassignment: date /);
    await expect(malformed).rejects.toThrow(/^[^\n]*$/);
    const extra = call('decide_approval', { workflow_id: 'x', appointment_id: 'A002', decision: 'maybe' });
    await expect(extra).rejects.toThrow(/^MCP error -32602: invalid arguments for decide_approval: decision /);
    const notStarted = await call('start_reassignment', { provider_id: 'T999', date: '2025-11-21' });
    expect(notStarted).toMatchObject({ isError: true });
    expect(text(notStarted)).toMatch(/^unknown provider T999/);
    expect(await h.store.counts()).toEqual(before);
    expect(await h.store.unavailability('T001', '2025-11-21')).toBeFalsy();
    expect(await reassignments()).toEqual(runsBefore);
  });

  test('the MCP Inspector CLI, over streamable HTTP with an operator key: the same errand', async () => {
    const target = [`${api.url}/mcp`, '--transport', 'http', '--header', `Authorization: Bearer ${OPERATOR}`];
    const listed = await inspector([...target, '--method', 'tools/list']);
    expect((listed.out.tools as { name: string }[]).map((t) => t.name)).toContain('decide_approval');
    const call: ToolCall = async (name, args = {}) => {
      const r = await inspector([
        ...target,
        '--method',
        'tools/call',
        '--tool-name',
        name,
        ...Object.entries(args).flatMap(([k, v]) => ['--tool-arg', `${k}=${String(v)}`]),
      ]);
      expect(r.code === 0).toBe(!r.out.isError);
      return r.out;
    };
    const { result } = await approveTheSeedExample(call);
    expect(result).toMatchObject({ status: 'completed', successful_assignments: 2 });
    expect(result.assignments.find((a) => a.appointment_id === 'A002')).toMatchObject({ approved_by: 'alice' });
  });

  test('over stdio, started as the Claude Desktop configuration in the docs starts it (`npm run -s --prefix <repository> mcp`, from another directory): the same errand, decided under the local operator name', async () => {
    const transport = new StdioClientTransport({
      command: 'npm',
      args: ['run', '-s', '--prefix', projectRoot, 'mcp'],
      cwd: tempDir('mcp-stdio'),
      env: { ...(process.env as Record<string, string>), ...env, MCP_OPERATOR_NAME: 'dr-stdio' },
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const client = new Client({ name: 'mcp-stdio-test', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    expect((await client.listTools()).tools).toHaveLength(8);
    const { result } = await approveTheSeedExample(caller(client));
    expect(result).toMatchObject({ status: 'completed', successful_assignments: 2 });
    expect(result.assignments.find((a) => a.appointment_id === 'A002')).toMatchObject({
      approved_by: 'dr-stdio (MCP)',
    });
    // Nothing of ours on stderr either (npm's own warnings aside, which some machines print).
    expect(stderr.split('\n').filter((l) => l.trim() !== '' && !/^npm (warn|notice)/i.test(l))).toEqual([]);
  });
});
