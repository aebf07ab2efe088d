import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { searchAttributes } from '../../workflows/contract/searchAttributes';
import { listQuery } from '../../temporal/runList';
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
import type { TemporalWatch } from '../temporalWatch';

/** The approvals inbox and its decisions, and who the caller is. */

const refusals = refusalResponses;

export function registerApprovalRoutes(
  fastify: FastifyInstance,
  { config, client, lists, views }: ApiDeps,
  watch: TemporalWatch,
): void {
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
      const read = async () => {
        const running = [];
        for await (const e of client.temporal.workflow.list({
          query: listQuery(config.TASK_QUEUE, { status: 'running' }),
        }))
          if (e.status.name === 'RUNNING') running.push(e);
        // The runs' progress queries side by side, not one after the other.
        const answers = await Promise.all(
          running.map(async (e) => ({ e, progress: await client.progress(e.workflowId).catch(() => undefined) })),
        );
        const approvals = await Promise.all(
          answers.flatMap(({ e, progress }) =>
            (progress?.pending_approvals ?? []).map(async (p) => ({
              ...p,
              workflow_id: e.workflowId,
              provider_of_run: e.typedSearchAttributes.get(searchAttributes.providerId) ?? null,
              label: progress?.prompt?.label ?? config.PROMPT_LABEL,
              details: (await views?.approvalDetails(p, progress?.prompt?.label ?? config.PROMPT_LABEL, false)) ?? null,
            })),
          ),
        );
        return { approvals: approvals.sort((a, b) => a.deadline.localeCompare(b.deadline)) };
      };
      const inbox = await (lists ? (lists.get('approvals', read) as ReturnType<typeof read>) : read());
      // Patient names never go into the shared cache: added for this operator's answer only.
      const approvals = await Promise.all(
        inbox.approvals.map(async ({ label, rationale, ...a }) =>
          withPatients
            ? {
                ...a,
                ...(rationale !== undefined ? { rationale } : {}),
                details: a.details && ((await views?.approvalDetails(a, label, true)) ?? a.details),
              }
            : a,
        ),
      );
      return { approvals };
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
