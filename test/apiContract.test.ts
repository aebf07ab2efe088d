import type { RunningApi } from '../src/api/main';
import { batchWorkflowId } from '../src/workflowIds';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { startHarness, startHarnessApi, type Harness, untilVisible, waitForProgress } from './support/harness';

/**
 * The API's contract against the real Temporal dev server: progress that counts each decision as it is written,
 * 422 for a repeated request with nothing left to do, one run per request (Idempotency-Key; identical concurrent
 * starts), 404 for a batch's id on every route, cancel without a body, and the run list newest first.
 */

const OPERATOR = 'operator-key-0123456789';
const keys = JSON.stringify([
  { name: 'alice', key: OPERATOR, role: 'operator' },
  { name: 'bob', key: 'other-operator-key-0123', role: 'operator' },
]);

describe('the API contract', () => {
  let h: Harness;
  let api: RunningApi;
  const call = async (
    path: string,
    init: { method?: string; body?: unknown; raw?: string; headers?: Record<string, string>; key?: string } = {},
  ) => {
    const hasBody = init.body !== undefined || init.raw !== undefined;
    const response = await fetch(`${api.url}${path}`, {
      method: init.method ?? (hasBody ? 'POST' : 'GET'),
      headers: {
        authorization: `Bearer ${init.key ?? OPERATOR}`,
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
      ...(init.raw !== undefined
        ? { body: init.raw }
        : init.body !== undefined
          ? { body: JSON.stringify(init.body) }
          : {}),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  };
  const trigger = (body: Record<string, unknown> = {}, headers: Record<string, string> = {}, key?: string) =>
    call('/api/trigger-workflow-dynamic', {
      body: { provider_id: 'T001', date: '2025-11-21', reason: 'sick', ...body },
      headers,
      ...(key ? { key } : {}),
    });
  const handle = (id: string) => h.client.workflow.getHandle(id);

  beforeAll(async () => {
    h = await startHarness();
    api = await startHarnessApi(h, {
      API_KEYS: keys,
      API_RATE_LIMIT: '0',
      LOG_LEVEL: 'ERROR',
    });
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
  });
  beforeEach(() => h.reload());

  test('progress counts each decision as it is written, while the batch still waits for an approval', async () => {
    const id = (await trigger()).body.workflow_id as string;
    await waitForProgress(handle(id), (p) => p.pending_approvals.length > 0);
    // The model's reason for the move that waits: with patient data only (free text that may name the patient).
    const plain = (await call('/api/approvals')).body.approvals as Record<string, unknown>[];
    const named = (await call('/api/approvals?include=patients')).body.approvals as Record<string, unknown>[];
    expect(plain.find((a) => a.workflow_id === id)).not.toHaveProperty('rationale');
    expect(named.find((a) => a.workflow_id === id)).toMatchObject({ rationale: 'good match, score 129' });
    const before = await h.store.counts();
    // The batch has written decisions already (A001 moved, A003 waitlisted) while it waits for A002.
    expect(before.assignments + before.waitlist).toBeGreaterThan(0);
    const detail = await call(`/api/reassignments/${id}`);
    expect(detail.body.execution_status).toBe('RUNNING');
    const progress = detail.body.progress as { decided: number; assigned: number; waitlisted: number };
    const written = await h.store.counts();
    expect(progress.assigned).toBe(written.assignments);
    expect(progress.waitlisted).toBe(written.waitlist);
    expect(progress.decided).toBe(written.assignments + written.waitlist);
    await call(`/api/reassignments/${id}/cancel`, { method: 'POST' });
    await handle(id).result();
  });

  test('a repeated request with nothing left to reassign is 422, and starts nothing', async () => {
    const first = await trigger({ label: 'staging' });
    expect(first.status).toBe(201);
    const result: ReassignmentResult = await handle(first.body.workflow_id as string).result();
    expect(result.status).toBe('completed');
    const again = await trigger({ label: 'staging' });
    expect(again).toMatchObject({
      status: 422,
      body: { error: expect.stringMatching(/T001 has nothing left to reassign on 2025-11-21/) },
    });
  });

  test('Idempotency-Key: a retry gets the first run (200, Idempotent-Replayed), another request with it is 422; who started each', async () => {
    const first = await trigger({ label: 'staging' }, { 'idempotency-key': 'retry-me-1' });
    expect(first.status).toBe(201);
    const id = first.body.workflow_id as string;
    await handle(id).result();
    // The run has finished and done its work: the retry still answers with it, rather than a 422 or a new run.
    const retry = await trigger({ label: 'staging' }, { 'idempotency-key': 'retry-me-1' });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toMatchObject({ workflow_id: id, run_id: first.body.run_id });
    const misuse = await trigger({ label: 'staging', reason: 'other' }, { 'idempotency-key': 'retry-me-1' });
    expect(misuse).toMatchObject({
      status: 422,
      body: { error: expect.stringMatching(/already used for another request/) },
    });
    // Keys are per caller: bob's same key is his own request.
    await h.reload();
    const bobs = await trigger({ label: 'staging' }, { 'idempotency-key': 'retry-me-1' }, 'other-operator-key-0123');
    expect(bobs.status).toBe(201);
    expect(bobs.body.workflow_id).not.toBe(id);
    await handle(bobs.body.workflow_id as string).result();
    // Who started each run, in the run and in the list.
    expect((await call(`/api/reassignments/${id}`)).body.started_by).toBe('alice');
    expect((await call(`/api/reassignments/${bobs.body.workflow_id as string}`)).body.started_by).toBe('bob');
    const listed = await untilVisible(
      async () =>
        (await call('/api/reassignments?limit=200')).body.runs as { workflow_id: string; started_by: string }[],
      (runs) => runs.some((r) => r.workflow_id === bobs.body.workflow_id),
    );
    expect(listed.find((r) => r.workflow_id === id)?.started_by).toBe('alice');
    expect(listed.find((r) => r.workflow_id === bobs.body.workflow_id)?.started_by).toBe('bob');
  });

  test('Idempotency-Key: the same request sent five times at once (a retry while the first is in flight) starts one run', async () => {
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => trigger({ label: 'staging' }, { 'idempotency-key': 'at-once-1' })),
    );
    expect(new Set(answers.map((a) => a.body.workflow_id)).size).toBe(1);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 201]);
    const id = answers[0]!.body.workflow_id as string;
    await handle(id).result();
    // One execution under that id (a second start would have made a second, or failed).
    const runs = await untilVisible(
      async () => {
        const found = [];
        for await (const e of h.client.workflow.list({ query: `WorkflowId = '${id}'` })) found.push(e.runId);
        return found;
      },
      (found) => found.length > 0,
    );
    expect(runs).toHaveLength(1);
  });

  test('ten identical concurrent starts make one run; the others are told which (200)', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => trigger()));
    const ids = new Set(answers.map((a) => a.body.workflow_id));
    expect(ids.size).toBe(1);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    // Still running (it waits for A002): an identical start now gets the same run too.
    const id = [...ids][0] as string;
    await waitForProgress(handle(id), (p) => p.pending_approvals.length > 0);
    const later = await trigger();
    expect(later).toMatchObject({ status: 200, body: { workflow_id: id } });
    await call(`/api/reassignments/${id}/cancel`, { method: 'POST' });
    await handle(id).result();
  });

  test("a batch's id is 404 on every route: read, approve, cancel", async () => {
    const id = (await trigger()).body.workflow_id as string;
    await waitForProgress(handle(id), (p) => p.pending_approvals.length > 0);
    const batch = batchWorkflowId(id, 1);
    expect((await handle(batch).describe()).status.name).toBe('RUNNING');
    expect((await call(`/api/reassignments/${batch}`)).status).toBe(404);
    const approve = await call(`/api/reassignments/${batch}/approvals/A002`, { body: { decision: 'approve' } });
    expect(approve).toMatchObject({ status: 404, body: { error: `${batch} is not a reassignment` } });
    expect((await call(`/api/reassignments/${batch}/cancel`, { method: 'POST' })).status).toBe(404);
    expect((await call(`/api/reassignments/${id}/cancel`, { method: 'POST' })).status).toBe(202);
    await handle(id).result();
  });

  test('cancel needs no body: none at all, or an empty one with the JSON content type', async () => {
    for (const send of [
      { method: 'POST' },
      { method: 'POST', raw: '', headers: { 'content-type': 'application/json' } },
    ]) {
      await h.reload();
      const id = (await trigger()).body.workflow_id as string;
      await waitForProgress(handle(id), (p) => p.pending_approvals.length > 0);
      expect((await call(`/api/reassignments/${id}/cancel`, send)).status).toBe(202);
      expect(((await handle(id).result()) as ReassignmentResult).status).toBe('cancelled');
    }
  });

  test('the run list is newest first by start time, a running older run after a newer finished one', async () => {
    const older = (await trigger()).body.workflow_id as string;
    await waitForProgress(handle(older), (p) => p.pending_approvals.length > 0);
    // A newer run that ends at once (an unknown provider fails it): visibility lists running runs first.
    const newer = await h.start('promptDrivenReassignment', { providerId: 'T999', date: '2025-11-21', reason: 'x' });
    await newer.result().catch(() => undefined);
    const runs = await untilVisible(
      async () =>
        (await call('/api/reassignments?limit=200')).body.runs as {
          workflow_id: string;
          started_at: string;
          execution_status: string;
        }[],
      (list) => list.some((r) => r.workflow_id === newer.workflowId && r.execution_status !== 'RUNNING'),
    );
    const started = runs.map((r) => r.started_at);
    expect(started).toEqual([...started].sort().reverse());
    expect(runs.findIndex((r) => r.workflow_id === newer.workflowId)).toBeLessThan(
      runs.findIndex((r) => r.workflow_id === older),
    );
    await call(`/api/reassignments/${older}/cancel`, { method: 'POST' });
    await handle(older).result();
  });

  test('the OpenAPI document refuses what the server refuses: dates that are not on the calendar, blank free text', async () => {
    interface Schema {
      pattern?: string;
      allOf?: Schema[];
      properties?: Record<string, Schema>;
    }
    interface Operation {
      parameters?: { name: string; schema: Schema }[];
      requestBody?: { content: Record<string, { schema: Schema }> };
    }
    const doc = (await call('/openapi.json')).body as unknown as { paths: Record<string, Record<string, Operation>> };
    const fields: { where: string; name: string; schema: Schema }[] = [];
    for (const [path, operations] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(operations)) {
        for (const p of op.parameters ?? []) fields.push({ where: `${method} ${path} ?${p.name}`, ...p });
        const body = op.requestBody?.content['application/json']?.schema;
        for (const [name, schema] of Object.entries(body?.properties ?? {}))
          fields.push({ where: `${method} ${path} .${name}`, name, schema });
      }
    const dates = fields.filter((f) => ['date', 'until'].includes(f.name));
    // Free text that must not be blank: a run's reason (start, cancel), a patient's reason for declining, an
    // escalation's note. (An approval's note may be empty: it is documented so.)
    const texts = fields.filter((f) =>
      /(trigger-workflow-dynamic|\/cancel|\/answer) \.reason$|\/(acknowledge|resolve) \.note$/.test(f.where),
    );
    // The premise: the list's filter, the start's body and the preview's body have dates; start and cancel a reason.
    expect(dates.map((f) => f.where)).toEqual(
      expect.arrayContaining([
        'get /api/reassignments ?date',
        'post /api/trigger-workflow-dynamic .date',
        'post /api/trigger-workflow-dynamic .until',
        'post /api/preview .date',
      ]),
    );
    expect(texts.map((f) => f.where)).toEqual(
      expect.arrayContaining([
        'post /api/trigger-workflow-dynamic .reason',
        'post /api/reassignments/{id}/cancel .reason',
        'post /api/appointments/{appointmentId}/answer .reason',
        'post /api/escalations/{id}/resolve .note',
      ]),
    );
    // As a JSON Schema validator reads it: the schema's pattern and those of its allOf, all of them.
    const patterns = (schema: Schema): string[] => [
      ...(schema.pattern ? [schema.pattern] : []),
      ...(schema.allOf ?? []).flatMap(patterns),
    ];
    const accepts = (f: { schema: Schema }, value: string) =>
      patterns(f.schema).every((p) => new RegExp(p, 'u').test(value));
    for (const f of [...dates, ...texts]) expect(`${f.where} ${patterns(f.schema).length > 0}`).toBe(`${f.where} true`);
    for (const f of dates) {
      for (const bad of ['0000-00-00', '2025-02-29', '2025-04-31', '2025-13-01', '1900-02-29'])
        expect(`${f.where} ${bad} ${accepts(f, bad)}`).toBe(`${f.where} ${bad} false`);
      for (const good of ['2025-11-21', '2024-02-29', '2000-02-29', '0100-01-01'])
        expect(`${f.where} ${good} ${accepts(f, good)}`).toBe(`${f.where} ${good} true`);
    }
    for (const f of texts) {
      for (const bad of ['\r', ' ', '\t\n'])
        expect(`${f.where} ${JSON.stringify(bad)} ${accepts(f, bad)}`).toBe(`${f.where} ${JSON.stringify(bad)} false`);
      expect(accepts(f, ' sick ')).toBe(true);
    }
    // And the server refuses them, with a 400, as the document says.
    expect((await call('/api/reassignments?date=0000-00-00')).status).toBe(400);
    expect((await trigger({ date: '2025-02-29' })).status).toBe(400);
    expect((await trigger({ reason: '\r' })).status).toBe(400);
    expect((await call('/api/appointments/A002/answer', { body: { answer: 'declined', reason: ' ' } })).status).toBe(
      400,
    );
    expect((await call('/api/escalations/1/resolve', { body: { note: '\r' } })).status).toBe(400);
    expect(
      (await call('/api/reassignments/reassign-T001-2025-11-21-x/cancel', { body: { reason: '\r' } })).status,
    ).toBe(400);
  });
});
