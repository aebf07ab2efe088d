import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiDeps } from '../deps';
import { ApiError } from '../runViews';
import { attentionEntrySchema, previewBodySchema } from '../schedulerViews';
import { PreviewTimedOut } from '../../previewRun';
import { previewResultSchema } from '../../workflows/preview/previewContract';
import { errorSchema } from '../schemas';

/** The scheduler's lists beside the inbox: what needs attention, and a preview before a start (src/api/schedulerViews.ts). */

const refusals = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 429: errorSchema, 503: errorSchema };

export function registerSchedulerRoutes(fastify: FastifyInstance, { views, client, config }: ApiDeps): void {
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
        summary:
          'What a prompt-driven run would decide for each appointment: a dry run of the same loop in Temporal (the model is asked, the tools run in transactions rolled back), with nothing written',
        tags: ['scheduler'],
        body: previewBodySchema,
        response: { 200: previewResultSchema, ...refusals, 404: errorSchema, 422: errorSchema, 504: errorSchema },
      },
    },
    async (request) => {
      const { provider_id, date, label } = request.body;
      try {
        return await client.preview({ providerId: provider_id, date, promptLabel: label ?? config.PROMPT_LABEL });
      } catch (err) {
        if (err instanceof PreviewTimedOut) throw new ApiError(504, err.message);
        throw err;
      }
    },
  );
}
