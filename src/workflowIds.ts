/**
 * Workflow ids, chosen by the caller as Temporal recommends, and readable in the Web UI: the CLI, the demo,
 * the API, the benchmarks and the tests name runs with these functions, the parent names its batches with
 * them, and traces find a batch's run from its id. Pure: no clock (callers pass the time), no I/O.
 */

/** The workflow types of reassignment runs: the typed ones and the generic one (auto and shadow modes). */
export const REASSIGNMENT_TYPES = ['promptDrivenReassignment', 'codeDrivenReassignment', 'reassignment'];

/** The rollback guard's Temporal Schedule for a label (its runs are `<schedule id>-<time>`, named by Temporal). */
export const guardScheduleId = (label: string) => `rollback-guard-${label}`;

/** A guard run started by hand: `rollback-guard-<label>-run-<stamp>`. */
export const guardWorkflowId = (label: string, stamp: string) => `${guardScheduleId(label)}-run-${stamp}`;

/** The adaptation policy's Temporal Schedule for a label of scoring-strategy (its runs are `<schedule id>-<time>`). */
export const adaptScheduleId = (label: string) => `adaptation-policy-${label}`;

/** An adaptation policy run started by hand: `adaptation-policy-<label>-run-<stamp>`. */
export const adaptWorkflowId = (label: string, stamp: string) => `${adaptScheduleId(label)}-run-${stamp}`;

/** A UTC time as YYYYMMDDHHMMSSmmm: sortable, unique enough for ids started by hand. */
export function idStamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:.TZ]/g, '')
    .slice(0, 17);
}

/** `reassign-<provider>-<date>[-<tag>]-<stamp>`, e.g. reassign-T001-2025-11-21-prompt-20261125101500123. */
export function reassignmentWorkflowId(run: { providerId: string; date: string; tag?: string; stamp: string }): string {
  return ['reassign', run.providerId, run.date, ...(run.tag ? [run.tag] : []), run.stamp].join('-');
}

/** A batch's child workflow: `<run id>-batch-NNNN`. */
export function batchWorkflowId(runId: string, batch: number): string {
  return `${runId}-batch-${String(batch).padStart(4, '0')}`;
}

/** The run a workflow id belongs to: a batch's parent, or the id itself. */
export function runIdOf(workflowId: string): string {
  return workflowId.replace(/-batch-\d{4,}$/, '');
}

/**
 * A patient's follow-up: one per appointment and reassignment, `follow-up-<appointment>-<8 hex of the run's id>`
 * (an appointment id is no patient data). A re-offer run (`<follow-up id>-reoffer-<n>`) belongs to the follow-up
 * that started it, so its offer is followed by the same workflow.
 */
export function followUpWorkflowId(appointmentId: string, runId: string): string {
  const reoffer = /^(follow-up-.+)-reoffer-\d+$/.exec(runId);
  if (reoffer) return reoffer[1]!;
  let h = 0x811c9dc5;
  for (let i = 0; i < runId.length; i++) h = Math.imul(h ^ runId.charCodeAt(i), 0x01000193);
  return `follow-up-${appointmentId}-${(h >>> 0).toString(16).padStart(8, '0')}`;
}

/** `preview-<provider>-<date>-<suffix>` (8 random hex): no patient data, unique per request (previews are never deduplicated). */
export function previewWorkflowId(providerId: string, date: string, suffix: string): string {
  return `preview-${providerId}-${date}-${suffix}`;
}
