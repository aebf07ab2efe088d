import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { projectRoot } from '../config';

/**
 * The prompts a benchmark runs with: the repository's prompts, with the one change a bulk run needs (nobody
 * approves thousands of assignments by hand, so no band waits for a human) and optional overrides of the
 * batching config. The prompt text is untouched: what is measured is what production sends.
 */
interface BenchPromptOverrides {
  batch_size?: number;
  max_parallel_batches?: number;
}

interface PromptDoc {
  versions: { config: Record<string, unknown> & { approval?: Record<string, unknown> } }[];
}

export function benchPromptEdit(doc: PromptDoc, overrides: BenchPromptOverrides = {}): void {
  for (const v of doc.versions) {
    v.config.approval = { ...(v.config.approval ?? {}), bands: [] };
    if (overrides.batch_size !== undefined) v.config.batch_size = overrides.batch_size;
    if (overrides.max_parallel_batches !== undefined) v.config.max_parallel_batches = overrides.max_parallel_batches;
  }
}

/** Writes the bench prompts into dir (a copy); returns dir, for PROMPTS_DIR. */
export function writeBenchPrompts(dir: string, overrides: BenchPromptOverrides = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  const source = path.join(projectRoot, 'prompts');
  const orchestrator = parseYaml(
    fs.readFileSync(path.join(source, 'healthcare-orchestrator.yaml'), 'utf8'),
  ) as PromptDoc;
  benchPromptEdit(orchestrator, overrides);
  fs.writeFileSync(
    path.join(dir, 'healthcare-orchestrator.yaml'),
    stringifyYaml(orchestrator, { aliasDuplicateObjects: false }),
  );
  fs.copyFileSync(path.join(source, 'scoring-strategy.yaml'), path.join(dir, 'scoring-strategy.yaml'));
  return dir;
}

/** The batching config the bench's prompts end up with (label production). */
export function benchBatching(dir: string): { batch_size: number; max_parallel_batches: number } {
  const doc = parseYaml(fs.readFileSync(path.join(dir, 'healthcare-orchestrator.yaml'), 'utf8')) as {
    versions: { labels?: string[]; config: { batch_size: number; max_parallel_batches: number } }[];
  };
  const v = doc.versions.find((x) => x.labels?.includes('production')) ?? doc.versions[0]!;
  return { batch_size: v.config.batch_size, max_parallel_batches: v.config.max_parallel_batches };
}
