import type { Payload, PayloadCodec } from '@temporalio/common';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { LOCAL_OPERATOR, presentedKey, roleAllows, type ApiKeys, type Principal, type Role } from '../api/auth';
import { describeError } from '../errors';
import { addSignInRoutes, CodecSessions } from './signIn';

/**
 * The codec server: the Temporal Web UI and CLI send it payloads as JSON (metadata values and data in base64)
 * to /decode or /encode, and it answers with them decrypted or encrypted by our codec. Unlike Temporal's samples
 * it does not answer every origin or anybody: browsers may call it from the Web UI's origin only, callers
 * authenticate with the API's keys (the operator role, who alone sees patient data in the API), and every decode is logged
 * with who asked and how much, never what.
 */

export interface CodecServerDeps {
  /** Our encryption codec; undefined when PAYLOAD_ENCRYPTION=off (payloads pass through). */
  codec?: PayloadCodec;
  /** Absent: no authentication, one implicit operator (the server then listens on loopback only). */
  keys?: ApiKeys;
  /** The origins a browser may call from: the Web UI's. */
  allowedOrigins: string[];
  log: (line: string) => void;
}

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
// Protobuf's JSON form: an empty list of payloads is sent as `{}`.
const bodySchema = z
  .object({
    payloads: z
      .array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }))
      .default([]),
  })
  .strict();
type JsonPayload = z.output<typeof bodySchema>['payloads'][number];

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

const EXPECTED_BODY = 'expected {"payloads":[{"metadata":{…},"data":"<base64>"}]}';
const ALLOWED_HEADERS = 'content-type, x-namespace, authorization, x-api-key';

export async function buildCodecServer(deps: CodecServerDeps): Promise<FastifyInstance> {
  // Payloads up to Temporal's 2 MB each, a Web UI page asks for several at once.
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 });

  // CORS: only the Web UI's origin, checked before anything else; a call from any other page is refused. The
  // sign-in form posts from the codec server's own page.
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin === undefined) return;
    if (request.url.startsWith('/sign-') && origin === `${request.protocol}://${request.headers.host}`) return;
    if (!deps.allowedOrigins.includes(origin))
      return reply.code(403).send({ error: `origin ${origin} may not call the codec server` });
    reply
      .header('access-control-allow-origin', origin)
      .header('vary', 'Origin')
      .header('access-control-allow-credentials', 'true');
    if (request.method === 'OPTIONS')
      return reply
        .code(204)
        .header('access-control-allow-methods', 'POST, OPTIONS')
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', '600')
        .send();
  });

  const sessions = new CodecSessions();
  addSignInRoutes(app, { ...(deps.keys ? { keys: deps.keys } : {}), sessions, log: deps.log });

  const authenticate = (request: FastifyRequest, need: Role) => {
    let principal: Principal | undefined = LOCAL_OPERATOR;
    if (deps.keys) {
      // A key (the Temporal CLI's --codec-auth, a script), or the session of a browser signed in at /sign-in.
      const key = presentedKey(request.headers);
      principal = key ? deps.keys.identify(key) : sessions.principalOf(request);
      if (!key && !principal)
        return {
          status: 401,
          error: 'authentication needed: send Authorization: Bearer <API key>, or sign in at /sign-in (browsers)',
        };
      if (!principal) return { status: 401, error: 'unknown API key' };
    }
    if (!roleAllows(principal.role, need))
      return { status: 403, error: `the ${principal.role} role may not do this: it needs the ${need} role` };
    return { principal };
  };

  // Who asks is settled before the body is read (onRequest): a caller without the role gets its 401 or 403 without
  // the server parsing up to 16 MB for it, and whatever the body holds.
  const principals = new WeakMap<FastifyRequest, Principal>();
  const route = (path: '/encode' | '/decode', need: Role) =>
    app.post(
      path,
      {
        onRequest: async (request, reply) => {
          const who = authenticate(request, need);
          if (!who.principal) return reply.code(who.status).send({ error: who.error });
          principals.set(request, who.principal);
        },
      },
      async (request, reply) => {
        const principal = principals.get(request)!;
        const body = bodySchema.safeParse(request.body);
        if (!body.success) return reply.code(400).send({ error: `invalid body: ${EXPECTED_BODY}` });
        const payloads = body.data.payloads.map(fromJson);
        const namespace = typeof request.headers['x-namespace'] === 'string' ? request.headers['x-namespace'] : '-';
        try {
          const out = !deps.codec
            ? payloads
            : path === '/decode'
              ? await deps.codec.decode(payloads)
              : await deps.codec.encode(payloads);
          if (path === '/decode')
            deps.log(
              `codec server: decode by ${principal.name} (${principal.role}): ${payloads.length} payload(s), namespace ${namespace}`,
            );
          return reply.send({ payloads: out.map(toJson) });
        } catch (err) {
          deps.log(`codec server: ${path.slice(1)} by ${principal.name} refused: ${describeError(err)}`);
          return reply.code(400).send({ error: describeError(err) });
        }
      },
    );
  // Decoded payloads hold patient data, which the API shows to operators only (`?include=patients`).
  route('/decode', 'operator');
  route('/encode', 'operator');
  // What Fastify refuses before a route runs (a body that is not JSON, or too large): one line, as the routes answer.
  app.setErrorHandler((err, request, reply) => {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 400) return reply.code(400).send({ error: `invalid body: ${describeError(err)}; ${EXPECTED_BODY}` });
    if (status && status > 400 && status < 500) return reply.code(status).send({ error: describeError(err) });
    deps.log(`codec server: ${request.method} ${request.url.split('?')[0]}: ${describeError(err)}`);
    return reply.code(500).send({ error: 'internal error: the codec server could not answer (its log says why)' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
  await app.ready();
  return app;
}

/** Where the Web UI runs, as an origin: TEMPORAL_UI_URL, or the dev server's UI on TEMPORAL_UI_PORT. */
export function webUiOrigins(config: { TEMPORAL_UI_URL?: string; TEMPORAL_UI_PORT: number }): string[] {
  if (config.TEMPORAL_UI_URL) return [new URL(config.TEMPORAL_UI_URL).origin];
  return [`http://localhost:${config.TEMPORAL_UI_PORT}`, `http://127.0.0.1:${config.TEMPORAL_UI_PORT}`];
}
