import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { progressQuery } from '../../workflows/contract/signals';
import type { Progress, ReassignmentResult } from '../../workflows/contract/types';
import { REASSIGNMENT_TYPES } from '../../workflowIds';
import { detailOf, fromTemporal, linksOf, withoutRationale, ApiError } from '../runViews';
import {
  cancelBodySchema,
  cancelResponseSchema,
  detailQuerySchema,
  errorSchema,
  refusalResponses,
  listQuerySchema,
  listResponseSchema,
  runDetailSchema,
  runParamsSchema,
  triggerBodySchema,
  triggerHeadersSchema,
  triggerResponseSchema,
} from '../schemas';
import type { ApiDeps } from '../deps';
import { cancelReassignment, startReassignment } from '../operations';

/** Runs: start one (the seed's trigger-workflow-dynamic), list them, read one, follow it live, cancel it. */

const refusals = refusalResponses;

export function registerRunRoutes(fastify: FastifyInstance, deps: ApiDeps): void {
  const { config, client, live, dedup, lists } = deps;
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.post(
    '/api/trigger-workflow-dynamic',
    {
      config: { role: 'operator' },
      // The stateful fuzzer (and any reader of the document) follows a started run to its other operations.
      links: {
        201: {
          ReadRun: { operationId: 'readRun', parameters: { id: '$response.body#/workflow_id' } },
          CancelRun: { operationId: 'cancelRun', parameters: { id: '$response.body#/workflow_id' } },
          DecideApproval: { operationId: 'decideApproval', parameters: { id: '$response.body#/workflow_id' } },
        },
      },
      schema: {
        operationId: 'startRun',
        summary: 'Start reassigning the appointments of an unavailable provider',
        tags: ['runs'],
        body: triggerBodySchema,
        headers: triggerHeadersSchema,
        response: {
          200: triggerResponseSchema.describe('a retry of an earlier request: the run it started'),
          201: triggerResponseSchema,
          ...refusals,
          409: errorSchema,
          422: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const { replayed, ...started } = await startReassignment(
        deps,
        request.body,
        request.principal.name,
        request.headers['idempotency-key'],
      );
      if (replayed) void reply.header('idempotent-replayed', 'true');
      return reply.code(replayed ? 200 : 201).send(started);
    },
  );

  app.get(
    '/api/reassignments',
    {
      config: { role: 'viewer' },
      schema: {
        operationId: 'listRuns',
        summary: 'Reassignment runs, newest first, from Temporal visibility',
        tags: ['runs'],
        querystring: listQuerySchema,
        response: { 200: listResponseSchema, ...refusals },
      },
    },
    async (request) => {
      const read = async () => {
        const runs = await client.list(request.query);
        const starters = (await dedup?.starters(runs.map((r) => r.workflow_id))) ?? new Map<string, string>();
        return {
          runs: runs.map((run) => ({
            ...run,
            started_by: starters.get(run.workflow_id) ?? null,
            links: linksOf(config, run.workflow_id),
          })),
        };
      };
      return lists ? (lists.get(`runs:${JSON.stringify(request.query)}`, read) as ReturnType<typeof read>) : read();
    },
  );

  app.get(
    '/api/reassignments/:id',
    {
      config: { role: 'viewer' },
      schema: {
        operationId: 'readRun',
        summary: "A run's progress while it runs, its result (or failure) once it is over",
        tags: ['runs'],
        params: runParamsSchema,
        querystring: detailQuerySchema,
        response: { 200: runDetailSchema, ...refusals },
      },
    },
    async (request) => {
      const withPatients = request.query.include === 'patients';
      if (withPatients && request.principal.role !== 'operator')
        throw new ApiError(403, 'patient names are for the operator role only');
      request.patientData = withPatients;
      const detail = await detailOf(client.temporal, config, request.params.id, withPatients, live);
      return { ...detail, started_by: (await dedup?.starters([request.params.id]))?.get(request.params.id) ?? null };
    },
  );

  app.get(
    '/api/reassignments/:id/events',
    {
      config: { role: 'viewer' },
      sse: { kind: 'only' },
      schema: {
        operationId: 'followRun',
        summary: 'Server-sent events: `progress` whenever it changes, then `result` (or `failure`), then the end',
        tags: ['runs'],
        params: runParamsSchema,
        response: { ...refusals },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const handle = client.temporal.workflow.getHandle(id);
      const described = await handle.describe().catch((err: unknown) => fromTemporal(err, id));
      if (!REASSIGNMENT_TYPES.includes(described.type)) throw new ApiError(404, `${id} is not a reassignment`);
      let last = '';
      while (reply.sse.isConnected) {
        const { status } = await handle.describe();
        if (status.name !== 'RUNNING') break;
        const queried: Progress | undefined = await handle.query(progressQuery).catch(() => undefined);
        const progress = queried && withoutRationale(live ? await live.overlay(queried) : queried);
        const text = JSON.stringify(progress);
        if (progress && text !== last) {
          last = text;
          await reply.sse.send({ event: 'progress', data: progress });
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      if (!reply.sse.isConnected) return;
      const detail = await detailOf(client.temporal, config, id, false, live);
      if (detail.result) await reply.sse.send({ event: 'result', data: detail.result satisfies ReassignmentResult });
      else await reply.sse.send({ event: 'failure', data: { error: detail.failure ?? detail.execution_status } });
    },
  );

  app.post(
    '/api/reassignments/:id/cancel',
    {
      config: { role: 'operator' },
      // No body at all is an empty one (Fastify's validator would see null); a JSON null is still refused.
      preValidation: async (request) => {
        const sent = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'];
        if ((request.body === undefined || request.body === null) && !sent) request.body = {};
      },
      schema: {
        operationId: 'cancelRun',
        summary: 'Stop a run after the step in flight; what is done stays done',
        tags: ['runs'],
        params: runParamsSchema,
        body: cancelBodySchema.optional(),
        response: { 202: cancelResponseSchema, ...refusals, 409: errorSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      await cancelReassignment(deps, request.principal, id, request.body?.reason?.trim());
      return reply.code(202).send({ workflow_id: id, cancellation: 'requested' as const });
    },
  );
}
