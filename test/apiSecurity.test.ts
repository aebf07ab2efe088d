import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import { startApi, type RunningApi } from '../src/api/main';
import { loadConfig } from '../src/config';
import { SchedulingStore } from '../src/domain/store';
import { freePort, startDevServer } from '../src/temporal/devServer';
import { encryptionEnv, queryRows, startHarness, startHarnessApi, tempDir, type Harness } from './support/harness';

/**
 * The API's front-door controls against the real Temporal dev server: the Host allow-list (DNS rebinding),
 * security headers, the rate limit and the failed-authentication lockout, the access log and the auditor role,
 * TLS, errors in the one-line format without paths, the database file's mode, and 503 when Temporal is gone.
 */

const OPERATOR = 'operator-key-0123456789';
const VIEWER = 'viewer-key-0123456789ab';
const AUDITOR = 'auditor-key-0123456789a';
const keys = JSON.stringify([
  { name: 'alice', key: OPERATOR, role: 'operator' },
  { name: 'victor', key: VIEWER, role: 'viewer' },
  { name: 'audrey', key: AUDITOR, role: 'auditor' },
]);

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: () => Record<string, unknown>;
}

/** A raw request (fetch may not set Host, nor send oversized headers). */
function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; ca?: Buffer } = {},
): Promise<Answer> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      u,
      { method: options.method ?? 'GET', headers: options.headers, ...(options.ca ? { ca: options.ca } : {}) },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json: () => JSON.parse(text) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    if (options.body) req.write(options.body);
    req.end();
  });
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

function expectOneLine(a: Answer, status: number, pattern: RegExp): void {
  expect(a.status).toBe(status);
  expect(a.headers['content-type']).toMatch(/application\/json/);
  const body = a.json();
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toMatch(pattern);
  expect(String(body.error)).not.toMatch(/\n|\/(tmp|work|home|root)\//);
}

describe('the API front door', () => {
  let h: Harness;
  const apis: RunningApi[] = [];
  const startWith = async (env: Record<string, string> = {}) => {
    const api = await startHarnessApi(h, {
      LOG_LEVEL: 'ERROR',
      ...env,
    });
    apis.push(api);
    return api;
  };

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    for (const api of apis) await api.close();
    await h?.close();
  });

  test('DNS rebinding: without keys, a request for another host name is refused (421); loopback names answer', async () => {
    const api = await startWith();
    const evil = await request(`${api.url}/api/me`, { headers: { host: 'evil.example.com' } });
    expectOneLine(evil, 421, /does not answer to the host name "evil.example.com".*API_ALLOWED_HOSTS/);
    expect(evil.text).not.toMatch(/local operator/);
    expect((await request(`${api.url}/`, { headers: { host: 'evil.example.com:8088' } })).status).toBe(421);
    for (const host of ['localhost:8088', '127.0.0.1', '[::1]:8088']) {
      const ok = await request(`${api.url}/api/me`, { headers: { host } });
      expect(ok.status).toBe(200);
      expect(ok.json()).toMatchObject({ name: 'local operator' });
    }
  });

  test('API_ALLOWED_HOSTS adds the host names served; other names are refused', async () => {
    const api = await startWith({ API_KEYS: keys, API_ALLOWED_HOSTS: 'scheduling.example.org' });
    const ok = await request(`${api.url}/api/me`, {
      headers: { host: 'scheduling.example.org', ...bearer(VIEWER) },
    });
    expect(ok.status).toBe(200);
    expect(
      (await request(`${api.url}/api/me`, { headers: { host: 'other.example.org', ...bearer(VIEWER) } })).status,
    ).toBe(421);
    // Loopback names always answer: a rebinding attack needs a name of its own.
    expect((await request(`${api.url}/api/me`, { headers: { host: 'localhost', ...bearer(VIEWER) } })).status).toBe(
      200,
    );
  });

  test('security headers: no other origin may frame the console, content types are not sniffed', async () => {
    const api = await startWith();
    // Every answer, refusals included: a host name not served (421) too.
    for (const [p, host] of [
      ['/', undefined],
      ['/console.js', undefined],
      ['/api/me', undefined],
      ['/api/nothing-here', undefined],
      ['/', 'evil.example.com'],
    ] as const) {
      const a = await request(`${api.url}${p}`, host ? { headers: { host } } : {});
      expect(a.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
      expect(a.headers['content-security-policy']).toMatch(/default-src 'self'/);
      expect(a.headers['x-frame-options']).toBe('DENY');
      expect(a.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  test('the rate limit: past API_RATE_LIMIT requests a minute a caller gets 429 in one line, with Retry-After', async () => {
    const api = await startWith({ API_KEYS: keys, API_RATE_LIMIT: '5' });
    for (let i = 0; i < 5; i++)
      expect((await request(`${api.url}/api/me`, { headers: bearer(VIEWER) })).status).toBe(200);
    const limited = await request(`${api.url}/api/me`, { headers: bearer(VIEWER) });
    expectOneLine(limited, 429, /too many requests: at most 5 a minute/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Per caller: another key still gets through.
    expect((await request(`${api.url}/api/me`, { headers: bearer(OPERATOR) })).status).toBe(200);
  });

  test('failed authentications: after API_AUTH_FAILURE_LIMIT from one address, even a good key waits (429)', async () => {
    const api = await startWith({ API_KEYS: keys, API_AUTH_FAILURE_LIMIT: '3' });
    for (let i = 0; i < 3; i++)
      expect((await request(`${api.url}/api/me`, { headers: bearer(`guess-${i}-0123456789abcdef`) })).status).toBe(401);
    const locked = await request(`${api.url}/api/me`, { headers: bearer(VIEWER) });
    expectOneLine(locked, 429, /too many failed authentications from this address/);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
  });

  test('the access log: failed authentications, patient-data views and changes, for the auditor only; no keys, no names', async () => {
    const api = await startWith({ API_KEYS: keys });
    await request(`${api.url}/api/me`, { headers: bearer('wrong-key-0123456789abcdef') });
    await request(`${api.url}/api/reassignments`);
    const started = await request(`${api.url}/api/trigger-workflow-dynamic`, {
      method: 'POST',
      headers: { ...bearer(OPERATOR), 'content-type': 'application/json' },
      body: JSON.stringify({ provider_id: 'T001', date: '2025-11-21', label: 'staging' }),
    });
    expect(started.status).toBe(201);
    const id = started.json().workflow_id as string;
    await h.client.workflow.getHandle(id).result();
    expect(
      (await request(`${api.url}/api/reassignments/${id}?include=patients`, { headers: bearer(VIEWER) })).status,
    ).toBe(403);
    const named = await request(`${api.url}/api/reassignments/${id}?include=patients`, { headers: bearer(OPERATOR) });
    expect(named.status).toBe(200);
    const names = Object.values(named.json().patients as Record<string, string>);
    expect(names.length).toBe(3);
    // The approvals inbox with patients, and a run read with patients through MCP, are patient-data views too.
    expect((await request(`${api.url}/api/approvals?include=patients`, { headers: bearer(OPERATOR) })).status).toBe(
      200,
    );
    const mcp = await request(`${api.url}/mcp`, {
      method: 'POST',
      headers: {
        ...bearer(OPERATOR),
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'get_reassignment', arguments: { workflow_id: id, include_patients: true } },
      }),
    });
    expect(mcp.status).toBe(200);
    expect(mcp.text).toContain(names[0]);

    for (const key of [VIEWER, OPERATOR])
      expectOneLine(
        await request(`${api.url}/api/access-log`, { headers: bearer(key) }),
        403,
        /may not do this: it needs the auditor role/,
      );
    const log = await request(`${api.url}/api/access-log?limit=50`, { headers: bearer(AUDITOR) });
    expect(log.status).toBe(200);
    const entries = log.json().entries as Record<string, unknown>[];
    const find = (match: Record<string, unknown>) =>
      entries.find((e) => expect.objectContaining(match).asymmetricMatch(e));
    expect(
      find({ who: 'unauthenticated', path: '/api/me', status: 401, outcome: 'failed authentication' }),
    ).toBeTruthy();
    expect(find({ who: 'unauthenticated', path: '/api/reassignments', status: 401 })).toBeTruthy();
    expect(
      find({
        who: 'alice',
        role: 'operator',
        method: 'POST',
        path: '/api/trigger-workflow-dynamic',
        status: 201,
        outcome: 'ok',
      }),
    ).toBeTruthy();
    expect(find({ who: 'victor', path: `/api/reassignments/${id}`, status: 403, outcome: 'forbidden' })).toBeTruthy();
    expect(find({ who: 'alice', path: `/api/reassignments/${id}`, patient_data: true, status: 200 })).toBeTruthy();
    expect(find({ who: 'alice', path: '/api/approvals', patient_data: true, status: 200 })).toBeTruthy();
    expect(find({ who: 'alice', method: 'POST', path: '/mcp', patient_data: true, status: 200 })).toBeTruthy();
    expect(find({ who: 'victor', path: '/api/access-log', status: 403 })).toBeTruthy();
    expect(entries.every((e) => typeof e.at === 'string' && !Number.isNaN(Date.parse(String(e.at))))).toBe(true);
    // Newest first, filterable.
    expect(Number(entries[0]!.id)).toBeGreaterThan(Number(entries.at(-1)!.id));
    const onlyPatients = (
      await request(`${api.url}/api/access-log?patient_data=true`, { headers: bearer(AUDITOR) })
    ).json().entries as Record<string, unknown>[];
    expect(onlyPatients.length).toBeGreaterThan(0);
    expect(onlyPatients.every((e) => e.patient_data === true)).toBe(true);

    // Nothing secret, nothing about patients, in the table itself.
    const dump = JSON.stringify(await queryRows(h.store, 'SELECT * FROM access_log'));
    for (const secret of [OPERATOR, VIEWER, AUDITOR, 'wrong-key-0123456789abcdef', ...names])
      expect(dump).not.toContain(secret);
    expect(dump).not.toContain('include=patients');
  });

  test('errors: a 404 names no file, 414 and 431 are one line and do not echo the URL', async () => {
    const api = await startWith();
    const unknown = await request(`${api.url}/api/trigger-workflow-dynamic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider_id: 'T999', date: '2025-11-21' }),
    });
    expectOneLine(unknown, 404, /^unknown provider T999$/);
    expect(unknown.text).not.toContain(path.basename(h.store.location));
    const long = `x${'y'.repeat(300)}`;
    const tooLong = await request(`${api.url}/api/reassignments/${long}`);
    expectOneLine(tooLong, 414, /the URL is too long/);
    expect(tooLong.text).not.toContain('yyyy');
    const headers = await request(`${api.url}/api/me`, { headers: { 'x-filler': 'z'.repeat(20_000) } });
    expectOneLine(headers, 431, /headers are too large/);
    // A body too large (413), of a type not served (415), not JSON (400), a URL badly percent-encoded (400).
    const post = (headers: Record<string, string>, body: string) =>
      request(`${api.url}/api/trigger-workflow-dynamic`, { method: 'POST', headers, body });
    const big = await post({ 'content-type': 'application/json' }, JSON.stringify({ reason: 'r'.repeat(70_000) }));
    expectOneLine(big, 413, /too large/);
    expect(big.text).not.toContain('rrrr');
    expectOneLine(
      await post({ 'content-type': 'application/xml' }, '<provider>T001</provider>'),
      415,
      /media type|content type/i,
    );
    const malformed = await post({ 'content-type': 'application/json' }, '{"provider_id": "T001",');
    expectOneLine(malformed, 400, /JSON/);
    expect(malformed.text).not.toContain('T001');
    expectOneLine(await request(`${api.url}/api/reassignments/%E0%A4%A`), 400, /percent-encoding/);
    // An id the schema accepts (up to 200 characters) is the schema's answer, not the router's.
    const accepted = await request(`${api.url}/api/reassignments/${'a'.repeat(180)}`);
    expectOneLine(accepted, 404, /no reassignment with workflow id/);
  });

  test('errors through MCP name no file either: a scheduling database gone from the machine', async () => {
    const dir = tempDir('mcp-gone');
    const file = path.join(dir, 'scheduling.db');
    const api = await startWith({ DB_PATH: file });
    expect(fs.existsSync(file)).toBe(true);
    for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
    const answer = await request(`${api.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'find_candidates', arguments: { appointment_id: 'A002' } },
      }),
    });
    expect(answer.status).toBe(200);
    const result = answer.json().result as { isError: boolean; content: { text: string }[] };
    expect(result.isError).toBe(true);
    expect(result.content[0]!.text).toMatch(/the scheduling database .*is not on this machine/);
    expect(answer.text).not.toContain(dir);
    expect(answer.text).not.toContain('scheduling.db');
  });

  test('the scheduling database is created readable by its owner only (0600)', async () => {
    const file = path.join(tempDir('mode'), 'scheduling.db');
    const store = await SchedulingStore.open(file);
    try {
      await store.counts();
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      for (const side of ['-wal', '-shm'])
        if (fs.existsSync(file + side)) expect(fs.statSync(file + side).mode & 0o777).toBe(0o600);
    } finally {
      await store.close();
    }
  });

  test('TLS: with API_TLS_CERT and API_TLS_KEY the API serves HTTPS (and not plain HTTP), with HSTS', async () => {
    const dir = tempDir('tls');
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const api = await startWith({ API_KEYS: keys, API_HOST: '127.0.0.1', API_TLS_CERT: cert, API_TLS_KEY: key });
    expect(api.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const me = await request(`${api.url}/api/me`, { headers: bearer(VIEWER), ca: fs.readFileSync(cert) });
    expect(me.status).toBe(200);
    expect(me.json()).toMatchObject({ name: 'victor' });
    expect(me.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    await expect(
      request(api.url.replace('https:', 'http:') + '/api/me', { headers: bearer(VIEWER) }),
    ).rejects.toThrow();
    await expect(startWith({ API_KEYS: keys, API_TLS_CERT: cert })).rejects.toThrow(
      /API_TLS_CERT and API_TLS_KEY go together/,
    );
  });
});

/**
 * A call made straight through the SDK (its default retries, no deadline), to compare with: the API must answer
 * while this one is still retrying. An ordering, not a wall-clock time: without the API's probe each request would
 * wait out the same twenty seconds of retries, and answer after it. Connected while the server answers; `call`
 * once it does not; `stop` ends its retries.
 */
async function sdkCaller(address: string) {
  let stopping = false;
  const base = defaultGrpcRetryOptions();
  const connection = await Connection.connect({
    address,
    interceptors: [
      makeGrpcRetryInterceptor({
        ...base,
        retryableDecider: (attempt, status) => !stopping && base.retryableDecider(attempt, status),
      }),
    ],
  });
  const controller = new AbortController();
  let call: Promise<void> | undefined;
  let settled = false;
  return {
    call: () => {
      call = connection
        .withAbortSignal(controller.signal, () => connection.workflowService.getSystemInfo({}))
        .then(
          () => undefined,
          () => undefined,
        )
        .finally(() => (settled = true));
    },
    settled: () => settled,
    stop: async () => {
      stopping = true;
      controller.abort();
      await call;
      await connection.close();
    },
  };
}

/** Asks every endpoint in turn, timing each answer (figures for docs/api.md, not assertions). */
async function askWhileUnreachable(url: string, figures: string[]): Promise<void> {
  const timed = async (p: string) => {
    const t0 = performance.now();
    const a = await request(`${url}${p}`);
    figures.push(`${p}: ${a.status} in ${Math.round(performance.now() - t0)} ms`);
    return a;
  };
  for (const p of [
    '/api/reassignments',
    '/api/approvals',
    '/api/reassignments/reassign-T001-2025-11-21-x',
    '/api/reassignments',
  ])
    expectOneLine(await timed(p), 503, /the Temporal server at .* does not answer/);
  expect((await timed('/healthz')).json()).toEqual({ ok: true, temporal: 'unreachable' });
}

function writeFigures(name: string, figures: string[]): void {
  fs.mkdirSync(path.join(__dirname, '..', 'test-results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, '..', 'test-results', name), `${figures.join('\n')}\n`);
}

test('Temporal gone after start: every endpoint answers 503 in one line (not 500), and /healthz says unreachable, before the SDK has given up', async () => {
  const port = await freePort();
  const server = await startDevServer({ dbFile: path.join(tempDir('gone'), 'temporal.db'), port });
  let stopped = false;
  const api = await startApi(
    loadConfig({
      TEMPORAL_ADDRESS: server.address,
      API_PORT: '0',
      DB_PATH: path.join(tempDir('gone-db'), 's.db'),
      // Every answer from Temporal, none from the list cache.
      API_LIST_CACHE_MS: '0',
      ...encryptionEnv(),
    }),
    () => undefined,
  );
  const sdk = await sdkCaller(server.address);
  const figures: string[] = [];
  try {
    expect((await request(`${api.url}/api/reassignments`)).status).toBe(200);
    await server.stop();
    stopped = true;
    sdk.call();
    await askWhileUnreachable(api.url, figures);
    // Every answer came while a call made before them was still in the SDK's retries.
    expect(sdk.settled()).toBe(false);
  } finally {
    writeFigures('api-unreachable.txt', figures);
    await sdk.stop();
    await api.close();
    if (!stopped) await server.stop();
  }
});

test('Temporal that stops answering (connections open, nothing comes back): 503 in one line too, and /healthz says unreachable', async () => {
  const port = await freePort();
  const server = await startDevServer({ dbFile: path.join(tempDir('silent'), 'temporal.db'), port });
  // A TCP relay in front of the server that can go silent: what a network partition looks like to a client.
  let silent = false;
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (d) => void (silent || upstream.write(d)));
    upstream.on('data', (d) => void (silent || client.write(d)));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(relay.address() as AddressInfo).port}`;
  const api = await startApi(
    loadConfig({
      TEMPORAL_ADDRESS: address,
      API_PORT: '0',
      DB_PATH: path.join(tempDir('silent-db'), 's.db'),
      // Every answer from Temporal, none from the list cache.
      API_LIST_CACHE_MS: '0',
      ...encryptionEnv(),
    }),
    () => undefined,
  );
  const sdk = await sdkCaller(address);
  const figures: string[] = [];
  try {
    expect((await request(`${api.url}/api/reassignments`)).status).toBe(200);
    silent = true;
    sdk.call();
    await askWhileUnreachable(api.url, figures);
    expect(sdk.settled()).toBe(false);
  } finally {
    writeFigures('api-silent.txt', figures);
    await sdk.stop();
    for (const s of sockets) s.destroy();
    relay.close();
    await api.close();
    await server.stop();
  }
});
