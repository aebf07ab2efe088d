import type { LangfuseClient } from '@langfuse/client';
import { LocalPromptRegistry, PROMPT_NAMES, PromptError, promptConfigSchemas, promptHash } from '../prompts/registry';
import { labelSchema } from '../prompts/schema';
import { describeLangfuseError, langfuseStatus } from './client';
import { lineDiff } from './lineDiff';
import { firstZodIssue } from '../zodIssue';

/**
 * Prompt operations against Langfuse through @langfuse/client: push the local files as new versions, list,
 * promote, roll back, diff. Each checks its input before writing anything; a problem is a PromptOpError
 * with one readable line.
 */

class PromptOpError extends Error {}

interface VersionRow {
  name: string;
  version: number;
  labels: string[];
  hash: string;
  commitMessage?: string;
}

type PromptName = (typeof PROMPT_NAMES)[number];

function checkName(name: string): PromptName {
  if (!(PROMPT_NAMES as readonly string[]).includes(name))
    throw new PromptOpError(`unknown prompt "${name}" (known: ${PROMPT_NAMES.join(', ')})`);
  return name as PromptName;
}

function checkLabel(label: string): string {
  const parsed = labelSchema.safeParse(label);
  if (!parsed.success) throw new PromptOpError(`label "${label}": ${firstZodIssue(parsed.error, 'label').message}`);
  if (label === 'latest')
    throw new PromptOpError('"latest" is automatic in Langfuse (the newest version): it cannot be moved');
  return label;
}

function checkVersion(raw: string | number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new PromptOpError(`version "${raw}" must be a positive whole number`);
  return n;
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PromptOpError) throw err;
    throw new PromptOpError(`${what}: ${describeLangfuseError(err)}`);
  }
}

/** Langfuse's limit on a prompt version's commit message (its API refuses longer ones). */
export const LANGFUSE_COMMIT_MESSAGE_LIMIT = 500;

/** The commit message a pushed version gets: the local message, the local version and the hash. */
function commitMessage(v: { version: number; commit_message?: string; prompt: string; config: unknown }): string {
  return `${v.commit_message ?? 'pushed from prompts/'} (local v${v.version}, ${promptHash(v.prompt, v.config)})`;
}

export class PromptOps {
  constructor(readonly langfuse: LangfuseClient) {}

  /** Every version of a prompt, oldest first; empty when Langfuse does not know the name. */
  async versions(name: string): Promise<(VersionRow & { text: string; config: unknown })[]> {
    const checked = checkName(name);
    const meta = await call('listing prompts in Langfuse', () =>
      this.langfuse.api.prompts.list({ name: checked, limit: 50 }),
    );
    const numbers = [...new Set(meta.data.filter((m) => m.name === checked).flatMap((m) => m.versions))].sort(
      (a, b) => a - b,
    );
    return Promise.all(numbers.map((v) => this.version(checked, v)));
  }

  async version(name: string, version: number): Promise<VersionRow & { text: string; config: unknown }> {
    const checked = checkName(name);
    const p = await call(`reading ${checked} v${version} from Langfuse`, async () => {
      try {
        return await this.langfuse.prompt.get(checked, { version, type: 'text', cacheTtlSeconds: 0, maxRetries: 1 });
      } catch (err) {
        if (langfuseStatus(err) === 404) throw new PromptOpError(`Langfuse has no version ${version} of "${checked}"`);
        throw err;
      }
    });
    const text = typeof p.prompt === 'string' ? p.prompt : JSON.stringify(p.prompt);
    const parsed = promptConfigSchemas[checked].safeParse(p.config ?? {});
    const hash = promptHash(text, parsed.success ? parsed.data : p.config);
    return {
      name: checked,
      version: p.version,
      labels: p.labels,
      hash,
      text,
      config: p.config,
      ...(p.commitMessage ? { commitMessage: p.commitMessage } : {}),
    };
  }

  async list(name?: string): Promise<VersionRow[]> {
    const names = name ? [checkName(name)] : PROMPT_NAMES;
    const rows = await Promise.all(names.map((n) => this.versions(n)));
    return rows.flat().map(({ text: _t, config: _c, ...row }) => row);
  }

  /**
   * Each local version whose text and config Langfuse does not hold yet (compared by hash) becomes a new
   * Langfuse version, oldest first, with its labels (which then move to it). Every file is validated first.
   */
  async push(dir: string): Promise<{ name: string; localVersion: number; version: number; labels: string[] }[]> {
    const local = new LocalPromptRegistry(dir);
    const files = PROMPT_NAMES.map((name) => {
      try {
        return { name, versions: [...local.versions(name)].sort((a, b) => a.version - b.version) };
      } catch (err) {
        if (err instanceof PromptError) throw new PromptOpError(err.message);
        throw err;
      }
    });
    // Every commit message is checked before anything is written: Langfuse refuses one over its limit.
    for (const file of files)
      for (const v of file.versions) {
        const length = commitMessage(v).length;
        if (length > LANGFUSE_COMMIT_MESSAGE_LIMIT)
          throw new PromptOpError(
            `the commit_message of ${file.name} v${v.version} makes a ${length}-character commit message with the local version and hash; Langfuse takes at most ${LANGFUSE_COMMIT_MESSAGE_LIMIT}: shorten it by ${length - LANGFUSE_COMMIT_MESSAGE_LIMIT}`,
          );
      }
    const pushed: { name: string; localVersion: number; version: number; labels: string[] }[] = [];
    for (const file of files) {
      const known = new Set((await this.versions(file.name)).map((v) => v.hash));
      for (const v of file.versions) {
        const hash = promptHash(v.prompt, v.config);
        if (known.has(hash)) continue;
        const created = await call(`creating a version of ${file.name} in Langfuse`, () =>
          this.langfuse.prompt.create({
            name: file.name,
            type: 'text',
            prompt: v.prompt,
            config: v.config,
            labels: v.labels,
            commitMessage: commitMessage(v),
          }),
        );
        known.add(hash);
        pushed.push({ name: file.name, localVersion: v.version, version: created.version, labels: v.labels });
      }
    }
    return pushed;
  }

  /** Moves a label to a version (Langfuse takes it from the version that had it). */
  /** Checks a promotion without writing anything: the prompt, the version and the label, and where it is now. */
  async promotion(
    name: string,
    rawVersion: string | number,
    rawLabel: string,
  ): Promise<{ name: PromptName; target: VersionRow; label: string; from?: number }> {
    const checked = checkName(name);
    const version = checkVersion(rawVersion);
    const label = checkLabel(rawLabel);
    const all = await this.versions(checked);
    const target = all.find((v) => v.version === version);
    if (!target)
      throw new PromptOpError(
        `Langfuse has no version ${version} of "${checked}" (versions: ${all.map((v) => v.version).join(', ') || 'none'})`,
      );
    const from = all.find((v) => v.labels.includes(label))?.version;
    return { name: checked, target, label, ...(from !== undefined ? { from } : {}) };
  }

  async promote(
    name: string,
    rawVersion: string | number,
    rawLabel: string,
  ): Promise<{ name: string; version: number; label: string; from?: number }> {
    const { name: checked, target, label, from } = await this.promotion(name, rawVersion, rawLabel);
    const version = target.version;
    await call(`moving label ${label} in Langfuse`, () =>
      this.langfuse.prompt.update({ name: checked, version, newLabels: [label] }),
    );
    return { name: checked, version, label, ...(from !== undefined ? { from } : {}) };
  }

  /**
   * Moves a label back: to --to, or else to the highest version below the one carrying it now. Langfuse's
   * public API keeps no history of where a label was, so "the version before" is the nearest lower one.
   */
  async rollback(
    name: string,
    rawLabel: string,
    to?: string | number,
  ): Promise<{ name: string; label: string; from: number; version: number }> {
    const checked = checkName(name);
    const label = checkLabel(rawLabel);
    const target = to === undefined ? undefined : checkVersion(to);
    const all = await this.versions(checked);
    const current = all.find((v) => v.labels.includes(label));
    if (!current) throw new PromptOpError(`no version of "${checked}" carries the label "${label}"`);
    const version = target ?? all.filter((v) => v.version < current.version).pop()?.version;
    if (version === undefined)
      throw new PromptOpError(
        `"${label}" is on v${current.version}, the oldest version of "${checked}": nothing to roll back to`,
      );
    if (!all.some((v) => v.version === version))
      throw new PromptOpError(`Langfuse has no version ${version} of "${checked}"`);
    if (version === current.version) throw new PromptOpError(`"${label}" is already on v${version} of "${checked}"`);
    await call(`moving label ${label} in Langfuse`, () =>
      this.langfuse.prompt.update({ name: checked, version, newLabels: [label] }),
    );
    return { name: checked, label, from: current.version, version };
  }

  /** A line diff of two versions' text and config (config as indented JSON, keys sorted). */
  async diff(name: string, v1: string | number, v2: string | number): Promise<string> {
    const checked = checkName(name);
    const [a, b] = await Promise.all([
      this.version(checked, checkVersion(v1)),
      this.version(checked, checkVersion(v2)),
    ]);
    const lines = (p: { text: string; config: unknown }) => [
      ...p.text.trimEnd().split('\n'),
      '--- config ---',
      ...JSON.stringify(sortKeys(p.config), null, 2).split('\n'),
    ];
    const header = [
      `--- ${checked} v${a.version} [${a.labels.join(', ')}] ${a.hash}`,
      `+++ ${checked} v${b.version} [${b.labels.join(', ')}] ${b.hash}`,
    ];
    const body = lineDiff(lines(a), lines(b));
    return [...header, ...(body.some((l) => !l.startsWith(' ')) ? body : ['(same text and config)'])].join('\n');
  }
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  return value;
}
