import { z } from 'zod';
import { isoDateSchema, providerIdSchema } from '../../domain/model';
import { labelSchema } from '../../prompts/schema';

/** Contract of the preview workflow (a dry run of the prompt-driven path): input and result. Pure. */

export const previewInputSchema = z
  .object({
    providerId: providerIdSchema,
    date: isoDateSchema,
    promptLabel: labelSchema.default('production'),
    /** What the model is told the provider's absence is (as a run's reason). */
    reason: z.string().trim().min(1).max(200).default('unavailable'),
  })
  .strict();
export type PreviewInput = z.input<typeof previewInputSchema>;

export const previewOutcomeSchema = z.enum(['assign', 'ask_approval', 'waitlist', 'undecided']);

export const previewAppointmentSchema = z.object({
  appointment_id: z.string(),
  time: z.string(),
  specialty: z.string(),
  outcome: previewOutcomeSchema.describe(
    'assign: moved at once; ask_approval: a person would be asked (the provider is the one proposed); waitlist; undecided: the dry run left it',
  ),
  provider_id: z.string().nullable(),
  score: z.number().nullable(),
  band: z.string().nullable(),
  decided_by: z
    .enum(['prompt', 'code_fallback'])
    .nullable()
    .describe('the model, or the code-driven fallback after the model could not go on'),
  reason: z.string().nullable().describe('why it would go to the waitlist, or stay undecided'),
});

export const previewLlmSchema = z.object({
  calls: z.number().int(),
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  invalid_tool_calls: z.number().int(),
  model: z.string().nullable(),
  offline: z.boolean().nullable(),
  fallback_used: z.boolean(),
  fallback_reasons: z.array(z.string()),
});

export const previewResultSchema = z.object({
  provider_id: z.string(),
  date: z.string(),
  prompt: z.object({ name: z.string(), label: z.string(), version: z.number().int() }),
  appointments: z.array(previewAppointmentSchema),
  llm: previewLlmSchema,
  /** The Temporal workflow that ran the dry run (preview-…), readable in the Web UI. */
  workflow_id: z.string(),
  written: z.literal(false),
});
export type PreviewResult = z.infer<typeof previewResultSchema>;
export type PreviewAppointment = z.infer<typeof previewAppointmentSchema>;
