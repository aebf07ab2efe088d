import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { fromTemporal } from '../runViews';
import {
  approvalParamsSchema,
  decisionBodySchema,
  decisionResponseSchema,
  errorSchema,
  inboxSchema,
  meSchema,
  healthSchema,
} from '../schemas';
import type { ApiDeps } from '../deps';
import { listApprovals } from '../operations';

/** The approvals inbox and its decisions, and who the caller is. */

const refusals = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 503: errorSchema };

export function registerApprovalRoutes(fastify: FastifyInstance, deps: ApiDeps): void {
  const { config, client } = deps;
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.post(
    '/api/reassignments/:id/approvals/:appointmentId',
    {
      config: { role: 'operator' },
      schema: {
        summary:
          'Approve or reject the assignment an appointment waits on (answered at once: accepted, or 409 and why)',
        tags: ['approvals'],
        params: approvalParamsSchema,
        body: decisionBodySchema,
        response: { 200: decisionResponseSchema, ...refusals, 409: errorSchema },
      },
    },
    async (request) => {
      const { id, appointmentId } = request.params;
      // An Update with a validator: an unknown or already decided appointment is refused before anything is written.
      return client
        .decide(id, {
          appointmentId,
          decision: request.body.decision,
          by: request.principal.name,
          ...(request.body.note ? { note: request.body.note } : {}),
        })
        .catch((err: unknown) => fromTemporal(err, id));
    },
  );

  app.get(
    '/api/approvals',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Every approval awaited by a running reassignment, with its deadline',
        tags: ['approvals'],
        response: { 200: inboxSchema, ...refusals },
      },
    },
    async () => listApprovals(deps),
  );

  app.get(
    '/api/me',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Who the caller is, and with which role',
        tags: ['session'],
        response: { 200: meSchema, 401: errorSchema },
      },
    },
    async (request) => ({
      name: request.principal.name,
      role: request.principal.role,
      auth: config.API_KEYS !== undefined,
    }),
  );

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness, and whether Temporal answers (no authentication)',
        tags: ['session'],
        security: [],
        response: { 200: healthSchema },
      },
    },
    async () => {
      const temporal = await client.temporal.connection.workflowService
        .getSystemInfo({})
        .then(() => 'reachable')
        .catch(() => 'unreachable');
      return { ok: true, temporal };
    },
  );
}
