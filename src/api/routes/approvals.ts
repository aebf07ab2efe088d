import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { ApiError, describeReassignment, fromTemporal } from '../runViews';
import {
  approvalParamsSchema,
  detailQuerySchema,
  decisionBodySchema,
  decisionResponseSchema,
  errorSchema,
  refusalResponses,
  inboxSchema,
  meSchema,
  healthSchema,
} from '../schemas';
import type { ApiDeps } from '../deps';
import { listApprovals } from '../operations';
import type { TemporalWatch } from '../temporalWatch';

/** The approvals inbox and its decisions, and who the caller is. */

const refusals = refusalResponses;

export function registerApprovalRoutes(fastify: FastifyInstance, deps: ApiDeps, watch: TemporalWatch): void {
  const { config, client } = deps;
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.post(
    '/api/reassignments/:id/approvals/:appointmentId',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'decideApproval',
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
      // As GET and cancel answer: a batch's id (or any other workflow's) is not a run the API decides in.
      await describeReassignment(client.temporal, id);
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
        operationId: 'listApprovals',
        summary:
          'Every approval awaited by a running reassignment, with its deadline and the decision explained; `?include=patients` adds the patient (operator)',
        tags: ['approvals'],
        querystring: detailQuerySchema,
        response: { 200: inboxSchema, ...refusals },
      },
    },
    async (request) => {
      const withPatients = request.query.include === 'patients';
      if (withPatients && request.principal.role !== 'operator')
        throw new ApiError(403, 'patient names are for the operator role only');
      request.patientData = withPatients;
      return listApprovals(deps, withPatients);
    },
  );

  app.get(
    '/api/me',
    {
      config: { role: 'viewer' },
      schema: {
        operationId: 'whoAmI',
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
        operationId: 'health',
        summary: 'Liveness, and whether Temporal answers (no authentication)',
        tags: ['session'],
        security: [],
        response: { 200: healthSchema },
      },
    },
    async () => ({ ok: true, temporal: (await watch.reachable()) ? 'reachable' : 'unreachable' }),
  );
}
