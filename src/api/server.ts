import fastifySse from '@fastify/sse';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { openSql, targetOf } from '../db/open';
import { closeSharedStores, sharedStore } from '../domain/store';
import { describeError } from '../errors';
import { LaunchRefused } from '../client';
import { AccessLog } from './accessLog';
import { ListCache } from './listCache';
import { LiveDecisions } from './liveProgress';
import { SchedulerViews } from './schedulerViews';
import { StartDedup } from './startDedup';
import { LOCAL_OPERATOR, presentedKey, roleAllows, type Principal, type Role } from './auth';
import { registerConsole } from './console';
import type { ApiDeps } from './deps';
import { ApiError } from './runViews';
import { registerApprovalRoutes } from './routes/approvals';
import { registerAccessLogRoutes } from './routes/accessLog';
import { registerMcpRoute } from './routes/mcp';
import { registerOutcomeRoutes } from './routes/outcomes';
import { registerRunRoutes } from './routes/runs';
import { registerSchedulerRoutes } from './routes/scheduler';
import { AuthLockout, clientErrorHandler, frameworkErrors, registerSecurity } from './security';
import { TemporalWatch } from './temporalWatch';

/**
 * The front door: an HTTP API (Fastify, zod schemas that also make the OpenAPI document) and the operator
 * console, in one server. Every refusal is a 4xx with a one-line JSON error, never a stack trace.
 */

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
    /** The answer carries patient data: the access log records it whatever its outcome. */
    patientData: boolean;
  }
  interface FastifyContextConfig {
    /** The least role a route needs; routes without it are public (the console page, the OpenAPI document). */
    role?: Role;
  }
}

export async function buildApiServer(
  deps: ApiDeps,
  options: { https?: { cert: Buffer; key: Buffer } } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    // Longer than any id the schemas accept (workflow ids up to 200), so that those get their own 400.
    routerOptions: { maxParamLength: 256 },
    frameworkErrors,
    clientErrorHandler,
    ...(options.https ? { https: options.https } : {}),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('principal', null as unknown as Principal);
  app.decorateRequest('patientData', false);
  // An empty JSON body is no body (POST …/cancel with the content type and nothing else); anything else is parsed
  // by Fastify's own parser (prototype poisoning refused).
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    return json(request, text, done);
  });
  await registerSecurity(app, deps.config, options.https !== undefined);
  const lockout = new AuthLockout(deps.config.API_AUTH_FAILURE_LIMIT);
  // The scheduling database (created if it is a SQLite file not there yet): the access log, the idempotency keys
  // and the live decision counts. It cannot be opened: one line at start, and the server does not start.
  // On PostgreSQL it is the pool the API's other reads share (one pool per process).
  const target = targetOf(deps.config);
  const db =
    target.kind === 'postgres'
      ? (await sharedStore(target, deps.config)).connection
      : await openSql(target, deps.config);
  const accessLog = new AccessLog(db);
  const live = new LiveDecisions(db);
  const dedup = new StartDedup(db);
  app.addHook('onClose', async () => {
    if (target.kind === 'sqlite') await db.close();
    await closeSharedStores();
  });
  const lists = new ListCache<unknown>(deps.config.API_LIST_CACHE_MS);
  deps = { ...deps, live, dedup, lists, views: new SchedulerViews(deps.config) };
  const watch = new TemporalWatch(deps.client.temporal.connection, deps.config.TEMPORAL_ADDRESS);
  app.addHook('onClose', () => watch.settled());

  // A known path asked with a method it does not have is a 405 that names the methods it has (checked before
  // any body is read); an unknown path is a 404.
  const routes: { pattern: RegExp; method: string }[] = [];
  app.addHook('onRoute', (route) => {
    const pattern = new RegExp(`^${route.url.replace(/:[^/]+/g, '[^/]+')}$`);
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ pattern, method });
    // Every route that reads Temporal answers 503 within about two seconds when it does not answer. Not an event
    // stream: its headers are sent at once, so it ends (when Temporal fails it) rather than answer 503.
    if (route.config?.role && !(route as { sse?: unknown }).sse) {
      const handler = route.handler;
      route.handler = function (this: FastifyInstance, request, reply) {
        return watch.guard(async () => {
          const value: unknown = await handler.call(this, request, reply);
          return value === reply ? undefined : value;
        });
      };
    }
  });
  app.addHook('onRequest', async (request, reply) => {
    if (!request.is404) return;
    const pathname = request.url.split('?')[0]!;
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(pathname)).map((r) => r.method))];
    if (allowed.length > 0)
      return reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send({ error: `${request.method} is not allowed on ${pathname}: use ${allowed.join(' or ')}` });
    return reply.code(404).send({ error: `no route ${request.method} ${pathname}` });
  });

  app.addHook('onRequest', async (request, reply) => {
    const need = request.routeOptions.config?.role;
    if (!need) return;
    let principal: Principal | undefined = LOCAL_OPERATOR;
    if (deps.keys) {
      const wait = lockout.lockedFor(request.ip);
      if (wait > 0)
        return reply
          .code(429)
          .header('retry-after', String(wait))
          .send({ error: `too many failed authentications from this address: try again in ${wait} s` });
      const key = presentedKey(request.headers);
      principal = key ? deps.keys.identify(key) : undefined;
      if (!principal) {
        lockout.fail(request.ip);
        return reply
          .code(401)
          .send({ error: key ? 'unknown API key' : 'authentication needed: send Authorization: Bearer <API key>' });
      }
    }
    request.principal = principal;
    if (!roleAllows(principal.role, need))
      return reply.code(403).send({ error: `the ${principal.role} role may not do this: it needs the ${need} role` });
  });

  // A change through the API (or an attempt at one) makes the next poll read the lists anew.
  app.addHook('onResponse', async (request) => {
    if (request.method === 'POST') lists.clear();
  });

  // The access log: every change, every refusal of who the caller is, every view of patient data (accessLog.ts).
  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    const path = request.url.split('?')[0]!;
    const logged =
      request.patientData ||
      status === 401 ||
      status === 403 ||
      status === 429 ||
      path === '/api/access-log' ||
      ((path.startsWith('/api/') || path === '/mcp') && !['GET', 'HEAD', 'OPTIONS'].includes(request.method));
    if (!logged) return;
    try {
      await accessLog.record({
        who: request.principal?.name ?? 'unauthenticated',
        role: request.principal?.role ?? null,
        address: request.ip,
        method: request.method,
        path: path.slice(0, 300),
        patient_data: request.patientData,
        status,
      });
    } catch (err) {
      console.error(`api: the access log could not be written: ${describeError(err)}`);
    }
  });

  app.setErrorHandler((err, request, reply) => {
    // A stream whose client went away (server-sent events): its headers are out, nothing can be answered any more,
    // and trying would throw out of the server.
    if (reply.sent || reply.raw.headersSent) {
      if (!reply.raw.writableEnded) reply.raw.end();
      return;
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const first = err.validation[0];
      const where = first?.instancePath ? first.instancePath.replace(/^\//, '').replace(/\//g, '.') : '';
      return reply.code(400).send({
        error: `invalid ${err.validationContext ?? 'request'}: ${where ? `${where} ` : ''}${first?.message ?? 'is invalid'}`,
      });
    }
    if (err instanceof ApiError) return reply.code(err.status).send({ error: err.message });
    if (err instanceof LaunchRefused)
      return reply.code(err.kind === 'not_found' ? 404 : 422).send({ error: err.message });
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) return reply.code(status).send({ error: describeError(err) });
    if (/UNAVAILABLE|ECONNREFUSED|DEADLINE_EXCEEDED|Connection refused/i.test(String(err)))
      return reply.code(503).send({ error: `the Temporal server at ${deps.config.TEMPORAL_ADDRESS} does not answer` });
    // The details stay in the server's log: they can name files, and the caller cannot act on them.
    console.error(`api: ${request.method} ${request.url.split('?')[0]}: ${describeError(err)}`);
    return reply.code(500).send({ error: 'internal error: the server could not answer (its log says why)' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Prompt-driven reassignment',
        description:
          'Start reassignments of an unavailable provider, follow them, and decide the approvals they wait for. ' +
          'Authenticate with `Authorization: Bearer <API key>` (viewer or operator role) when keys are configured.',
        version: '1.0.0',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySse, { heartbeatInterval: 15_000 });

  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  registerRunRoutes(app, deps);
  registerApprovalRoutes(app, deps, watch);
  registerOutcomeRoutes(app, deps);
  registerMcpRoute(app, deps);
  registerAccessLogRoutes(app, accessLog);
  registerSchedulerRoutes(app, deps);
  registerConsole(app);
  await app.ready();
  return app;
}
