import { startApi, type RunningApi } from '../src/api/main';
import { loadConfig } from '../src/config';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { auditStore, encryptionEnv, startHarness, storeEnv, waitForProgress, type Harness } from './support/harness';

/** The HTTP API against the real Temporal dev server: start, follow, decide, cancel; roles; bad input. */

const OPERATOR = 'operator-key-0123456789';
const VIEWER = 'viewer-key-0123456789ab';
const keys = JSON.stringify([
  { name: 'alice', key: OPERATOR, role: 'operator' },
  { name: 'victor', key: VIEWER, role: 'viewer' },
]);

describe('the HTTP API', () => {
  let h: Harness;
  let api: RunningApi;
  const call = async (
    path: string,
    init: { method?: string; key?: string | null; body?: unknown; raw?: string } = {},
  ) => {
    const key = init.key === undefined ? OPERATOR : init.key;
    const response = await fetch(`${api.url}${path}`, {
      method: init.method ?? (init.body !== undefined || init.raw !== undefined ? 'POST' : 'GET'),
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(init.body !== undefined || init.raw !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(init.raw !== undefined
        ? { body: init.raw }
        : init.body !== undefined
          ? { body: JSON.stringify(init.body) }
          : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, text };
  };
  const trigger = (body: Record<string, unknown> = {}, key?: string) =>
    call('/api/trigger-workflow-dynamic', {
      body: { provider_id: 'T001', date: '2025-11-21', reason: 'sick', ...body },
      key,
    });
  const runHandle = (id: string) => h.client.workflow.getHandle(id);

  beforeAll(async () => {
    h = await startHarness();
    const config = loadConfig({
      TEMPORAL_ADDRESS: h.address,
      TASK_QUEUE: h.taskQueue,
      ...storeEnv(h.store),
      PROMPTS_DIR: h.promptsDir,
      API_PORT: '0',
      API_KEYS: keys,
      LOG_LEVEL: 'ERROR',
      ...encryptionEnv(),
    });
    api = await startApi(config, () => undefined);
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
  });
  beforeEach(() => h.reload());

  test('trigger starts a run and returns its workflow id and links; the run is listed and readable', async () => {
    const started = await trigger({ label: 'staging' });
    expect(started.status).toBe(201);
    const id = started.body.workflow_id as string;
    expect(started.body).toMatchObject({ type: 'promptDrivenReassignment', mode: 'prompt' });
    expect((started.body.links as { temporal_ui: string }).temporal_ui).toMatch(
      /\/namespaces\/default\/workflows\/reassign-T001-2025-11-21-/,
    );
    const result: ReassignmentResult = await runHandle(id).result();
    expect(result.status).toBe('completed');
    const detail = await call(`/api/reassignments/${id}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({
      execution_status: 'COMPLETED',
      result: { status: 'completed', total_affected: 3 },
    });
    let listed: { workflow_id: string; status: string }[] = [];
    for (let i = 0; i < 30 && !listed.some((r) => r.workflow_id === id && r.status === 'completed'); i++) {
      listed = (await call('/api/reassignments?provider=T001')).body.runs as typeof listed;
      await new Promise((r) => setTimeout(r, 300)); // visibility is eventually consistent
    }
    expect(listed.find((r) => r.workflow_id === id)).toMatchObject({ status: 'completed' });
  });

  test('a shadow run starts the generic workflow, is approved through the Update, and is listed by its agreement', async () => {
    const started = await trigger({ mode: 'shadow', shadow_writer: 'code' });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ type: 'reassignment', mode: 'shadow' });
    const id = started.body.workflow_id as string;
    await waitForProgress(runHandle(id), (p) => p.pending_approvals.length > 0);
    expect((await call(`/api/reassignments/${id}/approvals/A002`, { body: { decision: 'approve' } })).status).toBe(200);
    const result: ReassignmentResult = await runHandle(id).result();
    expect(result.shadow).toMatchObject({ writer: 'code', shadow: 'prompt', agreed: 3 });
    let listed: { workflow_id: string; mode: string; shadow_agreement: string | null }[] = [];
    for (let i = 0; i < 30 && !listed.some((r) => r.workflow_id === id); i++) {
      listed = (await call('/api/reassignments?shadow=agree')).body.runs as typeof listed;
      await new Promise((r) => setTimeout(r, 300)); // visibility is eventually consistent
    }
    expect(listed.find((r) => r.workflow_id === id)).toMatchObject({ mode: 'shadow', shadow_agreement: 'agree' });
    const refused = await trigger({ mode: 'prompt', shadow_writer: 'code' });
    expect(refused).toMatchObject({
      status: 422,
      body: { error: 'invalid body: shadow_writer goes with mode shadow only' },
    });
  });

  test('approve through the Update: accepted at once with who decided; a second decision and an unknown appointment get 409', async () => {
    const id = (await trigger()).body.workflow_id as string;
    await waitForProgress(runHandle(id), (p) => p.pending_approvals.length > 0);
    const inbox = await call('/api/approvals');
    expect(inbox.body.approvals).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ workflow_id: id, appointment_id: 'A002', provider_id: 'P001', score: 129 }),
      ]),
    );
    const approved = await call(`/api/reassignments/${id}/approvals/A002`, {
      body: { decision: 'approve', note: 'fine' },
    });
    expect(approved).toMatchObject({
      status: 200,
      body: { appointment_id: 'A002', provider_id: 'P001', decision: 'approved', by: 'alice' },
    });
    const again = await call(`/api/reassignments/${id}/approvals/A002`, { body: { decision: 'reject' } });
    expect(again.status).toBe(409);
    const unknown = await call(`/api/reassignments/${id}/approvals/A003`, { body: { decision: 'approve' } });
    expect(unknown.status).toBe(409);
    expect(unknown.body.error).toMatch(/A003 is not awaiting approval/);
    const result: ReassignmentResult = await runHandle(id).result();
    expect(result.assignments.find((a) => a.appointment_id === 'A002')).toMatchObject({
      new_provider_id: 'P001',
      approved_by: 'alice',
    });
    expect((await h.store.appointmentRecord('A002')).approvals).toEqual([
      expect.objectContaining({ decision: 'approved', decided_by: 'alice', note: 'fine' }),
    ]);
    const finished = await call(`/api/reassignments/${id}/approvals/A002`, { body: { decision: 'approve' } });
    expect(finished.status).toBe(409);
    expect(await auditStore(h.store)).toEqual([]);
  });

  test('reject: the patient goes to the waitlist, and the decision records who made it', async () => {
    const id = (await trigger()).body.workflow_id as string;
    await waitForProgress(runHandle(id), (p) => p.pending_approvals.length > 0);
    const rejected = await call(`/api/reassignments/${id}/approvals/A002`, { body: { decision: 'reject' } });
    expect(rejected.body).toMatchObject({ decision: 'rejected', by: 'alice' });
    const result: ReassignmentResult = await runHandle(id).result();
    expect(result.waitlisted.map((w) => w.appointment_id)).toContain('A002');
    expect((await h.store.appointmentRecord('A002')).approvals[0]).toMatchObject({
      decision: 'rejected',
      decided_by: 'alice',
    });
  });

  test('cancel: the run stops with status cancelled; a finished run cannot be cancelled (409); an unknown one is 404', async () => {
    const id = (await trigger()).body.workflow_id as string;
    await waitForProgress(runHandle(id), (p) => p.pending_approvals.length > 0);
    expect((await call(`/api/reassignments/${id}/cancel`, { body: {} })).status).toBe(202);
    const result: ReassignmentResult = await runHandle(id).result();
    expect(result.status).toBe('cancelled');
    expect((await call(`/api/reassignments/${id}/cancel`, { body: {} })).status).toBe(409);
    expect((await call('/api/reassignments/no-such-run/cancel', { body: {} })).status).toBe(404);
  });

  test('the events stream sends progress while the run runs, then its result', async () => {
    const id = (await trigger()).body.workflow_id as string;
    const response = await fetch(`${api.url}/api/reassignments/${id}/events`, {
      headers: { authorization: `Bearer ${VIEWER}`, accept: 'text/event-stream' },
    });
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    let approved = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      if (!approved && /pending_approvals":\[\{/.test(text)) {
        approved = true;
        await call(`/api/reassignments/${id}/approvals/A002`, { body: { decision: 'approve' } });
      }
    }
    expect(text).toMatch(/event: progress/);
    const result = /event: result\ndata: (.*)\n/.exec(text)?.[1];
    expect(JSON.parse(result!)).toMatchObject({ workflow_id: id, status: 'completed', successful_assignments: 2 });
  });

  test('roles: no key or an unknown key is 401; a viewer reads but may not start, decide, cancel or see patient names (403)', async () => {
    expect((await call('/api/reassignments', { key: null })).status).toBe(401);
    expect((await call('/api/reassignments', { key: 'not-a-key-0000000000' })).status).toBe(401);
    expect((await call('/api/reassignments', { key: VIEWER })).status).toBe(200);
    expect((await call('/api/me', { key: VIEWER })).body).toEqual({ name: 'victor', role: 'viewer', auth: true });
    const forbidden = await trigger({}, VIEWER);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toMatch(/viewer role may not/);
    const id = (await trigger({ label: 'staging' })).body.workflow_id as string;
    await runHandle(id).result();
    expect((await call(`/api/reassignments/${id}/cancel`, { key: VIEWER, body: {} })).status).toBe(403);
    expect(
      (await call(`/api/reassignments/${id}/approvals/A002`, { key: VIEWER, body: { decision: 'approve' } })).status,
    ).toBe(403);
    expect((await call(`/api/reassignments/${id}?include=patients`, { key: VIEWER })).status).toBe(403);
    const named = await call(`/api/reassignments/${id}?include=patients`);
    expect(named.body.patients).toEqual({
      A001: expect.any(String),
      A002: expect.any(String),
      A003: expect.any(String),
    });
    expect(JSON.stringify((await call(`/api/reassignments/${id}`, { key: VIEWER })).body)).not.toMatch(/patients/);
  });

  test.each<[string, { raw?: string; body?: unknown; path?: string; method?: string }, number, RegExp]>([
    ['malformed JSON', { raw: '{"provider_id": "T001",' }, 400, /JSON/i],
    ['an unknown field', { body: { provider_id: 'T001', date: '2025-11-21', priority: 'high' } }, 400, /invalid body/],
    ['a malformed date', { body: { provider_id: 'T001', date: '2025-02-30' } }, 400, /date.*not a calendar date/],
    [
      'a range that ends before it starts',
      { body: { provider_id: 'T001', date: '2025-11-21', until: '2025-11-20' } },
      422,
      /until must be on or after date 2025-11-21/,
    ],
    ['an unknown provider', { body: { provider_id: 'T999', date: '2025-11-21' } }, 404, /unknown provider T999/],
    [
      'a date with no appointments',
      { body: { provider_id: 'T001', date: '2026-01-05' } },
      422,
      /no appointments on 2026-01-05/,
    ],
    ['a bad mode', { body: { provider_id: 'T001', date: '2025-11-21', mode: 'magic' } }, 400, /mode/],
    ['an unknown route', { path: '/api/nothing-here', method: 'GET' }, 404, /no route GET \/api\/nothing-here/],
    ['a bad workflow id', { path: '/api/reassignments/bad%20id', method: 'GET' }, 400, /invalid params/],
    ['a bad decision', { path: '/api/reassignments/x/approvals/A002', body: { decision: 'maybe' } }, 400, /decision/],
    [
      'a method the path does not have',
      { path: '/api/reassignments', method: 'PUT' },
      405,
      /PUT is not allowed on \/api\/reassignments: use GET/,
    ],
  ])('%s: a 4xx with a one-line JSON error, and nothing is started', async (_name, request, status, message) => {
    const before = await call('/api/reassignments?limit=200');
    const r = await call(request.path ?? '/api/trigger-workflow-dynamic', request);
    expect(r.status).toBe(status);
    expect(Object.keys(r.body)).toEqual(['error']);
    expect(r.body.error).toMatch(message);
    expect(String(r.body.error)).not.toMatch(/\n|\s+at /);
    expect(((await call('/api/reassignments?limit=200')).body.runs as unknown[]).length).toBe(
      (before.body.runs as unknown[]).length,
    );
  });

  test('the OpenAPI document describes every endpoint', async () => {
    const doc = (await call('/openapi.json', { key: null })).body as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/access-log',
      '/api/appointments/{appointmentId}/answer',
      '/api/appointments/{appointmentId}/offers',
      '/api/appointments/{appointmentId}/satisfaction',
      '/api/approvals',
      '/api/escalations',
      '/api/escalations/{id}/acknowledge',
      '/api/escalations/{id}/resolve',
      '/api/label-routes',
      '/api/me',
      '/api/needs-attention',
      '/api/preview',
      '/api/reassignments',
      '/api/reassignments/{id}',
      '/api/reassignments/{id}/approvals/{appointmentId}',
      '/api/reassignments/{id}/cancel',
      '/api/reassignments/{id}/events',
      '/api/trigger-workflow-dynamic',
      '/healthz',
    ]);
  });
});

describe('without API keys', () => {
  test('no authentication, and the server listens on loopback only, saying so', async () => {
    const h = await startHarness();
    const said: string[] = [];
    const api = await startApi(
      loadConfig({
        TEMPORAL_ADDRESS: h.address,
        TASK_QUEUE: h.taskQueue,
        ...storeEnv(h.store),
        API_PORT: '0',
        API_HOST: '0.0.0.0',
        ...encryptionEnv(),
      }),
      (line) => said.push(line),
    );
    try {
      expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(said.join('\n')).toMatch(
        /no API_KEYS configured: no authentication, so the API listens on 127.0.0.1 only/,
      );
      const me = (await (await fetch(`${api.url}/api/me`)).json()) as Record<string, unknown>;
      expect(me).toEqual({ name: 'local operator', role: 'operator', auth: false });
    } finally {
      await api.close();
      await h.close();
    }
  });
});
