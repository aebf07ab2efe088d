import type { GuardMove } from '../workflows/guard/guardVerdict';
import { describeLangfuseError } from './client';
import { LANGFUSE_COMMIT_MESSAGE_LIMIT, type PromptOps } from './promptOps';

/**
 * The rollback guard's move in Langfuse, recorded where people look: the label goes to a new version that
 * copies the text and config of the version before, and that version's commit message says what moved, from
 * where, why and which guard run did it (`prompts list` shows it). A version the guard once moved away from
 * is never a target again. Idempotent: a retried activity finds its own commit message and does nothing more.
 */

/** A move that cannot be made as things stand (the label moved meanwhile, nothing to go back to): an answer, not a fault. */
export class GuardRefusal extends Error {}

const MOVE = /^rollback guard: \S+ v(\d+) → v(\d+) .*\[guard (\S+) from ([0-9a-f]+)\]$/s;

function recorded(v: { version: number; commitMessage?: string }, guardId?: string): GuardMove | undefined {
  const m = MOVE.exec(v.commitMessage ?? '');
  if (!m || (guardId !== undefined && m[3] !== guardId)) return undefined;
  return { from: Number(m[1]), to: Number(m[2]), version: v.version, commit_message: v.commitMessage! };
}

export async function rollBackRecorded(
  ops: PromptOps,
  o: { name: string; label: string; from: number; reason: string; guardId: string },
): Promise<GuardMove> {
  const all = await ops.versions(o.name);
  const already = all.map((v) => recorded(v, o.guardId)).find((m) => m !== undefined);
  if (already) return already;
  const current = all.find((v) => v.labels.includes(o.label));
  if (!current || current.version !== o.from)
    throw new GuardRefusal(
      `"${o.label}" of ${o.name} is on ${current ? `v${current.version}` : 'no version'} now, not v${o.from} as the guard read: nothing moved`,
    );
  const movedAway = new Set(all.map((v) => MOVE.exec(v.commitMessage ?? '')?.[4]).filter(Boolean));
  movedAway.add(current.hash);
  const target = all.filter((v) => v.version < current.version && !movedAway.has(v.hash)).pop();
  if (!target)
    throw new GuardRefusal(
      `no version of ${o.name} before v${current.version} to roll "${o.label}" back to (the guard moved away from the others)`,
    );
  const tail = ` [guard ${o.guardId} from ${current.hash}]`;
  const head = `rollback guard: ${o.label} v${current.version} → v${target.version} (copied as a new version) · `;
  const room = LANGFUSE_COMMIT_MESSAGE_LIMIT - head.length - tail.length;
  const commitMessage = head + (o.reason.length > room ? `${o.reason.slice(0, room - 1)}…` : o.reason) + tail;
  let created: { version: number };
  try {
    created = await ops.langfuse.prompt.create({
      name: o.name,
      type: 'text',
      prompt: target.text,
      config: target.config,
      labels: [o.label],
      commitMessage,
    });
  } catch (err) {
    // Langfuse did not answer or refused: the activity is retried (a retry finds a version it did create).
    throw new Error(`creating the rolled-back version of ${o.name} in Langfuse: ${describeLangfuseError(err)}`, {
      cause: err,
    });
  }
  return { from: current.version, to: target.version, version: created.version, commit_message: commitMessage };
}
