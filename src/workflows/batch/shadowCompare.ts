import type { BatchOutcome, Mode, ShadowEntry } from '../contract/types';

/**
 * A shadow run's verdict, appointment by appointment: what the writer did against what the shadow would have
 * done, and each way they differ (another provider, assigned against waitlisted, an approval asked by one
 * only, decided by one only). Pure.
 */

/** A shadow run's two paths: the writer (code-driven unless the input says otherwise) and the other one. */
export function shadowPaths(writer: Mode | undefined): { writer: Mode; shadow: Mode } {
  const w = writer ?? 'code';
  return { writer: w, shadow: w === 'code' ? 'prompt' : 'code' };
}

type Decisions = Pick<BatchOutcome, 'assignments' | 'waitlisted' | 'decided_elsewhere'>;

function decisionOf(o: Decisions, id: string): string {
  const a = o.assignments.find((x) => x.appointment_id === id);
  if (a) return a.new_provider_id;
  if (o.waitlisted.some((x) => x.appointment_id === id)) return 'waitlist';
  if ((o.decided_elsewhere ?? []).some((x) => x.appointment_id === id)) return 'elsewhere';
  return 'undecided';
}

const isProvider = (d: string) => !['waitlist', 'undecided', 'elsewhere'].includes(d);

export function compareShadow(
  appointments: string[],
  writer: { outcome: Decisions; asked: string[] },
  shadow: { outcome: Decisions; asked: string[] },
): ShadowEntry[] {
  return appointments.map((id) => {
    const w = decisionOf(writer.outcome, id);
    const s = decisionOf(shadow.outcome, id);
    const wAsked = writer.asked.includes(id);
    const sAsked = shadow.asked.includes(id);
    const differences: ShadowEntry['differences'] = [];
    if (isProvider(w) && isProvider(s) && w !== s) differences.push('provider differs');
    if ((isProvider(w) && s === 'waitlist') || (w === 'waitlist' && isProvider(s)))
      differences.push('assign vs waitlist');
    if ((w === 'undecided') !== (s === 'undecided')) differences.push('decided vs not');
    if (wAsked !== sAsked) differences.push('approval asked vs not');
    return {
      appointment_id: id,
      writer: w,
      shadow: s,
      writer_asked_approval: wAsked,
      shadow_asked_approval: sAsked,
      agree: differences.length === 0 && w === s,
      differences,
    };
  });
}

/** One line per disagreement, for the result. */
export function describeDisagreement(e: ShadowEntry, writer: string, shadow: string): string {
  const asked = (yes: boolean) => (yes ? ' (approval asked)' : '');
  return `${e.appointment_id}: ${writer}-driven ${e.writer}${asked(e.writer_asked_approval)}, ${shadow}-driven shadow ${e.shadow}${asked(e.shadow_asked_approval)} · ${e.differences.join(', ') || 'differs'}`;
}
