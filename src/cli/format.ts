import type { Progress, ReassignmentResult } from '../workflows/contract/types';

/** Human-readable renderings of a run's progress and result, for the CLI and the demo. */

export function formatProgress(p: Progress): string {
  const prompt = p.prompt ? ` · prompt ${p.prompt.name} v${p.prompt.version} (${p.prompt.label})` : '';
  const approvals =
    p.pending_approvals.length > 0
      ? ` · awaiting approval: ${p.pending_approvals.map((a) => `${a.appointment_id}→${a.provider_id} (score ${a.score})`).join(', ')}`
      : '';
  return `[${p.status}/${p.phase}] ${p.decided}/${p.total_affected} decided (${p.assigned} reassigned, ${p.waitlisted} waitlisted) · batches ${p.batches.done}/${p.batches.total} (${p.batches.running} running) · LLM calls ${p.llm_calls}${p.llm_attempts > p.llm_calls ? ` (${p.llm_attempts} attempts)` : ''}${prompt}${approvals}`;
}

/** prompt-driven, code-driven (routed by the rollout), or a shadow run and who wrote in it. */
function howDecided(r: ReassignmentResult): string {
  if (r.shadow) return `shadow run: ${r.shadow.writer}-driven wrote, ${r.shadow.shadow}-driven in a dry run beside it`;
  return `${r.mode}-driven${r.rollout ? ', routed by the rollout share' : ''}`;
}

export function formatResult(r: ReassignmentResult): string {
  const lines = [
    `Reassignment ${r.workflow_id} (${howDecided(r)}): ${r.status}`,
    `  provider ${r.provider_id} unavailable on ${r.date} (${r.reason})`,
    `  prompt   ${r.prompt.orchestrator.name} v${r.prompt.orchestrator.version} (${r.prompt.orchestrator.label}, ${r.prompt.orchestrator.source}, ${r.prompt.orchestrator.hash}) · ${r.prompt.scoring.name} v${r.prompt.scoring.version}` +
      (r.prompt.experiment ? ` · experiment ${r.prompt.experiment.experiment}, arm ${r.prompt.experiment.arm}` : ''),
    ...(r.rollout
      ? [
          `  rollout  ${r.rollout.path}-driven: bucket ${r.rollout.bucket.toFixed(3)} ${r.rollout.bucket < r.rollout.share ? '<' : '≥'} prompt share ${r.rollout.share}`,
        ]
      : []),
    ...[r.prompt.orchestrator, r.prompt.scoring].flatMap((p) =>
      p.fallback ? [`  fallback ${p.name}: local file used: ${p.fallback}`] : [],
    ),
    `  total_affected ${r.total_affected} · successful_assignments ${r.successful_assignments} · waitlist_entries ${r.waitlist_entries}${r.undecided.length ? ` · undecided ${r.undecided.length}` : ''}`,
  ];
  // Only in a prompt-driven run that fell back is "by code" news worth printing on every line.
  const by = (d: { decided_by?: string }) =>
    r.mode === 'prompt' && d.decided_by === 'code' ? ' [code-driven fallback]' : '';
  for (const a of r.assignments)
    lines.push(
      `  ✔ ${a.appointment_id} → ${a.new_provider_id}  score ${a.score}${a.band ? ` (${a.band})` : ''}${a.approved_by ? `, approved by ${a.approved_by}` : ''}${by(a)}`,
    );
  for (const w of r.waitlisted) lines.push(`  ⏸ ${w.appointment_id} waitlisted: ${w.reason}${by(w)}`);
  for (const u of r.undecided) lines.push(`  ? ${u.appointment_id} undecided: ${u.reason}`);
  for (const e of r.decided_elsewhere ?? []) lines.push(`  = ${e.appointment_id} decided by another run: ${e.detail}`);
  for (const f of r.fallbacks ?? []) {
    const what = [
      f.appointments.length ? `decided ${f.appointments.join(', ')}` : '',
      f.notified?.length ? `notified ${f.notified.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    lines.push(`  ↪ batch ${f.batch}: the code-driven fallback ${what}, because ${f.reason}`);
  }
  const a = r.approvals;
  if (a.requested > 0)
    lines.push(
      `  approvals: ${a.requested} requested, ${a.approved} approved, ${a.rejected} rejected, ${a.timed_out} timed out`,
    );
  if (r.shadow) {
    const s = r.shadow;
    lines.push(
      `  shadow: ${s.writer}-driven wrote, ${s.shadow}-driven decided beside it in a dry run · agreed on ${s.agreed}/${s.appointments} (${(s.agreement * 100).toFixed(1)}%)`,
    );
    for (const d of s.discrepancies) lines.push(`  ≠ ${d}`);
  }
  if (r.mode !== 'code') {
    lines.push(
      `  LLM: ${r.llm.model}${r.llm.offline ? ' (offline stand-in, not an LLM)' : ''} · ${r.llm.calls} calls (${r.llm.calls_per_appointment}/appointment)${r.llm.failed_attempts ? `, ${r.llm.failed_attempts} failed attempt(s) more` : ''}${r.llm.time_ms !== undefined ? `, ${(r.llm.time_ms / 1000).toFixed(1)} s waiting for the model` : ''} · ${r.llm.prompt_tokens} input + ${r.llm.completion_tokens} output tokens · ${r.llm.invalid_tool_calls} invalid tool calls`,
    );
  }
  lines.push(`  tool calls ${r.tool_calls} · batches ${r.batches} · workflow runs ${r.runs}`);
  for (const d of r.discrepancies) lines.push(`  ! ${d}`);
  return lines.join('\n');
}

/** What a run decided, appointment by appointment: the new provider, or "waitlist". */
export function decisionsOf(r: Pick<ReassignmentResult, 'assignments' | 'waitlisted'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of r.assignments) out[a.appointment_id] = a.new_provider_id;
  for (const w of r.waitlisted) out[w.appointment_id] = 'waitlist';
  return out;
}
