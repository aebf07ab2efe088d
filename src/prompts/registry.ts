import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import type { Policy } from '../domain/policy';
import { ErrorType } from '../errorTypes';
import { renderTemplate } from './render';
import {
  orchestratorConfigSchema,
  orchestratorFileSchema,
  scoringConfigSchema,
  scoringFileSchema,
  type OrchestratorConfig,
  type PinnedPrompt,
  type PromptBundle,
  type ScoringConfig,
} from './schema';
import { firstZodIssue } from '../zodIssue';

export const ORCHESTRATOR_PROMPT = 'healthcare-orchestrator';
export const SCORING_PROMPT = 'scoring-strategy';
export const PROMPT_NAMES = [ORCHESTRATOR_PROMPT, SCORING_PROMPT] as const;

/** The zod schema each prompt's config must pass, wherever the prompt comes from. */
export const promptConfigSchemas = {
  [ORCHESTRATOR_PROMPT]: orchestratorConfigSchema,
  [SCORING_PROMPT]: scoringConfigSchema,
} as const;

interface LocalPromptVersion {
  version: number;
  labels: string[];
  commit_message?: string;
  config: unknown;
  prompt: string;
}

/** A prompt that cannot be used: a missing file or label, a file that does not parse or validate. */
export class PromptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = ErrorType.prompt;
  }
}

export interface ResolvedPrompt<C> extends PinnedPrompt {
  text: string;
  config: C;
}

/** Where prompts live: local files (the embedded default) or Langfuse, behind one interface. */
export interface PromptRegistry {
  resolveOrchestrator(label: string): Promise<ResolvedPrompt<OrchestratorConfig>>;
  resolveScoring(label: string): Promise<ResolvedPrompt<ScoringConfig>>;
}

export function promptHash(text: string, config: unknown): string {
  return createHash('sha256').update(JSON.stringify({ text, config })).digest('hex').slice(0, 16);
}

/** Reads prompts/<name>.yaml: a list of versions, each with labels, a config and a text. */
export class LocalPromptRegistry implements PromptRegistry {
  constructor(readonly dir: string) {}

  resolveOrchestrator(label: string) {
    return Promise.resolve(this.resolve<OrchestratorConfig>(ORCHESTRATOR_PROMPT, label));
  }

  resolveScoring(label: string) {
    return Promise.resolve(this.resolve<ScoringConfig>(SCORING_PROMPT, label));
  }

  /** All versions of a prompt file, validated: what `prompts push` sends to Langfuse. */
  versions(name: string): LocalPromptVersion[] {
    const schema =
      name === ORCHESTRATOR_PROMPT ? orchestratorFileSchema : name === SCORING_PROMPT ? scoringFileSchema : undefined;
    if (!schema) throw new PromptError(`unknown prompt "${name}" (known: ${PROMPT_NAMES.join(', ')})`);
    const file = path.join(this.dir, `${name}.yaml`);
    let raw: string;
    try {
      raw = fs.readFileSync(file, 'utf8');
    } catch {
      throw new PromptError(`prompt file ${file} not found`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(raw);
    } catch (err) {
      throw new PromptError(`prompt file ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    const parsed = (schema as z.ZodType<{ name: string; versions: LocalPromptVersion[] }>).safeParse(doc);
    if (!parsed.success) {
      const { where, message } = firstZodIssue(parsed.error, '(top)');
      throw new PromptError(`prompt file ${file} is invalid at ${where}: ${message}`);
    }
    if (parsed.data.name !== name)
      throw new PromptError(`prompt file ${file} names itself "${parsed.data.name}", expected "${name}"`);
    return parsed.data.versions;
  }

  private resolve<C>(name: string, label: string): ResolvedPrompt<C> {
    const versions = this.versions(name);
    const chosen =
      label === 'latest'
        ? versions.reduce((a, b) => (b.version > a.version ? b : a))
        : versions.find((v) => v.labels.includes(label));
    if (!chosen) {
      const known = [...new Set(versions.flatMap((v) => v.labels)), 'latest'].join(', ');
      throw new PromptError(`prompt "${name}" has no version labelled "${label}" (labels: ${known})`);
    }
    return {
      name,
      version: chosen.version,
      label,
      source: 'local',
      hash: promptHash(chosen.prompt, chosen.config),
      text: chosen.prompt,
      config: chosen.config as C,
    };
  }
}

/**
 * Resolves both prompts for a label and renders the system prompt: done once per run, in an activity. A label
 * route (the store's label_routes) may send a prompt's label to another label: the pinned prompt then names the
 * label actually used, and the one asked for in `routed_from`.
 */
export async function resolvePromptBundle(
  registry: PromptRegistry,
  label: string,
  routes: { orchestrator?: string; scoring?: string } = {},
): Promise<PromptBundle> {
  const routed = async <C>(
    asked: string,
    to: string | undefined,
    resolve: (l: string) => Promise<ResolvedPrompt<C>>,
  ) => (to !== undefined && to !== asked ? { ...(await resolve(to)), routed_from: asked } : resolve(asked));
  const [orchestrator, scoring] = await Promise.all([
    routed(label, routes.orchestrator, (l) => registry.resolveOrchestrator(l)),
    routed(label, routes.scoring, (l) => registry.resolveScoring(l)),
  ]);
  const policy: Policy = {
    weights: scoring.config.weights,
    thresholds: orchestrator.config.thresholds,
    approval: orchestrator.config.approval,
  };
  let systemPrompt: string;
  try {
    const scoringText = renderTemplate(scoring.text, { ...scoring.config });
    systemPrompt = renderTemplate(orchestrator.text, {
      ...orchestrator.config,
      weights: scoring.config.weights,
      scoring_strategy: scoringText.trim(),
    });
  } catch (err) {
    throw new PromptError(`prompt "${orchestrator.name}" v${orchestrator.version}: ${(err as Error).message}`);
  }
  const pin = ({ text: _t, config: _c, ...p }: ResolvedPrompt<unknown>): PinnedPrompt => p;
  return { orchestrator: pin(orchestrator), scoring: pin(scoring), systemPrompt, config: orchestrator.config, policy };
}
