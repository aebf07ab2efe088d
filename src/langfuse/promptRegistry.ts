import type { LangfuseClient } from '@langfuse/client';
import { describeLangfuseError, langfuseStatus } from './client';
import {
  ORCHESTRATOR_PROMPT,
  PromptError,
  promptConfigSchemas,
  promptHash,
  SCORING_PROMPT,
  type PromptRegistry,
  type ResolvedPrompt,
} from '../prompts/registry';
import type { OrchestratorConfig, ScoringConfig } from '../prompts/schema';
import { firstZodIssue } from '../zodIssue';

/**
 * Prompts from Langfuse: text prompts whose `config` is the same object as the YAML version's config,
 * validated with the same zod schemas. Resolution happens in an activity once per run; the workflow pins it.
 */

type PromptSelector = { label: string } | { version: number };

interface LangfuseRegistryOptions {
  /** 0 fetches on every call; above 0 the SDK serves its cache (and a stale copy while it refreshes). */
  cacheTtlSeconds: number;
  fetchTimeoutMs: number;
}

/** Langfuse is unreachable, or does not have the prompt: the caller may fall back to the local file. */
class PromptUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromptUnavailable';
  }
}

export class LangfusePromptRegistry implements PromptRegistry {
  constructor(
    readonly langfuse: LangfuseClient,
    readonly options: LangfuseRegistryOptions,
  ) {}

  resolveOrchestrator(label: string) {
    return this.get(ORCHESTRATOR_PROMPT, { label }) as Promise<ResolvedPrompt<OrchestratorConfig>>;
  }

  resolveScoring(label: string) {
    return this.get(SCORING_PROMPT, { label }) as Promise<ResolvedPrompt<ScoringConfig>>;
  }

  /** One prompt by label or exact version, validated. */
  async get(name: keyof typeof promptConfigSchemas, selector: PromptSelector): Promise<ResolvedPrompt<unknown>> {
    const what = 'label' in selector ? `label "${selector.label}"` : `version ${selector.version}`;
    let fetched;
    try {
      fetched = await this.langfuse.prompt.get(name, {
        ...selector,
        type: 'text',
        cacheTtlSeconds: this.options.cacheTtlSeconds,
        fetchTimeoutMs: this.options.fetchTimeoutMs,
        // One quick retry at most: the activity's own retry policy and the local fallback do the rest.
        maxRetries: 1,
      });
    } catch (err) {
      const status = langfuseStatus(err);
      if (status === 401 || status === 403)
        throw new PromptError(
          `Langfuse refused the credentials (HTTP ${status}): check LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY`,
        );
      if (status === 404) throw new PromptUnavailable(`Langfuse has no prompt "${name}" with ${what}`);
      throw new PromptUnavailable(`Langfuse unreachable at ${what} of "${name}": ${describeLangfuseError(err)}`);
    }
    if (typeof fetched.prompt !== 'string')
      throw new PromptError(
        `Langfuse prompt "${name}" v${fetched.version} is a chat prompt; a text prompt is expected`,
      );
    const parsed = promptConfigSchemas[name].safeParse(fetched.config ?? {});
    if (!parsed.success) {
      const { where, message } = firstZodIssue(parsed.error, '(config)');
      throw new PromptError(
        `Langfuse prompt "${name}" v${fetched.version} has an invalid config at ${where}: ${message}`,
      );
    }
    const label = 'label' in selector ? selector.label : `v${selector.version}`;
    return {
      name,
      version: fetched.version,
      label,
      source: 'langfuse',
      hash: promptHash(fetched.prompt, parsed.data),
      text: fetched.prompt,
      config: parsed.data,
    };
  }
}

/**
 * Langfuse first; when it is unreachable or lacks the prompt, the local file, marked as a fallback with the
 * reason. A prompt that Langfuse has but that does not validate is refused, never silently replaced.
 */
export class FallbackPromptRegistry implements PromptRegistry {
  constructor(
    readonly primary: PromptRegistry,
    readonly local: PromptRegistry,
    readonly onFallback: (reason: string) => void = () => undefined,
  ) {}

  resolveOrchestrator(label: string) {
    return this.withFallback(
      () => this.primary.resolveOrchestrator(label),
      () => this.local.resolveOrchestrator(label),
    );
  }

  resolveScoring(label: string) {
    return this.withFallback(
      () => this.primary.resolveScoring(label),
      () => this.local.resolveScoring(label),
    );
  }

  private async withFallback<T extends ResolvedPrompt<unknown>>(
    primary: () => Promise<T>,
    local: () => Promise<T>,
  ): Promise<T> {
    try {
      return await primary();
    } catch (err) {
      if (!(err instanceof PromptUnavailable)) throw err;
      this.onFallback(err.message);
      const resolved = await local();
      return { ...resolved, source: 'local', fallback: err.message };
    }
  }
}
