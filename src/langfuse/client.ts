import { LangfuseClient } from '@langfuse/client';
import { configureGlobalLogger, LogLevel } from '@langfuse/core';

/** Langfuse connection settings, from config (LANGFUSE_BASE_URL, LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY). */
export interface LangfuseConnection {
  baseUrl: string;
  publicKey: string;
  secretKey: string;
}

/** One client per process: the prompt cache lives in it. Keys are passed explicitly, never read from env by the SDK. */
export function createLangfuseClient(connection: LangfuseConnection, timeoutSeconds = 10): LangfuseClient {
  return new LangfuseClient({
    baseUrl: connection.baseUrl,
    publicKey: connection.publicKey,
    secretKey: connection.secretKey,
    timeout: timeoutSeconds,
  });
}

/** The HTTP status of an error thrown by the Langfuse API client, if it got an answer at all. */
export function langfuseStatus(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** A short reason for a failed Langfuse call, for a result, a memo or a log line. */
export function describeLangfuseError(err: unknown): string {
  const status = langfuseStatus(err);
  const body = (err as { body?: { message?: unknown } } | null)?.body;
  const detail =
    typeof body?.message === 'string' ? body.message : ((err as Error)?.message?.split('\n')[0] ?? String(err));
  return status !== undefined ? `HTTP ${status}: ${detail}` : detail;
}

/**
 * The SDK's own console logger, from our LOG_LEVEL. At ERROR it is silenced: the SDK logs an expected local
 * fallback as an error with a stack trace, and our activities already log the fallback and any lost trace.
 */
export function configureLangfuseLogging(level: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR'): void {
  const map = {
    TRACE: LogLevel.DEBUG,
    DEBUG: LogLevel.DEBUG,
    INFO: LogLevel.WARN,
    WARN: LogLevel.WARN,
    ERROR: LogLevel.NONE,
  } as const;
  configureGlobalLogger({ level: map[level] });
}
