import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiDeps } from '../deps';
import { ApiError } from '../runViews';
import { attentionEntrySchema, previewBodySchema, previewSchema } from '../schedulerViews';
import { errorSchema } from '../schemas';

/** The scheduler's lists beside the inbox: what needs attention, and a preview before a start (src/api/schedulerViews.ts). */

const refusals = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 429: errorSchema, 503: errorSchema };

export function registerSchedulerRoutes(fastify: FastifyInstance, { views }: ApiDeps): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/api/needs-attention',
    {
      config: { role: 'viewer' },
      schema: {
        operationId: 'needsAttention',
        summary:
          'Appointments that cancelled or failed runs left undecided, still booked with the unavailable provider',
        tags: ['scheduler'],
        response: { 200: z.object({ appointments: z.array(attentionEntrySchema) }), ...refusals },
      },
    },
    async () => ({ appointments: (await views?.needsAttention()) ?? [] }),
  );

  app.post(
    '/api/preview',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'previewRun',
        summary: 'What a run would decide for each appointment (the policy of the prompt label), with nothing written',
        tags: ['scheduler'],
        body: previewBodySchema,
        response: { 200: previewSchema, ...refusals, 404: errorSchema, 422: errorSchema },
      },
    },
    async (request) => {
      const preview = await views?.preview(request.body).catch((err: unknown) => {
        if (err instanceof ApiError) throw err;
        throw new ApiError(422, `cannot preview: ${(err as Error).message}`);
      });
      if (!preview) throw new ApiError(422, 'cannot preview: the scheduling database is not on this machine');
      return preview;
    },
  );
}
