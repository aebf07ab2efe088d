import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { experimentSchema, type Experiment } from './prompts/experiment';
import { describeZodError } from './zodIssue';

/** Project root: config paths default to folders under it. */
export const projectRoot = path.resolve(__dirname, '..');

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** A price per 1,000 tokens, or nothing. */
const optionalPrice = optionalString.pipe(
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a price per 1,000 tokens such as 0.15')
    .transform(Number)
    .optional(),
);

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
  /**
   * The scheduling data in PostgreSQL (postgres://user:password@host:port/database), shared by several workers on
   * several hosts (docs/deployment.md). Unset: the SQLite file at DB_PATH.
   */
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(
        /^postgres(ql)?:\/\/[^\s]+$/,
        'must be a PostgreSQL URL such as postgres://user:password@host:5432/reassign',
      )
      .optional(),
  ),
  /** Connections each process keeps to PostgreSQL at most. */
  PG_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  /** A query that runs longer is cancelled by PostgreSQL (the activity that made it fails, and is retried). */
  PG_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  /** The name PostgreSQL shows for this process's connections (pg_stat_activity). */
  PG_APPLICATION_NAME: z.string().min(1).max(63).default('reassignment'),
  PROMPTS_DIR: z.string().default(path.join(projectRoot, 'prompts')),
  PROMPT_LABEL: z.string().min(1).default('production'),
  OPENAI_BASE_URL: optionalString.pipe(z.url('must be a URL such as https://api.openai.com/v1').optional()),
  OPENAI_API_KEY: optionalString,
  LLM_MODEL: optionalString,
  LLM_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  /** A hosted model's rate limits, kept by each worker: chat completions wait for room (src/llm/rateLimit.ts). */
  LLM_MAX_RPM: optionalString.pipe(
    z
      .string()
      .regex(/^[1-9]\d*$/, 'must be a whole number of requests per minute')
      .transform(Number)
      .optional(),
  ),
  LLM_MAX_TPM: optionalString.pipe(
    z
      .string()
      .regex(/^[1-9]\d*$/, 'must be a whole number of tokens per minute')
      .transform(Number)
      .optional(),
  ),
  /** The offline stand-in's simulated think time per reply (benchmarks); 0 answers at once. */
  OFFLINE_MODEL_LATENCY_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  /** Patients answer each new slot (docs/outcomes.md); off: they are told, and nothing follows. */
  PATIENT_FOLLOW_UP: z.enum(['on', 'off']).default('on'),
  /** How long a patient has to accept or decline a slot before it counts as no answer (fractions allowed). */
  PATIENT_RESPONSE_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 60)
    .default(48),
  /** How many times a declined or unanswered slot re-enters reassignment before the waitlist and an escalation. */
  MAX_OFFERS: z.coerce.number().int().min(0).max(10).default(2),
  /** How long after an accepted slot a satisfaction score is taken (fractions allowed). */
  SATISFACTION_WINDOW_DAYS: z.coerce.number().positive().max(365).default(30),
  /** A patient waitlisted this many days or fewer before the appointment (or after it) is escalated. */
  ESCALATE_WAITLIST_DAYS: z.coerce.number().int().min(0).max(365).default(3),
  /** Offline stand-in only: fault modes to serve, a JSON list (parsed and checked in src/llm/offline/faults.ts). */
  OFFLINE_MODEL_FAULTS: optionalString,
  /** The HTTP API and operator console (npm run api). With no API_KEYS it binds to loopback only, whatever API_HOST says. */
  API_HOST: z.string().min(1).default('0.0.0.0'),
  API_PORT: z.coerce.number().int().min(0).max(65535).default(8088),
  /** API keys and their roles: JSON or @file, e.g. [{"name":"alice","key":"...","role":"operator"}] (src/api/auth.ts). */
  API_KEYS: optionalString,
  /**
   * Host names the API answers to besides the loopback names and API_HOST (the Host header, without its port),
   * comma-separated, or * for any. A request for another name (DNS rebinding) gets a 421.
   */
  API_ALLOWED_HOSTS: optionalString,
  /** PEM files: with both set the API serves HTTPS only (src/api/main.ts). */
  API_TLS_CERT: optionalString,
  API_TLS_KEY: optionalString,
  /** Requests per minute per caller (API key, or address when none); 0 turns the limit off (benchmarks). */
  API_RATE_LIMIT: z.coerce.number().int().min(0).max(10_000_000).default(600),
  /** How long the API reuses a list it read (the runs, the approvals inbox); 0 reads anew for every request. */
  API_LIST_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  /** How long a preview (a dry run of the prompt-driven path, POST /api/preview, `preview`) may take before a 504. */
  PREVIEW_TIMEOUT_MS: z.coerce.number().int().min(1000).max(900_000).default(120_000),
  /** Failed authentications per address in 15 minutes before that address is refused (429) until the window passes. */
  API_AUTH_FAILURE_LIMIT: z.coerce.number().int().min(1).max(100_000).default(10),
  /** Where people open the Temporal Web UI (links in the API and console). */
  TEMPORAL_UI_URL: optionalString.pipe(z.url('must be a URL such as http://localhost:8233').optional()),
  /**
   * Runs of the generic workflow with mode auto: this share goes prompt-driven, the rest code-driven, by a hash
   * of the workflow id (the same id always gets the same path). Unset: all prompt-driven.
   */
  ROLLOUT_PROMPT_SHARE: optionalString.pipe(
    z
      .string()
      .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'must be a share between 0 and 1, such as 0.2')
      .transform(Number)
      .optional(),
  ),
  /** Where `eval` writes its reports; `prompts promote` reads the last one of a version here. */
  EVAL_DIR: z.string().default(path.join(projectRoot, 'data', 'evals')),
  /** The agreement with the code-driven oracle a prompt version needs before `prompts promote` moves a label to it. */
  EVAL_MIN_AGREEMENT: z.coerce.number().min(0).max(1).default(0.95),
  PROMPT_SOURCE: z.enum(['local', 'langfuse']).default('local'),
  LANGFUSE_BASE_URL: optionalString.pipe(z.url('must be a URL such as https://cloud.langfuse.com').optional()),
  LANGFUSE_PUBLIC_KEY: optionalString,
  LANGFUSE_SECRET_KEY: optionalString,
  /** 0 = ask Langfuse on every run (one GET per prompt and run); above 0 the SDK may serve a label's old version that long. */
  PROMPT_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).default(0),
  PROMPT_FETCH_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  /** Unset: on when Langfuse is configured (URL and keys), off otherwise. */
  LANGFUSE_TRACING: optionalString.pipe(z.enum(['on', 'off']).optional()),
  TRACE_MASKING: z.enum(['on', 'off']).default('on'),
  /** The key of the patient id pseudonyms in traces (HMAC-SHA256): base64 of 32 bytes, or @file; unset: PATIENT_ID_KEY_FILE. */
  PATIENT_ID_HMAC_KEY: optionalString,
  /** The local pseudonym key, used when PATIENT_ID_HMAC_KEY is unset; created (mode 0600) on first use. */
  PATIENT_ID_KEY_FILE: z.string().default(path.join(projectRoot, 'data', 'patient-id-key')),
  /** An A/B experiment: JSON, or @path/to/file.json. */
  PROMPT_EXPERIMENT: optionalString,
  /**
   * Prices of 1,000 input and output tokens, for traces and the report. Unset: no cost is sent, so Langfuse
   * prices each generation by its model; the offline stand-in always costs 0. LLM_COST_PER_1K_TOKENS sets both.
   */
  /**
   * Payload encryption (src/temporal/codec/): every payload Temporal stores (inputs, results, memo, queries,
   * failures, activity summaries) is AES-256-GCM ciphertext. `off` encrypts nothing new, with a warning (a keyring,
   * if there is one, still decrypts what was encrypted before).
   */
  PAYLOAD_ENCRYPTION: z.enum(['on', 'off']).default('on'),
  /** The keyring: JSON or @file, {"current":"k2","keys":{"k1":"<base64, 32 bytes>","k2":"..."}}; unset: PAYLOAD_KEY_FILE. */
  PAYLOAD_KEYS: optionalString,
  /** The local keyring used when PAYLOAD_KEYS is unset; created (mode 0600) with one new key on first use. */
  PAYLOAD_KEY_FILE: z.string().default(path.join(projectRoot, 'data', 'payload-keys.json')),
  /** The codec server (npm run codec-server) that the Web UI and the Temporal CLI decode through. */
  CODEC_HOST: z.string().min(1).default('0.0.0.0'),
  CODEC_PORT: z.coerce.number().int().min(0).max(65535).default(8089),
  LLM_COST_PER_1K_INPUT_TOKENS: optionalPrice,
  LLM_COST_PER_1K_OUTPUT_TOKENS: optionalPrice,
  LLM_COST_PER_1K_TOKENS: optionalPrice,
});

export type AppConfig = Omit<z.infer<typeof configSchema>, 'PROMPT_EXPERIMENT'> & {
  PROMPT_EXPERIMENT?: Experiment;
  /** Langfuse connection, when URL and both keys are set. */
  langfuse?: { baseUrl: string; publicKey: string; secretKey: string };
  tracing: boolean;
  /** Token prices per 1,000, when the user configured them (both, or one with the other 0). */
  prices?: TokenPrices;
};

export interface TokenPrices {
  inputPer1k: number;
  outputPer1k: number;
}

export class ConfigError extends Error {}

/** Reads and validates the configuration from the environment; throws ConfigError with one readable line. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration: ${describeZodError(parsed.error, '(environment)')}`);
  }
  const { PROMPT_EXPERIMENT: rawExperiment, ...rest } = parsed.data;
  const { LANGFUSE_BASE_URL: baseUrl, LANGFUSE_PUBLIC_KEY: publicKey, LANGFUSE_SECRET_KEY: secretKey } = rest;
  const langfuse = baseUrl && publicKey && secretKey ? { baseUrl, publicKey, secretKey } : undefined;
  if (rest.PROMPT_SOURCE === 'langfuse' && !langfuse) {
    throw new ConfigError(
      'invalid configuration: PROMPT_SOURCE=langfuse needs LANGFUSE_BASE_URL, LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY',
    );
  }
  if (rest.LANGFUSE_TRACING === 'on' && !langfuse) {
    throw new ConfigError(
      'invalid configuration: LANGFUSE_TRACING=on needs LANGFUSE_BASE_URL, LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY',
    );
  }
  return {
    ...rest,
    PROMPT_EXPERIMENT: parseExperiment(rawExperiment),
    langfuse,
    tracing: langfuse !== undefined && rest.LANGFUSE_TRACING !== 'off',
    prices: pricesOf(rest),
  };
}

/**
 * A setting holding JSON, or `@path` to a JSON file, checked with its schema. Every failure is one line naming the
 * setting (and the file): it cannot be read, it is not JSON (with an example), or what the schema refuses.
 */
export function parseJsonSetting<T>(
  name: string,
  raw: string,
  schema: z.ZodType<T>,
  example: string,
  subject: string,
): T {
  let text = raw;
  if (raw.startsWith('@')) {
    try {
      text = fs.readFileSync(raw.slice(1), 'utf8');
    } catch {
      throw new ConfigError(`invalid configuration: ${name} file ${raw.slice(1)} cannot be read`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`invalid configuration: ${name} is not JSON, e.g. ${example}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new ConfigError(`invalid configuration: ${name} ${describeZodError(parsed.error, subject)}`);
  return parsed.data;
}

function parseExperiment(raw: string | undefined): Experiment | undefined {
  if (raw === undefined) return undefined;
  return parseJsonSetting(
    'PROMPT_EXPERIMENT',
    raw,
    experimentSchema,
    '{"name":"exp1","arms":[{"label":"production","share":0.5},{"label":"candidate","share":0.5}]}',
    '(experiment)',
  );
}

function pricesOf(c: {
  LLM_COST_PER_1K_INPUT_TOKENS?: number;
  LLM_COST_PER_1K_OUTPUT_TOKENS?: number;
  LLM_COST_PER_1K_TOKENS?: number;
}): TokenPrices | undefined {
  const input = c.LLM_COST_PER_1K_INPUT_TOKENS ?? c.LLM_COST_PER_1K_TOKENS;
  const output = c.LLM_COST_PER_1K_OUTPUT_TOKENS ?? c.LLM_COST_PER_1K_TOKENS;
  if (input === undefined && output === undefined) return undefined;
  return { inputPer1k: input ?? 0, outputPer1k: output ?? 0 };
}

/** True when no real endpoint is configured and the built-in offline stand-in model must be used. */
export function usesOfflineModel(config: AppConfig): boolean {
  return config.OPENAI_BASE_URL === undefined;
}
