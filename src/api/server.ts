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
import { describeError } from '../errors';
import { LaunchRefused } from '../client';
import { LOCAL_OPERATOR, presentedKey, roleAllows, type Principal, type Role } from './auth';
import { registerConsole } from './console';
import type { ApiDeps } from './deps';
import { ApiError } from './runViews';
import { registerApprovalRoutes } from './routes/approvals';
import { registerMcpRoute } from './routes/mcp';
import { registerRunRoutes } from './routes/runs';
import { registerOutcomeRoutes } from './routes/outcomes';

/**
 * The front door: an HTTP API (Fastify, zod schemas that also make the OpenAPI document) and the operator
 * console, in one server. Every refusal is a 4xx with a one-line JSON error, never a stack trace.
 */

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** The least role a route needs; routes without it are public (the console page, the OpenAPI document). */
    role?: Role;
  }
}

export async function buildApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('principal', null as unknown as Principal);

  // A known path asked with a method it does not have is a 405 that names the methods it has (checked before
  // any body is read); an unknown path is a 404.
  const routes: { pattern: RegExp; method: string }[] = [];
  app.addHook('onRoute', (route) => {
    const pattern = new RegExp(`^${route.url.replace(/:[^/]+/g, '[^/]+')}$`);
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ pattern, method });
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
      const key = presentedKey(request.headers);
      if (!key) return reply.code(401).send({ error: 'authentication needed: send Authorization: Bearer <API key>' });
      principal = deps.keys.identify(key);
      if (!principal) return reply.code(401).send({ error: 'unknown API key' });
    }
    if (!roleAllows(principal.role, need))
      return reply.code(403).send({ error: `the ${principal.role} role may not do this: it needs the ${need} role` });
    request.principal = principal;
  });

  app.setErrorHandler((err, request, reply) => {
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
    request.log.error(err);
    console.error(`api: ${request.method} ${request.url}: ${describeError(err)}`);
    return reply.code(500).send({ error: `internal error: ${describeError(err)}` });
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
  registerApprovalRoutes(app, deps);
  registerOutcomeRoutes(app, deps);
  registerMcpRoute(app, deps);
  registerConsole(app);
  await app.ready();
  return app;
}
