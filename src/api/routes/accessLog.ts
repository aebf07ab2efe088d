import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { accessEntrySchema, accessLogQuerySchema, type AccessLog } from '../accessLog';
import { errorSchema } from '../schemas';

/** The access log, newest first, for the auditor role only (src/api/accessLog.ts says what it holds). */
export function registerAccessLogRoutes(fastify: FastifyInstance, accessLog: AccessLog): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/api/access-log',
    {
      config: { role: 'auditor' },
      schema: {
        operationId: 'readAccessLog',
        summary: 'Who did what through the API, when, and with what outcome (auditor role only)',
        tags: ['audit'],
        querystring: accessLogQuerySchema,
        response: {
          200: z.object({ entries: z.array(accessEntrySchema) }),
          400: errorSchema,
          401: errorSchema,
          403: errorSchema,
          429: errorSchema,
        },
      },
    },
    async (request) => ({ entries: await accessLog.entries(request.query) }),
  );
}
