import path from 'node:path';
import { z } from 'zod';
import { faultListSchema } from './llm/faults';

/** Project root: config paths default to folders under it. */
export const projectRoot = path.resolve(__dirname, '..');

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const configSchema = z.object({
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'must look like host:port, e.g. 127.0.0.1:7233')
    .default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TASK_QUEUE: z.string().min(1).default('reassignment'),
  TEMPORAL_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  TEMPORAL_DB_PATH: z.string().default(path.join(projectRoot, 'data', 'temporal.db')),
  DB_PATH: z.string().default(path.join(projectRoot, 'data', 'scheduling.db')),
  PROMPTS_DIR: z.string().default(path.join(projectRoot, 'prompts')),
  PROMPT_LABEL: z.string().min(1).default('production'),
  OPENAI_BASE_URL: optionalString.pipe(z.url('must be a URL such as https://api.openai.com/v1').optional()),
  OPENAI_API_KEY: optionalString,
  LLM_MODEL: optionalString,
  LLM_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  /** The offline stand-in's simulated think time per reply (benchmarks); 0 answers at once. */
  OFFLINE_MODEL_LATENCY_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  /** Offline stand-in only: fault modes to serve (src/llm/faults.ts). */
  OFFLINE_MODEL_FAULTS: optionalString.pipe(
    z
      .string()
      .optional()
      .transform((text, ctx) => {
        if (text === undefined) return [];
        try {
          return faultListSchema.parse(JSON.parse(text));
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON list such as [{"mode":"rate_limit","times":2,"retry_after_s":1}] (modes: see src/llm/faults.ts)' });
          return z.NEVER;
        }
      }),
  ),
});

export type AppConfig = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

/** Reads and validates the configuration from the environment; throws ConfigError with one readable line. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`invalid configuration: ${issue.path.join('.')} ${issue.message}`);
  }
  return parsed.data;
}

/** True when no real endpoint is configured and the built-in offline stand-in model must be used. */
export function usesOfflineModel(config: AppConfig): boolean {
  return config.OPENAI_BASE_URL === undefined;
}
