import { z } from 'zod';
import { approvalPolicySchema, thresholdsSchema, weightsSchema, type Policy } from '../domain/policy';
import { isToolName } from '../tools/catalog';
import { mcpServerConfigSchema, type PinnedMcpTools } from '../tools/mcpSource';

/** Prompt files and prompt configs, validated with zod. Pure: the workflow uses the types. */

export const labelSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,35}$/, 'labels are lower-case words such as production or staging');

/** The arm a run is in, as recorded in its memo, search attributes and result. */
export const armChoiceSchema = z.object({ experiment: z.string(), arm: z.string() });
export type ArmChoice = z.infer<typeof armChoiceSchema>;

const versionEntry = <C extends z.ZodType>(config: C) =>
  z
    .object({
      version: z.number().int().positive(),
      labels: z.array(labelSchema).default([]),
      commit_message: z.string().optional(),
      config,
      prompt: z.string().min(1),
    })
    .strict();

const promptFileSchema = <C extends z.ZodType>(config: C) =>
  z
    .object({
      name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
      description: z.string().optional(),
      versions: z.array(versionEntry(config)).min(1),
    })
    .strict()
    .superRefine((file, ctx) => {
      const seenVersions = new Set<number>();
      const seenLabels = new Map<string, number>();
      for (const v of file.versions) {
        if (seenVersions.has(v.version))
          ctx.addIssue({ code: 'custom', message: `version ${v.version} appears twice` });
        seenVersions.add(v.version);
        for (const l of v.labels) {
          if (l === 'latest')
            ctx.addIssue({ code: 'custom', message: '"latest" is automatic (the highest version): do not write it' });
          const other = seenLabels.get(l);
          if (other !== undefined)
            ctx.addIssue({
              code: 'custom',
              message: `label "${l}" is on versions ${other} and ${v.version}; a label names one version`,
            });
          seenLabels.set(l, v.version);
        }
      }
    });

export const orchestratorConfigSchema = z
  .object({
    model: z
      .object({
        name: z.string().min(1),
        temperature: z.number().min(0).max(2).default(0),
        max_tokens: z.number().int().positive().default(1024),
      })
      .strict(),
    thresholds: thresholdsSchema,
    approval: approvalPolicySchema,
    /** Appointments handled by one conversation: a small conversation keeps history and tokens bounded. */
    batch_size: z.number().int().min(1).max(50).default(10),
    max_parallel_batches: z.number().int().min(1).max(64).default(4),
    candidates_per_appointment: z.number().int().min(1).max(10).default(3),
    /** When the model cannot finish a batch (budget, unavailable, invalid output), the code-driven logic does. */
    fallback_to_code: z.boolean().default(true),
    /**
     * The tools offered to the model, when the prompt needs fewer than all of them: each schema is sent with
     * every LLM call, so tools the steps never use cost input tokens for nothing. Absent: every model tool.
     */
    tools: z
      .array(
        z
          .string()
          .refine((n) => isToolName(n) && n !== 'get_affected_appointments', 'is not a tool the model may call'),
      )
      .min(1)
      .optional(),
    /**
     * How the model is asked for tool calls. native: OpenAI `tools`. json_schema: one JSON object of tool calls
     * under a response_format schema narrowed to the turn (for models that follow a schema better than they call
     * tools). auto: native, and json_schema for the batch once the endpoint shows no tool support.
     */
    tool_calling: z.enum(['native', 'json_schema', 'auto']).default('native'),
    /** Tools the workflow calls for every appointment before the first turn, their results in the first message. */
    prefetch: z
      .array(z.enum(['find_candidates']))
      .max(1)
      .optional(),
    /** model: the model calls notify_patient; after_decision: the workflow tells the patient after each decision. */
    notify: z.enum(['model', 'after_decision']).default('model'),
    /**
     * MCP servers whose tools the model may call beside the catalog's (docs/mcp.md): listed once at the start of a
     * run and pinned, each call an activity of its own.
     */
    mcp_servers: z
      .array(mcpServerConfigSchema)
      .max(8)
      .refine((list) => new Set(list.map((s) => s.name)).size === list.length, 'each server needs its own name')
      .optional(),
    budgets: z
      .object({
        max_turns_per_batch: z.number().int().min(2).max(200).default(12),
        max_tokens_per_batch: z.number().int().min(1000).default(60_000),
        max_tool_errors_per_batch: z.number().int().min(0).default(8),
      })
      .strict()
      .default({ max_turns_per_batch: 12, max_tokens_per_batch: 60_000, max_tool_errors_per_batch: 8 }),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.notify === 'after_decision' && c.tools?.includes('notify_patient'))
      ctx.addIssue({
        code: 'custom',
        path: ['tools'],
        message: 'notify_patient is sent by the workflow (notify: after_decision): remove it from tools',
      });
  });
export type OrchestratorConfig = z.infer<typeof orchestratorConfigSchema>;

export const scoringConfigSchema = z.object({ weights: weightsSchema }).strict();
export type ScoringConfig = z.infer<typeof scoringConfigSchema>;

export const orchestratorFileSchema = promptFileSchema(orchestratorConfigSchema);
export const scoringFileSchema = promptFileSchema(scoringConfigSchema);

const promptSourceSchema = z.enum(['local', 'langfuse']);

/** One prompt resolved to an exact version: what a run pins for its whole life. */
export const pinnedPromptSchema = z.object({
  name: z.string(),
  version: z.number().int(),
  label: z.string(),
  source: promptSourceSchema,
  hash: z.string(),
  /** Set when Langfuse was asked but the local file was used instead: why (a fallback is not a Langfuse version). */
  fallback: z.string().optional(),
  /** The label the run asked for, when a label route sent it to `label` instead (docs/adaptation.md). */
  routed_from: z.string().optional(),
});
export type PinnedPrompt = z.infer<typeof pinnedPromptSchema>;

/** Everything a run needs from its prompts, resolved once and carried by the workflow. */
export interface PromptBundle {
  orchestrator: PinnedPrompt;
  scoring: PinnedPrompt;
  /** The system prompt, rendered from the orchestrator and scoring texts and their configs. */
  systemPrompt: string;
  config: OrchestratorConfig;
  policy: Policy;
  /** The A/B arm this run is in, when an experiment is configured. */
  experiment?: ArmChoice;
  /** When the run asked to be routed (mode auto): the rollout share, its bucket and the path it got. */
  rollout?: { share: number; bucket: number; path: 'prompt' | 'code' };
  /** The tools of the config's MCP servers, listed once at the start of the run (absent without mcp_servers). */
  mcp?: PinnedMcpTools;
}
