import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { appointmentIdSchema } from '../../domain/model';
import { DomainRefusal } from '../../domain/refusals';
import { FollowUpRefusal } from '../../temporal/followUps';
import { ApiError } from '../runViews';
import { errorSchema, refusalResponses, textSchema } from '../schemas';
import type { ApiDeps } from '../deps';

/**
 * Outcomes: a patient's answer to an offered slot and the visit's score (an operator keying in a phone call, or
 * a messaging gateway's webhook with the gateway role), the offers of an appointment, and the escalations inbox.
 */

const refusals = { ...refusalResponses, 409: errorSchema };

const appointmentParams = z.object({ appointmentId: appointmentIdSchema });
const answerBody = z
  .object({
    answer: z.enum(['accepted', 'declined']),
    reason: textSchema(200).optional().describe('why the patient declined (optional)'),
    offer: z.number().int().min(1).max(100).optional().describe('the offer answered; default the open one'),
  })
  .strict();
const answerResponse = z.object({
  appointment_id: z.string(),
  offer_no: z.number().int(),
  answer: z.enum(['accepted', 'declined', 'no_answer']),
  provider_id: z.string(),
  next: z.enum(['visit', 'reoffer', 'waitlist']),
});
const ratingBody = z.object({ score: z.number().int().min(1).max(5) }).strict();
const ratingResponse = z.object({ appointment_id: z.string(), score: z.number().int() });
const offerSchema = z.object({
  offer_no: z.number().int(),
  provider_id: z.string(),
  from_provider_id: z.string(),
  score: z.number().int(),
  band: z.string(),
  run_id: z.string(),
  decided_by: z.string(),
  status: z.enum(['open', 'accepted', 'declined', 'no_answer']),
  reason: z.string().nullable(),
  answered_by: z.string().nullable(),
  answered_at: z.string().nullable(),
  created_at: z.string(),
});
const offersResponse = z.object({
  appointment_id: z.string(),
  offers: z.array(offerSchema),
  satisfaction: z.number().int().nullable(),
});
const escalationSchema = z.object({
  id: z.number().int(),
  kind: z.string(),
  appointment_id: z.string().nullable(),
  run_id: z.string().nullable(),
  reason: z.string(),
  status: z.enum(['open', 'acknowledged', 'resolved']),
  acknowledged_by: z.string().nullable(),
  acknowledged_at: z.string().nullable(),
  resolved_by: z.string().nullable(),
  resolved_at: z.string().nullable(),
  note: z.string().nullable(),
  created_at: z.string(),
});
const labelRouteSchema = z.object({
  prompt: z.string(),
  label: z.string(),
  follows: z.string(),
  pinned_by: z.string().nullable(),
  pinned_at: z.string().nullable(),
  updated_at: z.string(),
  last_move: z
    .object({
      from_label: z.string().nullable(),
      to_label: z.string(),
      reason: z.string(),
      moved_by: z.string(),
      created_at: z.string(),
    })
    .nullable(),
});
const escalationParams = z.object({
  id: z.coerce
    .number()
    .int()
    .min(1)
    .max(2 ** 31),
});

function fromOutcome(err: unknown): never {
  if (err instanceof FollowUpRefusal) throw new ApiError(err.kind === 'not_found' ? 404 : 409, err.message);
  if (err instanceof DomainRefusal) throw new ApiError(err.code === 'unknown_escalation' ? 404 : 409, err.message);
  throw err;
}

export function registerOutcomeRoutes(fastify: FastifyInstance, { client }: ApiDeps): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const desk = client.outcomes;

  app.post(
    '/api/appointments/:appointmentId/answer',
    {
      config: { role: 'gateway' },
      schema: {
        summary:
          "The patient's answer to the slot offered (accepted, or declined: the slot is released and re-offered)",
        tags: ['outcomes'],
        params: appointmentParams,
        body: answerBody,
        response: { 200: answerResponse, ...refusals },
      },
    },
    async (request) =>
      desk
        .answer(request.params.appointmentId, {
          ...request.body,
          ...(request.body.reason !== undefined ? { reason: request.body.reason.trim() } : {}),
          by: request.principal.name,
        })
        .catch(fromOutcome),
  );

  app.post(
    '/api/appointments/:appointmentId/satisfaction',
    {
      config: { role: 'gateway' },
      schema: {
        summary: "The patient's score of the visit, 1 (poor) to 5 (excellent), once per appointment",
        tags: ['outcomes'],
        params: appointmentParams,
        body: ratingBody,
        response: { 200: ratingResponse, ...refusals },
      },
    },
    async (request) =>
      desk
        .rate(request.params.appointmentId, { score: request.body.score, by: request.principal.name })
        .catch(fromOutcome),
  );

  app.get(
    '/api/appointments/:appointmentId/offers',
    {
      config: { role: 'viewer' },
      schema: {
        summary: "The slots offered for an appointment, each with the patient's answer, and the visit's score",
        tags: ['outcomes'],
        params: appointmentParams,
        response: { 200: offersResponse, ...refusals },
      },
    },
    async (request) => {
      const found = await desk.offers(request.params.appointmentId);
      if (!found) throw new ApiError(404, `unknown appointment ${request.params.appointmentId}`);
      return { appointment_id: request.params.appointmentId, ...found };
    },
  );

  app.get(
    '/api/escalations',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'What a head of department must see, newest first',
        tags: ['outcomes'],
        querystring: z
          .object({
            status: z.enum(['open', 'acknowledged', 'resolved']).optional(),
            limit: z.coerce.number().int().min(1).max(500).optional(),
          })
          .strict(),
        response: { 200: z.object({ escalations: z.array(escalationSchema) }), ...refusals },
      },
    },
    async (request) => ({ escalations: await desk.escalations(request.query) }),
  );

  app.get(
    '/api/label-routes',
    {
      config: { role: 'viewer' },
      schema: {
        summary:
          'Label routes: which label a label of a prompt follows (production → conservative), moved by the adaptation policy or pinned by a person, with the last move',
        tags: ['outcomes'],
        response: { 200: z.object({ routes: z.array(labelRouteSchema) }), ...refusals },
      },
    },
    async () => ({ routes: await desk.labelRoutes() }),
  );

  for (const [action, to] of [
    ['acknowledge', 'acknowledged'],
    ['resolve', 'resolved'],
  ] as const)
    app.post(
      `/api/escalations/:id/${action}`,
      {
        config: { role: 'operator' },
        schema: {
          summary:
            action === 'acknowledge'
              ? 'Someone is on it (recorded with who and when)'
              : 'Done, with an optional note (recorded with who and when)',
          tags: ['outcomes'],
          params: escalationParams,
          body: z
            .object({ note: textSchema(500).optional() })
            .strict()
            .optional(),
          response: { 200: escalationSchema, ...refusals },
        },
      },
      async (request) => {
        try {
          return await desk.moveEscalation(request.params.id, to, request.principal.name, request.body?.note?.trim());
        } catch (err) {
          return fromOutcome(err);
        }
      },
    );
}
