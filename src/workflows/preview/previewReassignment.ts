import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { ErrorType } from '../../errorTypes';
import type { DryWrite } from '../../activities/tools';
import type { ToolResult } from '../../tools/catalog';
import { describeZodError } from '../../zodIssue';
import { promptProxy, toolProxy } from '../activityProxies';
import { BatchSession } from '../batch/batchSession';
import { runPromptPath } from '../batch/promptDrivenBatch';
import type { BatchAppointment, BatchInput, BatchOutcome } from '../contract/types';
import { previewInputSchema, type PreviewAppointment, type PreviewInput, type PreviewResult } from './previewContract';

/**
 * What a prompt-driven run would do for a provider's day, with nothing written: a dry run of the same decision
 * loop. The prompts are resolved (not recorded as a run's), the provider's unavailability is only assumed, and every
 * batch runs the prompt-driven path on a dry session, as a shadow run's shadow does: its tools go through the same
 * guards in transactions that are rolled back (after the would-be writes before them, the earlier batches' too), it
 * asks no human (an approval is assumed given), tells no patient, and records no run, progress or figures. The
 * model's calls are real. The result says per appointment what would happen, and what the model cost.
 */
export async function previewReassignment(raw: PreviewInput): Promise<PreviewResult> {
  const parsed = previewInputSchema.safeParse(raw);
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(
      `invalid preview input: ${describeZodError(parsed.error, '(input)')}`,
      ErrorType.invalidInput,
    );
  const input = parsed.data;
  const { workflowId } = workflowInfo();
  const bundle = await promptProxy.resolvePrompts.executeWithOptions(
    { summary: `resolve prompts · label ${input.promptLabel} (preview)` },
    [
      {
        label: input.promptLabel,
        workflowId,
        mode: 'prompt',
        record: false,
        run: { providerId: input.providerId, date: input.date, reason: input.reason },
      },
    ],
  );
  // The provider's absence, assumed in every dry call (so the guards see it), never recorded.
  let writes: DryWrite[] = [
    { kind: 'unavailable', providerId: input.providerId, date: input.date, reason: input.reason },
  ];
  const affected = await toolProxy.callTool.executeWithOptions(
    { summary: `get_affected_appointments ${input.providerId} ${input.date} (preview)` },
    [
      {
        name: 'get_affected_appointments',
        args: { provider_id: input.providerId, date: input.date },
        runId: workflowId,
        policy: bundle.policy,
        decidedBy: 'prompt',
        candidatesPerAppointment: bundle.config.candidates_per_appointment,
        dryRun: { writes },
      },
    ],
  );
  if (!affected.ok) throw ApplicationFailure.nonRetryable(affected.error, ErrorType.invalidInput, affected.code);
  const list = (affected.result as ToolResult<'get_affected_appointments'>).appointments as BatchAppointment[];
  if (list.length === 0)
    throw ApplicationFailure.nonRetryable(
      `provider ${input.providerId} has nothing left to reassign on ${input.date}`,
      ErrorType.invalidInput,
      'nothing_to_reassign',
    );

  const outcomes: BatchOutcome[] = [];
  const asked = new Set<string>();
  const size = bundle.config.batch_size;
  for (let start = 0, batch = 1; start < list.length; start += size, batch++) {
    const batchInput: BatchInput = {
      workflowId,
      batch,
      providerId: input.providerId,
      date: input.date,
      reason: input.reason,
      appointments: list.slice(start, start + size),
      bundle,
    };
    // One batch after the other, each seeing what the earlier ones would have written.
    const session = new BatchSession(batchInput, 'prompt', { dryRun: true, writes });
    outcomes.push(await runPromptPath(session, batchInput));
    for (const id of session.approvalsAsked()) asked.add(id);
    writes = session.dryWritesSoFar();
  }
  return {
    provider_id: input.providerId,
    date: input.date,
    prompt: {
      name: bundle.orchestrator.name,
      label: bundle.orchestrator.label,
      version: bundle.orchestrator.version,
    },
    appointments: list.map((a) => appointmentOutcome(a, outcomes, asked)),
    llm: {
      calls: sum(outcomes, (o) => o.llm.calls),
      prompt_tokens: sum(outcomes, (o) => o.llm.prompt_tokens),
      completion_tokens: sum(outcomes, (o) => o.llm.completion_tokens),
      invalid_tool_calls: sum(outcomes, (o) => o.llm.invalid_tool_calls),
      model: outcomes.find((o) => o.llm.model !== undefined)?.llm.model ?? null,
      offline: outcomes.find((o) => o.llm.offline !== undefined)?.llm.offline ?? null,
      fallback_used: outcomes.some((o) => (o.fallbacks ?? []).length > 0),
      fallback_reasons: outcomes.flatMap((o) => (o.fallbacks ?? []).map((f) => f.reason)),
    },
    workflow_id: workflowId,
    written: false,
  };
}

const sum = (outcomes: BatchOutcome[], of: (o: BatchOutcome) => number) => outcomes.reduce((n, o) => n + of(o), 0);

function appointmentOutcome(a: BatchAppointment, outcomes: BatchOutcome[], asked: Set<string>): PreviewAppointment {
  const base = { appointment_id: a.appointment_id, time: a.time, specialty: a.specialty };
  const by = (d: 'prompt' | 'code' | undefined) => (d === 'code' ? ('code_fallback' as const) : ('prompt' as const));
  for (const o of outcomes) {
    const assigned = o.assignments.find((x) => x.appointment_id === a.appointment_id);
    if (assigned)
      return {
        ...base,
        outcome: asked.has(a.appointment_id) ? 'ask_approval' : 'assign',
        provider_id: assigned.new_provider_id,
        score: assigned.score,
        band: assigned.band ?? null,
        decided_by: by(assigned.decided_by),
        reason: null,
      };
    const waitlisted = o.waitlisted.find((x) => x.appointment_id === a.appointment_id);
    if (waitlisted)
      return {
        ...base,
        outcome: 'waitlist',
        provider_id: null,
        score: null,
        band: null,
        decided_by: by(waitlisted.decided_by),
        reason: waitlisted.reason,
      };
  }
  const undecided = outcomes.flatMap((o) => o.undecided).find((x) => x.appointment_id === a.appointment_id);
  return {
    ...base,
    outcome: 'undecided',
    provider_id: null,
    score: null,
    band: null,
    decided_by: null,
    reason: undecided?.reason ?? 'not decided by the dry run',
  };
}
