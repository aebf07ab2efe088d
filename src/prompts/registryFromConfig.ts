import type { AppConfig } from '../config';
import { createLangfuseClient } from '../langfuse/client';
import { FallbackPromptRegistry, LangfusePromptRegistry } from '../langfuse/promptRegistry';
import { LocalPromptRegistry, type PromptRegistry } from './registry';

/** Local files by default; with PROMPT_SOURCE=langfuse, Langfuse first and the local files when it fails. */
export function promptRegistryFor(config: AppConfig): PromptRegistry {
  const local = new LocalPromptRegistry(config.PROMPTS_DIR);
  if (config.PROMPT_SOURCE === 'local' || !config.langfuse) return local;
  const langfuse = new LangfusePromptRegistry(createLangfuseClient(config.langfuse), {
    cacheTtlSeconds: config.PROMPT_CACHE_TTL_SECONDS,
    fetchTimeoutMs: config.PROMPT_FETCH_TIMEOUT_MS,
  });
  return new FallbackPromptRegistry(langfuse, local);
}
