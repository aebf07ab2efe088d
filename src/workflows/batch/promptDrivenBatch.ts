import { CancellationScope, log, patched } from '@temporalio/workflow';
import type { ChatMessage } from '../../llm/chatTypes';
import { isInvalidCall, isToolName, type ToolName, type ToolOutcome, type ToolResult } from '../../tools/catalog';
import type { TurnConstraints } from '../../llm/chatTypes';
import { BatchSession } from './batchSession';
import { askModel } from './modelTurn';
import { decideByCode, notifyDecided, untoldOf } from './codeDrivenBatch';
import { compareWithRecord, extractJson } from './summaryCheck';
import { batchSummarySchema, type BatchInput, type BatchOutcome } from '../contract/types';
import { mcpToolForModel, type PinnedMcpTool, type PinnedMcpTools } from '../../tools/mcpSource';
import { callPinnedMcpTool } from './mcpCall';

/**
 * One short conversation with the model for a batch of appointments. Each chat completion is an activity,
 * each tool call is an activity (the calls of one turn run in parallel), arguments are validated before
 * dispatch, budgets end a runaway loop, and the model's final summary is checked against the tools' record.
 */

/** Tools offered to the model; request_approval is answered by the workflow itself. */
const MODEL_TOOLS: ToolName[] = [
  'find_candidates',
  'calculate_match_score',
  'get_patient_details',
  'get_available_providers',
  'request_approval',
  'assign_appointment',
  'add_to_waitlist',
  'notify_patient',
];

/** Candidates the workflow fetched before the first turn (prefetch), per appointment: the list, or why none. */
type Prefetched = Map<
  string,
  { candidates: ToolResult<'find_candidates'>['candidates'] } | { candidates_error: string }
>;

function userMessage(input: BatchInput, prefetched?: Prefetched): string {
  const batch = {
    unavailable_provider: input.providerId,
    date: input.date,
    reason: input.reason,
    appointments: input.appointments.map((a) => ({
      appointment_id: a.appointment_id,
      patient_id: a.patient_id,
      ...(a.date !== undefined ? { date: a.date } : {}),
      time: a.time,
      specialty: a.specialty,
      ...prefetched?.get(a.appointment_id),
    })),
  };
  return `Reassign this batch of ${input.appointments.length} affected appointment(s):\n${JSON.stringify(batch)}`;
}

/** How a conversation ended: the model finished, the run was cancelled, or the model could not go on. */
/** How a conversation ended; a stuck one says whether a budget ran out or the model could not go on. */
/** `tool`: an MCP server named by the prompt stayed unavailable (a model could not go on either). */
type Ending =
  { kind: 'finished' } | { kind: 'cancelled' } | { kind: 'stuck'; why: string; cause: 'budget' | 'model' | 'tool' };

export async function promptDrivenBatch(input: BatchInput): Promise<BatchOutcome> {
  const session = new BatchSession(input, 'prompt');
  session.install();
  return CancellationScope.nonCancellable(() => runPromptPath(session, input));
}

/** The prompt-driven path on a session: the conversation, then the code-driven steps for what it left. */
export async function runPromptPath(session: BatchSession, input: BatchInput): Promise<BatchOutcome> {
  const ending = await converse(session, input);
  await session.notificationsSent();
  // Histories recorded before this marker ended a batch without telling the patients the model had decided about.
  const tellAll = patched(NOTIFY_DECIDED_BEFORE_RETURN);
  const reason = await handOver(session, input, ending, tellAll);
  // What is decided is told before the batch returns, whatever ended it: the model, a cancel, a budget.
  if (tellAll) await notifyDecided(session, input.appointments);
  return session.finish(reason);
}

/** Marks the versions that give up a model that never calls tools after its first reply (older ones re-asked). */
const DETECT_NO_TOOL_SUPPORT = 'detect-no-tool-support';

/** Marks the versions that run a turn's tool calls (approvals apart) in one activity. */
const ONE_ACTIVITY_PER_TURN = 'one-activity-per-turn';

/** Marks the versions that prefetch the candidates in a local activity. */
const PREFETCH_AS_LOCAL_ACTIVITY = 'prefetch-as-local-activity';

/** Marks the versions that send a turn's notifications beside the next model turn. */
const NOTIFY_BESIDE_NEXT_TURN = 'notify-beside-next-turn';

/** Marks the versions that offer the model the tools of the prompt's MCP servers (pinned at the run's start). */
const MCP_TOOL_SOURCE = 'mcp-tool-source';

/** Marks the version of the batch that notifies every decided patient on every way out. */
const NOTIFY_DECIDED_BEFORE_RETURN = 'notify-decided-before-return';

/**
 * After the conversation: what is left undecided (or, when the model stopped, decided but untold) goes to the
 * code-driven steps in this same run, unless the prompt config turns the fallback off. Returns why the
 * appointments still undecided are undecided.
 */
async function handOver(session: BatchSession, input: BatchInput, ending: Ending, tellAll: boolean): Promise<string> {
  if (ending.kind === 'cancelled' || session.cancelled) {
    session.outcome.status = 'cancelled';
    return 'cancelled before a decision';
  }
  const untold = (id: string) => (ending.kind === 'stuck' || tellAll) && session.needsNotification(id) !== undefined;
  const left = input.appointments.filter((a) => !session.isDecided(a.appointment_id) || untold(a.appointment_id));
  if (left.length === 0) {
    // Every appointment decided and told, but a step the prompt asked of an MCP server could not be taken: the
    // result says so, though nothing is left for the code-driven steps (they know nothing of that server).
    if (ending.kind === 'stuck' && ending.cause === 'tool')
      session.outcome.fallbacks.push({ batch: input.batch, reason: ending.why, appointments: [], notified: [] });
    return 'the model ended without deciding it';
  }
  const why =
    ending.kind === 'stuck'
      ? ending.why
      : left.some((a) => !session.isDecided(a.appointment_id))
        ? 'the model ended without deciding every appointment'
        : 'the model ended without telling every patient';
  if (!input.bundle.config.fallback_to_code) {
    log.warn('batch stopped; fallback to code-driven is off', { batch: input.batch, why });
    if (ending.kind === 'finished') return 'the model ended without deciding it';
    session.outcome.status = ending.cause === 'budget' ? 'budget_exhausted' : 'model_stuck';
    session.outcome.message = why;
    return why;
  }
  // The rest of the batch is finished by the fixed steps, with the same tools and guards, in this same run.
  log.warn('falling back to code-driven for the rest of the batch', {
    batch: input.batch,
    why,
    appointments: left.length,
  });
  const undecided = left.filter((a) => !session.isDecided(a.appointment_id)).map((a) => a.appointment_id);
  const notified = left.filter((a) => session.isDecided(a.appointment_id)).map((a) => a.appointment_id);
  session.decidedBy = 'code';
  await decideByCode(session, left);
  session.outcome.fallbacks.push({ batch: input.batch, reason: why, appointments: undecided, notified });
  if (!session.cancelled) return `no decision could be made (after: ${why})`;
  session.outcome.status = 'cancelled';
  return 'cancelled before a decision';
}

async function converse(session: BatchSession, input: BatchInput): Promise<Ending> {
  const { config, systemPrompt } = input.bundle;
  const stats = session.outcome.llm;
  const budgets = config.budgets;
  // Configs pinned by earlier versions have none of these: native tool calls, no prefetch, the model notifies.
  const requested = config.tool_calling ?? 'native';
  let schemaMode = requested === 'json_schema';
  const afterDecision = config.notify === 'after_decision';
  const offered = ((config.tools as ToolName[] | undefined) ?? MODEL_TOOLS).filter(
    (t) => !(afterDecision && t === 'notify_patient'),
  );
  // The MCP servers' pinned tools, offered beside the catalog's (never to a shadow's dry run: their calls are real).
  const mcp = input.bundle.mcp && !session.dryRun && patched(MCP_TOOL_SOURCE) ? input.bundle.mcp : undefined;
  if (mcp && mcp.unavailable.length > 0)
    return {
      kind: 'stuck',
      cause: 'tool',
      why: mcp.unavailable.map((u) => `MCP server ${u.server} is unavailable: ${u.error}`).join('; '),
    };
  const prefetched = config.prefetch?.includes('find_candidates')
    ? await prefetchCandidates(session, input)
    : undefined;
  const messages: ChatMessage[] = [
    { role: 'system', content: systemPrompt },
    { role: 'user', content: userMessage(input, prefetched) },
  ];
  let nudged = false;
  let modelErrors = 0;
  const stuck = (why: string, cause: 'budget' | 'model' | 'tool' = 'model'): Ending => ({ kind: 'stuck', why, cause });
  // Histories recorded before this marker ran each call of a turn as an activity of its own.
  const batchCalls = patched(ONE_ACTIVITY_PER_TURN);
  // The notifications after a turn go beside the next model turn (the model never reads them), one batch at a
  // time so that none is sent twice; the batch waits for them before it hands over or ends. Histories recorded
  // before this marker waited for each batch of notifications first.
  const beside = afterDecision && patched(NOTIFY_BESIDE_NEXT_TURN);
  const tell = (): Promise<void> => {
    const queued = session.queueNotifications(() => notifyAfterDecision(session, input));
    return beside ? Promise.resolve() : queued;
  };

  for (let turn = 1; ; turn++) {
    if (session.cancelled) return { kind: 'cancelled' };
    if (turn > budgets.max_turns_per_batch)
      return stuck(`turn budget of ${budgets.max_turns_per_batch} LLM calls used up`, 'budget');
    if (stats.prompt_tokens + stats.completion_tokens >= budgets.max_tokens_per_batch)
      return stuck(`token budget of ${budgets.max_tokens_per_batch} used up`, 'budget');

    const constraints = schemaMode ? turnConstraints(session, input, offered) : undefined;
    // A json_schema-mode turn offers the catalog's tools only (its schema is built from them).
    const external = mcp && !schemaMode ? mcp.tools.map(mcpToolForModel) : undefined;
    const answer = await askModel(session, input, messages, turn, offered, constraints, external);
    if (answer.kind === 'stuck') return stuck(answer.why);
    const { reply } = answer;
    if (reply.format_error) {
      // An endpoint that did not enforce the schema: the reply is counted against the model and it is told.
      modelErrors += 1;
      if (modelErrors > budgets.max_tool_errors_per_batch)
        return stuck('the model kept answering outside the JSON schema');
      messages.push({ role: 'assistant', content: reply.message.content ?? '' });
      messages.push({
        role: 'user',
        content: `${reply.format_error}. Answer with one JSON object as REPLY FORMAT says.`,
      });
      continue;
    }
    const calls = reply.message.tool_calls;
    messages.push({
      role: 'assistant',
      content: reply.message.content,
      ...(calls.length > 0
        ? {
            tool_calls: calls.map((c) => ({
              id: c.id,
              type: 'function' as const,
              function: { name: c.name, arguments: c.arguments },
            })),
          }
        : {}),
    });

    if (calls.length === 0) {
      // Text and no tool call on the first turn, when nothing can be summed up yet: the endpoint most likely
      // does not offer the tools to the model (a chat template without tool support). Asking again the same way
      // would not help: tool_calling auto asks again in json_schema mode, otherwise the model is given up.
      if (turn === 1 && !schemaMode && (reply.message.content ?? '').trim() !== '' && patched(DETECT_NO_TOOL_SUPPORT)) {
        if (requested === 'auto') {
          schemaMode = true;
          messages.pop();
          stats.mode_switches = (stats.mode_switches ?? 0) + 1;
          log.warn('no tool support at the endpoint: the batch goes on in json_schema mode', { batch: input.batch });
          continue;
        }
        return stuck(
          'the model answered its first turn with text and no tool call: it does not seem to support tool calling (check the endpoint serves the model with a chat template that includes tools, or set tool_calling: json_schema or auto in the prompt config)',
        );
      }
      // A final answer: it must be the summary, and it must agree with what the tools did.
      const undecided = input.appointments
        .filter((a) => !session.isDecided(a.appointment_id))
        .map((a) => a.appointment_id);
      let summary;
      try {
        summary = batchSummarySchema.parse(extractJson(reply.message.content ?? ''));
      } catch (err) {
        modelErrors += 1;
        if (modelErrors > budgets.max_tool_errors_per_batch)
          return stuck('the model kept answering without a valid summary');
        const what =
          (reply.message.content ?? '').trim() === ''
            ? 'an empty reply'
            : `not the SUMMARY JSON (${String((err as Error).message).slice(0, 200)})`;
        messages.push({
          role: 'user',
          content: `Your reply is ${what}. Continue the work with the tools, or reply with only the SUMMARY JSON.`,
        });
        continue;
      }
      if (undecided.length > 0 && !nudged && !session.cancelled) {
        nudged = true;
        messages.push({
          role: 'user',
          content: `These appointments are not decided yet: ${undecided.join(', ')}. Decide each of them with the tools, then reply with the SUMMARY JSON.`,
        });
        continue;
      }
      session.outcome.discrepancies.push(
        ...compareWithRecord(summary, session.snapshot(), input.batch, input.appointments.length),
      );
      return { kind: 'finished' };
    }

    const pending = dispatchTurn(session, offered, calls, batchCalls, mcp && !schemaMode ? mcp : undefined);
    if (afterDecision) {
      // The patients of this turn's decisions are told at once, not after the approvals the turn waits for.
      await Promise.all(pending.filter((_, i) => calls[i]!.name !== 'request_approval'));
      await tell();
    }
    const results = await Promise.all(pending);
    calls.forEach((c, i) =>
      messages.push({ role: 'tool', tool_call_id: c.id, content: JSON.stringify(forModel(c.name, results[i]!)) }),
    );
    const down = results.find((r) => !r.ok && r.code === 'server_unavailable');
    if (down && !down.ok) return stuck(down.error, 'tool');
    const invalid = results.filter((r) => !r.ok && isInvalidCall(r.code)).length;
    modelErrors += invalid;
    if (invalid > 0) log.warn('the model made invalid tool calls', { batch: input.batch, turn, invalid });
    if (modelErrors > budgets.max_tool_errors_per_batch)
      return stuck(`more than ${budgets.max_tool_errors_per_batch} invalid tool calls`);
    // notify: after_decision: the workflow tells the patients the model just decided about, in one activity.
    if (afterDecision) await tell();
  }
}

/** prefetch: [find_candidates]: every appointment's candidates, fetched in one activity before the first turn. */
async function prefetchCandidates(session: BatchSession, input: BatchInput): Promise<Prefetched> {
  // Histories recorded before this marker fetched them with a (normal) activity.
  const localReads = patched(PREFETCH_AS_LOCAL_ACTIVITY);
  const outcomes = (await session.toolsTogether(
    input.appointments.map((a) => ({ name: 'find_candidates', args: { appointment_id: a.appointment_id } })),
    { localReads },
  )) as ToolOutcome<ToolResult<'find_candidates'>>[];
  return new Map(
    input.appointments.map((a, i) => {
      const o = outcomes[i]!;
      return [a.appointment_id, o.ok ? { candidates: o.result.candidates } : { candidates_error: o.error }];
    }),
  );
}

async function notifyAfterDecision(session: BatchSession, input: BatchInput): Promise<void> {
  const untold = untoldOf(session, input.appointments);
  if (untold.length > 0) await session.toolsTogether(untold.map((args) => ({ name: 'notify_patient', args })));
}

/** What a json_schema-mode turn may name: the batch's undecided appointments and the providers proposed for them. */
function turnConstraints(session: BatchSession, input: BatchInput, offered: ToolName[]): TurnConstraints {
  const batch = input.appointments.map((a) => a.appointment_id);
  const undecided = batch.filter((id) => !session.isDecided(id));
  const toNotify = offered.includes('notify_patient')
    ? batch.filter((id) => session.needsNotification(id) !== undefined)
    : [];
  return {
    appointments: undecided,
    candidates: Object.fromEntries(
      undecided.flatMap((id) => {
        const proposed = session.proposedFor(id);
        return proposed ? [[id, proposed]] : [];
      }),
    ),
    choices: Object.fromEntries(
      undecided.flatMap((id) => {
        const choice = session.decisionChoices(id);
        return choice ? [[id, choice]] : [];
      }),
    ),
    toNotify,
    asked: session.approvalsAsked(),
    patients: [...new Set(input.appointments.map((a) => a.patient_id))],
    batch,
    summary: undecided.length === 0 && toNotify.length === 0,
  };
}

/**
 * A tool's outcome as the model reads it: what the next decision needs, not the whole record (every token of
 * it is paid again on every later turn of the conversation).
 */
function forModel(name: string, outcome: ToolOutcome): unknown {
  if (!outcome.ok) return { ok: false, code: outcome.code, error: outcome.error };
  const r = outcome.result as Record<string, unknown>;
  const pick = (...keys: string[]) => ({ ok: true, result: Object.fromEntries(keys.map((k) => [k, r[k]])) });
  switch (name) {
    case 'assign_appointment':
      return pick('appointment_id', 'new_provider_id', 'score', 'band');
    case 'add_to_waitlist':
      return pick('appointment_id', 'reason');
    case 'notify_patient':
      return pick('appointment_id', 'kind');
    default:
      return outcome;
  }
}

/**
 * A turn's calls, started together. Each is checked first (JSON, a tool this prompt offers); approvals go to the
 * approval gate; the other calls run in one activity (or one each, in histories of earlier versions).
 */
function dispatchTurn(
  session: BatchSession,
  offered: ToolName[],
  calls: { name: string; arguments: string }[],
  together: boolean,
  mcp?: PinnedMcpTools,
): Promise<ToolOutcome>[] {
  const checked = calls.map((c) => check(session, offered, c.name, c.arguments, mcp));
  const toolCalls = checked.flatMap((c) => (c.kind === 'tool' ? [{ name: c.name, args: c.args }] : []));
  const ran = together && toolCalls.length > 0 ? session.toolsTogether(toolCalls) : undefined;
  let next = 0;
  return checked.map((c) => {
    if (c.kind === 'refused') return Promise.resolve(c.outcome);
    if (c.kind === 'approval') return session.requestApproval(c.args);
    if (c.kind === 'mcp') return callPinnedMcpTool(session, c.tool, c.args);
    if (!ran) return session.tool(c.name, c.args);
    const k = next++;
    return ran.then((outcomes) => outcomes[k]!);
  });
}

type Checked =
  | { kind: 'refused'; outcome: ToolOutcome }
  | { kind: 'approval'; args: unknown }
  | { kind: 'mcp'; tool: PinnedMcpTool; args: unknown }
  | { kind: 'tool'; name: Exclude<ToolName, 'request_approval'>; args: unknown };

function check(
  session: BatchSession,
  offered: ToolName[],
  name: string,
  rawArgs: string,
  mcp?: PinnedMcpTools,
): Checked {
  let args: unknown;
  try {
    args = JSON.parse(rawArgs || '{}');
  } catch {
    session.outcome.llm.invalid_tool_calls += 1;
    return {
      kind: 'refused',
      outcome: { ok: false, code: 'invalid_json', error: `the arguments of ${name} are not valid JSON` },
    };
  }
  const external = mcp?.tools.find((t) => t.name === name);
  if (external) return { kind: 'mcp', tool: external, args };
  // A tool this prompt does not offer is as unknown to the model as one that does not exist.
  if (!isToolName(name) || !offered.includes(name)) {
    session.outcome.llm.invalid_tool_calls += 1;
    return {
      kind: 'refused',
      outcome: {
        ok: false,
        code: 'unknown_tool',
        error: `there is no tool named ${name}; use one of: ${[...offered, ...(mcp?.tools.map((t) => t.name) ?? [])].join(', ')}`,
      },
    };
  }
  if (name === 'request_approval') return { kind: 'approval', args };
  return { kind: 'tool', name, args };
}
