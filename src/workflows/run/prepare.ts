import {
  ActivityFailure,
  ApplicationFailure,
  log,
  patched,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { ErrorType } from '../../errorTypes';
import type { PromptBundle } from '../../prompts/schema';
import { mcpProxy, modelCheckProxy, promptProxy, toolProxy } from '../activityProxies';
import type { PinnedMcpTools } from '../../tools/mcpSource';
import type { ReassignmentRun } from './reassignmentRun';
import { searchAttributes } from '../contract/searchAttributes';
import { shadowPaths } from '../batch/shadowCompare';
import { pinnedPrompts } from './runResult';
import type { BatchAppointment } from '../contract/types';

/**
 * A run's first steps, before any batch: pin the prompts, make sure the model accepts our key, record the
 * provider's unavailability and list the affected appointments. A run that continued as new has done them
 * already and carries their results.
 */
export async function prepareRun(run: ReassignmentRun): Promise<PromptBundle> {
  const { input, workflowId, state } = run;
  if (state.bundle) return state.bundle;
  const bundle = await promptProxy.resolvePrompts.executeWithOptions(
    { summary: `resolve prompts · label ${input.promptLabel}` },
    [
      {
        label: input.promptLabel,
        workflowId,
        mode: run.requested,
        // Routed by the rollout share (mode auto): the activity picks the path, pinned with the prompts.
        ...(run.requested === 'auto' ? { route: true } : {}),
        ...(input.pinFrom !== undefined ? { pinFrom: input.pinFrom } : {}),
        run: {
          providerId: input.providerId,
          date: input.date,
          ...(input.until !== undefined ? { until: input.until } : {}),
          reason: input.reason,
        },
      },
    ],
  );
  if (run.requested === 'auto') run.mode = bundle.rollout?.path ?? 'prompt';
  // The MCP servers' tools are listed once and pinned with the prompt (the batches and every later run of the chain
  // carry them). Only runs whose prompt names servers reach this marker; the others' commands are as they were.
  const servers = bundle.config.mcp_servers ?? [];
  if (servers.length > 0 && run.mode !== 'code' && patched(PIN_MCP_TOOLS)) bundle.mcp = await pinMcpTools(servers);
  state.bundle = bundle;
  if (run.mode !== 'code' && patched('check-model-before-writing')) await checkModel();
  // A date range (until) is optional; without it, the calls and their arguments are exactly those of one day.
  const range = input.until !== undefined ? { until: input.until } : {};
  const days = input.until !== undefined ? `${input.date} … ${input.until}` : input.date;
  await toolProxy.markProviderUnavailable.executeWithOptions(
    { summary: `mark ${input.providerId} unavailable on ${days} (${input.reason})` },
    [
      {
        providerId: input.providerId,
        date: input.date,
        ...range,
        reason: input.reason,
        runId: workflowId,
        ...(input.only ? { scope: input.only } : {}),
      },
    ],
  );
  run.phase = 'finding_appointments';
  const affected = await toolProxy.callTool.executeWithOptions(
    { summary: `get_affected_appointments ${input.providerId} ${days}` },
    [
      {
        name: 'get_affected_appointments',
        args: { provider_id: input.providerId, date: input.date, ...range },
        runId: workflowId,
        policy: bundle.policy,
        // The path that writes: in a shadow run, the writer (the shadow writes nothing).
        decidedBy: run.mode === 'shadow' ? shadowPaths(input.shadowWriter).writer : run.mode,
        candidatesPerAppointment: bundle.config.candidates_per_appointment,
      },
    ],
  );
  if (!affected.ok) throw ApplicationFailure.nonRetryable(affected.error, ErrorType.invalidInput);
  const all = (affected.result as { appointments: BatchAppointment[] }).appointments;
  // A run limited to some appointments (a re-offer) takes only those that are still to decide.
  const list = input.only ? all.filter((a) => input.only!.includes(a.appointment_id)) : all;
  state.remaining = list.map((a) => ({
    appointment_id: a.appointment_id,
    patient_id: a.patient_id,
    ...(a.date !== undefined ? { date: a.date } : {}),
    time: a.time,
    specialty: a.specialty,
  }));
  state.totalAffected = state.remaining.length;
  return bundle;
}

/** Marks the versions that list the prompt's MCP servers' tools at the start of a run. */
const PIN_MCP_TOOLS = 'pin-mcp-tools';

/**
 * Each server listed in an activity of its own (retried). A server that cannot be listed is pinned as unavailable,
 * with why: the prompt-driven batches then hand their appointments to the code-driven steps and say so.
 */
async function pinMcpTools(servers: NonNullable<PromptBundle['config']['mcp_servers']>): Promise<PinnedMcpTools> {
  const listed = await Promise.all(
    servers.map((server) =>
      mcpProxy.listMcpTools
        .executeWithOptions({ summary: `list the tools of MCP server ${server.name}` }, [{ server }])
        .then((tools) => ({ server: server.name, tools }))
        .catch((err: unknown) => {
          if (!(err instanceof ActivityFailure)) throw err;
          const error = (err.cause?.message ?? err.message).slice(0, 300);
          log.warn('an MCP server could not be listed', { server: server.name, error });
          return { server: server.name, error };
        }),
    ),
  );
  return {
    tools: listed.flatMap((l) => ('tools' in l ? l.tools : [])),
    unavailable: listed.flatMap((l) => ('error' in l ? [{ server: l.server, error: l.error }] : [])),
  };
}

/** A refused API key fails the run before anything is written; an endpoint that is only down is the batches' business. */
async function checkModel(): Promise<void> {
  try {
    const check = await modelCheckProxy.checkModel.executeWithOptions(
      { summary: 'check the model endpoint accepts our key' },
      [],
    );
    if (!check.reachable)
      log.warn('the model endpoint does not answer yet; batches will retry, then fall back if configured', {
        detail: check.detail,
      });
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure)
      throw ApplicationFailure.nonRetryable(err.cause.message, err.cause.type ?? ErrorType.llmAuth);
    throw err;
  }
}

/** Memo and search attributes, so a run can be found and read in the Web UI without our code. */
export function publishRun(run: ReassignmentRun, bundle: PromptBundle): void {
  const { input, mode } = run;
  upsertMemo({
    prompt: pinnedPrompts(bundle),
    provider: input.providerId,
    date: input.date,
    ...(input.until !== undefined ? { until: input.until } : {}),
    reason: input.reason,
    // Only runs of the generic workflow carry these; the typed workflows' memo stays as it always was.
    ...(bundle.rollout ? { rollout: bundle.rollout } : {}),
    ...(mode === 'shadow' ? { shadow: { writer: shadowPaths(input.shadowWriter).writer } } : {}),
  });
  upsertSearchAttributes([
    { key: searchAttributes.providerId, value: input.providerId },
    { key: searchAttributes.date, value: input.date },
    { key: searchAttributes.mode, value: mode },
    { key: searchAttributes.status, value: 'running' },
    { key: searchAttributes.promptName, value: bundle.orchestrator.name },
    { key: searchAttributes.promptLabel, value: bundle.orchestrator.label },
    { key: searchAttributes.promptVersion, value: bundle.orchestrator.version },
    { key: searchAttributes.promptSource, value: bundle.orchestrator.source },
    ...(bundle.experiment
      ? [
          { key: searchAttributes.experiment, value: bundle.experiment.experiment },
          { key: searchAttributes.promptArm, value: bundle.experiment.arm },
        ]
      : []),
  ]);
}
