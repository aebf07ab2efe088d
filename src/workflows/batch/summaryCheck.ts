import type { z } from 'zod';
import type { batchSummarySchema, BatchOutcome } from '../contract/types';

/** The model's final answer: found in its reply, then checked against what the tools really did. Pure. */

export type BatchSummary = z.infer<typeof batchSummarySchema>;

/** The final answer may come bare or in a ```json fence. */
export function extractJson(text: string): unknown {
  const fenced = /```(?:json)?\s*([\s\S]*?)```/.exec(text);
  const body = (fenced ? fenced[1]! : text).trim();
  const start = body.indexOf('{');
  const end = body.lastIndexOf('}');
  if (start < 0 || end < start) throw new Error('no JSON object in the reply');
  return JSON.parse(body.slice(start, end + 1));
}

/** Where the model's summary disagrees with the tools' record, say so; the record is what counts. */
export function compareWithRecord(
  summary: BatchSummary,
  record: Pick<BatchOutcome, 'assignments' | 'waitlisted'>,
  batch: number,
  batchSize: number,
): string[] {
  const issues: string[] = [];
  const claimed = new Map(summary.assignments.map((a) => [a.appointment_id, a.new_provider_id]));
  const real = new Map(record.assignments.map((a) => [a.appointment_id, a.new_provider_id]));
  for (const [id, provider] of claimed) {
    if (real.get(id) !== provider)
      issues.push(
        `batch ${batch}: the model reported ${id} → ${provider}, the tools record ${real.has(id) ? `→ ${real.get(id)}` : 'no assignment'}`,
      );
  }
  for (const [id, provider] of real)
    if (!claimed.has(id)) issues.push(`batch ${batch}: the model left out the assignment ${id} → ${provider}`);
  const claimedWait = new Set(summary.waitlisted.map((w) => w.appointment_id));
  const realWait = new Set(record.waitlisted.map((w) => w.appointment_id));
  for (const id of claimedWait)
    if (!realWait.has(id))
      issues.push(`batch ${batch}: the model reported ${id} waitlisted, the tools record no waitlist entry`);
  for (const id of realWait)
    if (!claimedWait.has(id)) issues.push(`batch ${batch}: the model left out the waitlist entry ${id}`);
  if (summary.successful_assignments !== real.size)
    issues.push(
      `batch ${batch}: the model counted ${summary.successful_assignments} assignments, the tools record ${real.size}`,
    );
  if (summary.waitlist_entries !== realWait.size)
    issues.push(
      `batch ${batch}: the model counted ${summary.waitlist_entries} waitlist entries, the tools record ${realWait.size}`,
    );
  if (summary.total_affected !== batchSize)
    issues.push(`batch ${batch}: the model counted ${summary.total_affected} affected, the batch has ${batchSize}`);
  return issues;
}
