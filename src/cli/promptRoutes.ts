import type { AppConfig } from '../config';
import { targetOf } from '../db/open';
import { withSchedulingStore } from '../domain/store';
import { LocalPromptRegistry, PROMPT_NAMES, PromptError, promptHash } from '../prompts/registry';
import { formatMove, formatRoute } from './adapt';
import { UserError } from './session';

/**
 * What `prompts list` shows beside Langfuse's versions: the local files' versions (the embedded mode, where
 * Langfuse is absent) and the label routes of the scheduling database (docs/adaptation.md), each with its
 * last move.
 */

export function localVersionRows(
  config: AppConfig,
  name?: string,
): { name: string; version: number; labels: string[]; hash: string; commitMessage?: string }[] {
  const registry = new LocalPromptRegistry(config.PROMPTS_DIR);
  try {
    return (name ? [name] : [...PROMPT_NAMES]).flatMap((n) =>
      registry.versions(n).map((v) => ({
        name: n,
        version: v.version,
        labels: v.labels,
        hash: promptHash(v.prompt, v.config),
        ...(v.commit_message ? { commitMessage: v.commit_message } : {}),
      })),
    );
  } catch (err) {
    if (err instanceof PromptError) throw new UserError(err.message);
    throw err;
  }
}

export async function labelRouteLines(config: AppConfig, name?: string): Promise<string[]> {
  const lines = await withSchedulingStore(
    targetOf(config),
    async (store) => {
      const routes = await store.labelRoutes(name);
      if (routes.length === 0) return [];
      const out = ['label routes:'];
      for (const r of routes) {
        const last = (await store.labelRouteMoves(r.prompt, r.label, 1))[0];
        out.push(`  ${formatRoute(r, r.prompt, r.label)}`, ...(last ? [`    last move: ${formatMove(last)}`] : []));
      }
      return out;
    },
    config,
  );
  return lines ?? [];
}
