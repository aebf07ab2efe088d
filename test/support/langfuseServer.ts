import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { datasetStore } from './langfuseDatasets';

/**
 * A Langfuse-compatible server on loopback, for tests: the part of the public API that @langfuse/client and
 * @langfuse/otel call, with Langfuse's rules (checked against its API definition and server source):
 * - versions are numbered 1, 2, … per name and are immutable;
 * - a label names at most one version of a prompt: giving it to a version takes it from the others;
 * - `latest` is automatic on the newest version and may not be set by hand;
 * - GET without label or version resolves `production`;
 * - PATCH …/versions/{v} adds newLabels to that version (keeping its other labels);
 * - errors are JSON `{ message, error }` with the matching status; basic auth with the project's keys.
 * OTLP traces arrive as JSON (the exporter @langfuse/otel builds is OTLP/HTTP JSON) and are kept for assertions.
 */

export interface StoredPrompt {
  name: string;
  version: number;
  type: 'text' | 'chat';
  prompt: unknown;
  config: unknown;
  labels: string[];
  tags: string[];
  commitMessage: string | null;
  createdAt: string;
  updatedAt: string;
}

/** One span as received, with OTLP attributes flattened to plain values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  resource: Record<string, unknown>;
}

export interface LangfuseTestServer {
  url: string;
  publicKey: string;
  secretKey: string;
  prompts: StoredPrompt[];
  spans: ReceivedSpan[];
  /** The body of every trace export as received (OTLP JSON), for scans of everything the server was sent. */
  traceBodies: string[];
  /** Datasets, their items and runs, and scores (an eval recorded in Langfuse): see langfuseDatasets.ts. */
  datasets: ReturnType<typeof datasetStore>;
  /**
   * Every request, for assertions on what the SDK called (and how often: a retried send is one more), with its
   * JSON body for the public API's calls (not for trace exports, whose bodies are in traceBodies).
   */
  requests: ReceivedRequest[];
  /** Down: 503 to everything (Langfuse unreachable, as a load balancer would say); 'prompts': only the prompt API. */
  setDown(down: boolean | 'prompts'): void;
  /**
   * The next `times` requests to `method path` are handled (stored) and then answered 500, as when a response
   * is lost after Langfuse wrote: the client sees a failure and sends again.
   */
  failAfterStoring(method: string, path: string, times?: number): void;
  close(): Promise<void>;
}

export interface ReceivedRequest {
  method: string;
  path: string;
  body?: unknown;
  /** The status it was answered with. */
  status?: number;
}

const LATEST = 'latest';
const PRODUCTION = 'production';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startLangfuseServer(
  options: { publicKey?: string; secretKey?: string } = {},
): Promise<LangfuseTestServer> {
  const publicKey = options.publicKey ?? 'pk-lf-test';
  const secretKey = options.secretKey ?? 'sk-lf-test';
  const prompts: StoredPrompt[] = [];
  const spans: ReceivedSpan[] = [];
  const traceBodies: string[] = [];
  const datasets = datasetStore();
  const requests: ReceivedRequest[] = [];
  let down: boolean | 'prompts' = false;
  const failAfter: { method: string; path: string; times: number }[] = [];

  const versionsOf = (name: string) => prompts.filter((p) => p.name === name).sort((a, b) => a.version - b.version);
  const takeLabels = (name: string, labels: string[]) => {
    for (const p of versionsOf(name)) p.labels = p.labels.filter((l) => !labels.includes(l));
  };

  const handle = async (req: http.IncomingMessage, body: string): Promise<[number, unknown]> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const received: ReceivedRequest = { method, path: url.pathname + url.search };
    if (url.pathname !== '/api/public/otel/v1/traces' && body) received.body = parseBody(body);
    requests.push(received);
    (req as http.IncomingMessage & { received?: ReceivedRequest }).received = received;
    if (down === true || (down === 'prompts' && url.pathname.startsWith('/api/public/v2/prompts')))
      throw new HttpError(503, 'ServiceUnavailableError', 'Service Unavailable');
    const auth = req.headers.authorization ?? '';
    const expected = `Basic ${Buffer.from(`${publicKey}:${secretKey}`).toString('base64')}`;
    if (auth !== expected)
      throw new HttpError(
        401,
        'UnauthorizedError',
        'Invalid credentials. Confirm that you have used the correct host.',
      );

    if (url.pathname === '/api/public/otel/v1/traces' && method === 'POST') {
      if (!String(req.headers['content-type'] ?? '').includes('json'))
        throw new HttpError(415, 'UnsupportedMediaType', 'this test server reads OTLP JSON only');
      traceBodies.push(body);
      spans.push(...flattenOtlp(JSON.parse(body)));
      return [200, {}];
    }

    const one = /^\/api\/public\/v2\/prompts\/([^/]+)$/.exec(url.pathname);
    const patch = /^\/api\/public\/v2\/prompts\/([^/]+)\/versions\/(\d+)$/.exec(url.pathname);
    if (url.pathname === '/api/public/v2/prompts' && method === 'GET') return [200, listPrompts(url)];
    if (url.pathname === '/api/public/v2/prompts' && method === 'POST')
      return [200, createPrompt(JSON.parse(body || '{}'))];
    if (one && method === 'GET') return [200, getPrompt(decodeURIComponent(one[1]!), url)];
    if (patch && method === 'PATCH')
      return [200, updateLabels(decodeURIComponent(patch[1]!), Number(patch[2]), JSON.parse(body || '{}'))];
    const answered = datasets.route(
      method,
      url,
      method === 'GET' ? {} : (JSON.parse(body || '{}') as Record<string, unknown>),
    );
    if (answered) return answered;
    throw new HttpError(404, 'NotFoundError', `no route ${method} ${url.pathname}`);
  };

  const getPrompt = (name: string, url: URL) => {
    const version = url.searchParams.get('version');
    const label = url.searchParams.get('label');
    if (version !== null && label !== null)
      throw new HttpError(400, 'InvalidRequestError', 'Cannot specify both version and label');
    const versions = versionsOf(name);
    const found =
      version !== null
        ? versions.find((p) => p.version === Number(version))
        : versions.find((p) => p.labels.includes(label ?? PRODUCTION));
    if (!found) throw new HttpError(404, 'LangfuseNotFoundError', 'Prompt not found');
    return found;
  };

  const createPrompt = (body: Record<string, unknown>) => {
    const name = body.name;
    const type = body.type ?? 'text';
    if (typeof name !== 'string' || name === '') throw new HttpError(400, 'InvalidRequestError', 'name is required');
    if (type !== 'text' && type !== 'chat')
      throw new HttpError(400, 'InvalidRequestError', 'type must be text or chat');
    if (type === 'text' && typeof body.prompt !== 'string')
      throw new HttpError(400, 'InvalidRequestError', 'prompt must be a string for a text prompt');
    const labels = Array.isArray(body.labels) ? (body.labels as unknown[]).map(String) : [];
    if (labels.includes(LATEST))
      throw new HttpError(400, 'InvalidRequestError', "Label 'latest' is always assigned to the latest prompt version");
    const versions = versionsOf(name);
    const previous = versions[versions.length - 1];
    if (previous && previous.type !== type)
      throw new HttpError(
        400,
        'InvalidRequestError',
        'Previous versions have different prompt type. Create a new prompt with a different name.',
      );
    if (typeof body.commitMessage === 'string' && body.commitMessage.length > 500)
      throw new HttpError(400, 'InvalidRequestError', 'commitMessage: String must contain at most 500 character(s)');
    const finalLabels = [...new Set([...labels, LATEST])];
    takeLabels(name, finalLabels);
    const now = new Date().toISOString();
    const created: StoredPrompt = {
      name,
      version: (previous?.version ?? 0) + 1,
      type,
      prompt: body.prompt,
      config: body.config ?? {},
      labels: finalLabels,
      tags: Array.isArray(body.tags) ? (body.tags as unknown[]).map(String) : (previous?.tags ?? []),
      commitMessage: typeof body.commitMessage === 'string' ? body.commitMessage : null,
      createdAt: now,
      updatedAt: now,
    };
    prompts.push(created);
    return created;
  };

  const updateLabels = (name: string, version: number, body: Record<string, unknown>) => {
    const newLabels = Array.isArray(body.newLabels) ? (body.newLabels as unknown[]).map(String) : undefined;
    if (!newLabels) throw new HttpError(400, 'InvalidRequestError', 'newLabels is required');
    if (newLabels.includes(LATEST))
      throw new HttpError(400, 'InvalidRequestError', "Label 'latest' is always assigned to the latest prompt version");
    const target = versionsOf(name).find((p) => p.version === version);
    if (!target) throw new HttpError(404, 'LangfuseNotFoundError', `Prompt not found: ${name}`);
    const kept = target.labels;
    takeLabels(name, newLabels);
    target.labels = [...new Set([...newLabels, ...kept])];
    target.updatedAt = new Date().toISOString();
    return target;
  };

  const listPrompts = (url: URL) => {
    const nameFilter = url.searchParams.get('name');
    const labelFilter = url.searchParams.get('label');
    const page = Number(url.searchParams.get('page') ?? 1);
    const limit = Number(url.searchParams.get('limit') ?? 50);
    const names = [...new Set(prompts.map((p) => p.name))]
      .filter((n) => nameFilter === null || n === nameFilter)
      .sort();
    const all = names.flatMap((name) => {
      const versions = versionsOf(name).filter((p) => labelFilter === null || p.labels.includes(labelFilter));
      if (versions.length === 0) return [];
      const newest = versions[versions.length - 1]!;
      return [
        {
          name,
          type: newest.type,
          versions: versions.map((p) => p.version),
          labels: [...new Set(versions.flatMap((p) => p.labels))],
          tags: newest.tags,
          lastUpdatedAt: versions
            .map((p) => p.updatedAt)
            .sort()
            .pop(),
          lastConfig: newest.config,
        },
      ];
    });
    return {
      data: all.slice((page - 1) * limit, page * limit),
      meta: { page, limit, totalItems: all.length, totalPages: Math.ceil(all.length / limit) },
    };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, Buffer.concat(chunks).toString('utf8'))
        .then(([status, payload]) => {
          const path = new URL(req.url ?? '/', 'http://localhost').pathname;
          const rule = failAfter.find((f) => f.method === req.method && f.path === path && f.times > 0);
          if (!rule) return send(res, status, payload);
          rule.times -= 1;
          send(res, 500, { message: 'Internal Server Error (after storing)', error: 'InternalServerError' });
        })
        .catch((err: unknown) => {
          if (err instanceof HttpError) send(res, err.status, { message: err.message, error: err.kind });
          else if (err instanceof Error && 'status' in err)
            send(res, (err as { status: number }).status, {
              message: err.message,
              error: (err as { error?: string }).error,
            });
          else send(res, 500, { message: String(err), error: 'InternalServerError' });
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    publicKey,
    secretKey,
    prompts,
    spans,
    traceBodies,
    datasets,
    requests,
    setDown: (d) => {
      down = d;
    },
    failAfterStoring: (method, path, times = 1) => {
      failAfter.push({ method, path, times });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}

function send(res: http.ServerResponse, status: number, payload: unknown): void {
  const last = (res.req as { received?: ReceivedRequest } | undefined)?.received;
  if (last) last.status = status;
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

type OtlpValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
};
type OtlpAttribute = { key: string; value: OtlpValue };

function otlpValue(v: OtlpValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(otlpValue);
  return undefined;
}

const attrs = (list: OtlpAttribute[] | undefined) =>
  Object.fromEntries((list ?? []).map((a) => [a.key, otlpValue(a.value)]));

/** OTLP/JSON ExportTraceServiceRequest → flat spans. Ids arrive as hex strings in OTLP JSON. */
function flattenOtlp(body: {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        attributes?: OtlpAttribute[];
        events?: { name: string; attributes?: OtlpAttribute[] }[];
      }[];
    }[];
  }[];
}): ReceivedSpan[] {
  return (body.resourceSpans ?? []).flatMap((rs) =>
    (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId || undefined,
        name: s.name,
        attributes: attrs(s.attributes),
        events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attrs(e.attributes) })),
        resource: attrs(rs.resource?.attributes),
      })),
    ),
  );
}
