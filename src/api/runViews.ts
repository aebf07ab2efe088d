import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { z } from 'zod';
import type { AppConfig } from '../config';
import { targetOf } from '../db/open';
import { withSchedulingStore } from '../domain/store';
import { describeError } from '../errors';
import { DecisionRefused } from '../temporal/approvalDecision';
import { REASSIGNMENT_TYPES } from '../workflowIds';
import { progressQuery } from '../workflows/contract/signals';
import type { Progress, ReassignmentResult } from '../workflows/contract/types';
import type { LiveDecisions } from './liveProgress';
import type { runDetailSchema } from './schemas';

/**
 * How the API reads runs from Temporal: listed through visibility (src/temporal/runList.ts) with links, described,
 * queried while running, their result once finished; and how Temporal's errors become HTTP answers.
 */

/** A refusal with its HTTP status and one line for the caller. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function uiBase(config: AppConfig): string {
  return config.TEMPORAL_UI_URL ?? `http://localhost:${config.TEMPORAL_UI_PORT}`;
}

export function linksOf(config: AppConfig, workflowId: string) {
  const id = encodeURIComponent(workflowId);
  return {
    self: `/api/reassignments/${id}`,
    events: `/api/reassignments/${id}/events`,
    temporal_ui: `${uiBase(config)}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${id}`,
  };
}

/** Temporal's errors as HTTP answers: unknown run 404, refused decision 409, anything else passes on. */
export function fromTemporal(err: unknown, workflowId: string): never {
  if (err instanceof DecisionRefused) throw new ApiError(409, err.message);
  if (err instanceof WorkflowNotFoundError || (err as { name?: string })?.name === 'WorkflowNotFoundError')
    throw new ApiError(404, `no reassignment with workflow id ${workflowId}`);
  const text = describeError(err);
  if (/already completed|workflow execution already completed/i.test(text))
    throw new ApiError(409, `${workflowId} has finished: it awaits no decision`);
  throw err;
}

/** The model's stated reasons are free text that may name a patient: shown with patient data only. */
export function withoutRationale(progress: Progress): Progress {
  return { ...progress, pending_approvals: progress.pending_approvals.map(({ rationale: _r, ...p }) => p) };
}

/** Describes a run, or refuses: 404 for an unknown id and for the id of anything but a reassignment (a batch's, say). */
export async function describeReassignment(client: Client, workflowId: string) {
  const described = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch((err: unknown) => fromTemporal(err, workflowId));
  if (!REASSIGNMENT_TYPES.includes(described.type)) throw new ApiError(404, `${workflowId} is not a reassignment`);
  return described;
}

/** A run now: its progress while it runs, its result (or why it failed) once it is over. */
export async function detailOf(
  client: Client,
  config: AppConfig,
  workflowId: string,
  withPatients: boolean,
  live?: LiveDecisions,
): Promise<Omit<z.infer<typeof runDetailSchema>, 'started_by'>> {
  const handle = client.workflow.getHandle(workflowId);
  let status: string;
  try {
    const described = await handle.describe();
    if (!REASSIGNMENT_TYPES.includes(described.type)) throw new ApiError(404, `${workflowId} is not a reassignment`);
    status = described.status.name;
  } catch (err) {
    if (err instanceof ApiError) throw err;
    fromTemporal(err, workflowId);
  }
  let progress: Progress | null = null;
  let result: ReassignmentResult | null = null;
  let failure: string | null = null;
  if (status === 'RUNNING') {
    progress = await handle.query(progressQuery).catch(() => null);
    if (progress && live) progress = await live.overlay(progress);
    if (progress && !withPatients) progress = withoutRationale(progress);
  } else
    try {
      result = (await handle.result()) as ReassignmentResult;
    } catch (err) {
      failure = err instanceof WorkflowFailedError ? describeError(err.cause ?? err) : describeError(err);
    }
  return {
    workflow_id: workflowId,
    execution_status: status,
    progress,
    result,
    failure,
    ...(withPatients ? { patients: await patientNames(config, progress, result) } : {}),
    links: linksOf(config, workflowId),
  };
}

/** Patient names of the run's appointments, from the scheduling database when it is on this machine. */
async function patientNames(
  config: AppConfig,
  progress: Progress | null,
  result: ReassignmentResult | null,
): Promise<Record<string, string>> {
  const ids = new Set<string>([
    ...(progress?.pending_approvals ?? []).map((p) => p.appointment_id),
    ...(result ? [...result.assignments, ...result.waitlisted, ...result.undecided].map((a) => a.appointment_id) : []),
  ]);
  if (ids.size === 0) return {};
  const names = await withSchedulingStore(
    targetOf(config),
    async (store) => {
      const found: Record<string, string> = {};
      for (const id of ids) {
        const appointment = await store.appointment(id);
        const patient = appointment && (await store.patient(appointment.patient_id));
        if (patient) found[id] = patient.name;
      }
      return found;
    },
    config,
  );
  return names ?? {};
}
