import type { ChatMessage } from '../chatTypes';
import { isToolName } from '../../tools/catalog';

/**
 * The offline stand-in model's decision procedure. It is NOT an LLM: a deterministic program that reads the
 * same messages an LLM would get (system prompt, the batch, the tool results so far) and answers with tool
 * calls or a final summary, the way the orchestrator prompt asks. It reads its thresholds, approval bands
 * and steps from the prompt text, so editing the prompt changes what it does.
 */

export interface AgentReply {
  content: string | null;
  /** Arguments as an object, or as raw text (a scripted test model may send malformed JSON on purpose). */
  toolCalls: { name: string; arguments: Record<string, unknown> | string }[];
  /** A refusal, sent in the message's `refusal` field as OpenAI does. */
  refusal?: boolean;
  /** A reply cut off at max_tokens (a fault mode): sent as finish_reason "length". */
  finishReason?: 'length';
}

interface PromptPolicy {
  excellent: number;
  good: number;
  approvalBands: string[];
  notify: boolean;
  patientDetails: boolean;
  /** The steps' text, where tools from outside the catalog are named. */
  steps: string;
}

/** The JSON Schemas of the tools a request offers, by name (the `parameters` of each). */
export type ToolSchemas = Record<string, unknown>;

/** What the prompt text says, read the way a careful reader would. Missing rules fall back to safe ones. */
export function readPolicy(systemPrompt: string): PromptPolicy {
  const num = (re: RegExp) => {
    const m = re.exec(systemPrompt);
    return m ? Number(m[1]) : undefined;
  };
  const excellent = num(/score\s*>=\s*(\d+)\s*:\s*excellent/i) ?? 200;
  const good = num(/score\s*>=\s*(\d+)[^:\n]*:\s*good/i) ?? excellent;
  const bandsLine = /need a human approval first:\s*([a-z ,]+)/i.exec(systemPrompt)?.[1] ?? 'none';
  const approvalBands = bandsLine
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s === 'excellent' || s === 'good');
  const steps = /WORKFLOW STEPS([\s\S]*?)(?:\n\s*\n[A-Z ]+[:(]|$)/.exec(systemPrompt)?.[1] ?? systemPrompt;
  return {
    excellent,
    good,
    approvalBands,
    notify: /notify_patient/.test(steps),
    patientDetails: /get_patient_details/.test(steps),
    steps,
  };
}

interface Candidate {
  provider_id: string;
  score: number;
}

interface AppointmentState {
  id: string;
  candidates?: Candidate[];
  patientId?: string;
  details?: boolean;
  refused: Set<string>;
  approvals: Map<string, { decision: string; next_step: string }>;
  assigned?: { provider: string; score: number };
  waitlisted?: { reason: string };
  decidedElsewhere?: boolean;
  notified: boolean;
  lastError?: string;
  /** Tools from outside the catalog already called for this appointment (answered, whatever the answer). */
  external: Set<string>;
}

type Outcome = { ok: true; result: Record<string, unknown> } | { ok: false; error: string; code: string };

function parseJson(text: string | null | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

interface BatchEntry {
  appointment_id?: string;
  patient_id?: string;
  /** Present when the workflow fetched the candidates before the first turn (prefetch). */
  candidates?: Candidate[];
  candidates_error?: string;
}

function batchEntries(messages: ChatMessage[]): BatchEntry[] {
  const user = messages.find((m) => m.role === 'user');
  const text = user?.content ?? '';
  const start = text.indexOf('{');
  const parsed = parseJson(start >= 0 ? text.slice(start) : '') as { appointments?: BatchEntry[] } | undefined;
  return (parsed?.appointments ?? []).filter((a) => typeof a.appointment_id === 'string');
}

/** The batch is the JSON object in the first user message: {"appointments": [{"appointment_id": ...}]}. */
export function readBatch(messages: ChatMessage[]): string[] {
  return batchEntries(messages).map((a) => a.appointment_id!);
}

/**
 * The next turn. `offered`: the tools the request offers (when it says): a step whose tool is not offered is left
 * to whoever does it instead (notify_patient, when the workflow notifies after each decision).
 */
export function decideNextTurn(
  messages: ChatMessage[],
  offered?: readonly string[],
  schemas: ToolSchemas = {},
): AgentReply {
  const system = messages.find((m) => m.role === 'system')?.content ?? '';
  const policy = readPolicy(system);
  if (offered && !offered.includes('notify_patient')) policy.notify = false;
  const entries = batchEntries(messages);
  const ids = entries.map((e) => e.appointment_id!);
  const state = new Map<string, AppointmentState>(
    entries.map((e) => [
      e.appointment_id!,
      {
        id: e.appointment_id!,
        refused: new Set(),
        approvals: new Map(),
        notified: false,
        external: new Set(),
        // Candidates given with the batch count as found (none found when fetching them failed).
        ...(e.candidates ? { candidates: e.candidates, patientId: e.patient_id } : {}),
        ...(e.candidates_error !== undefined ? { candidates: [] } : {}),
      },
    ]),
  );

  // Replay the conversation: which call got which answer.
  const calls = new Map<string, { name: string; args: Record<string, unknown> }>();
  for (const m of messages) {
    if (m.role === 'assistant') {
      for (const c of m.tool_calls ?? [])
        calls.set(c.id, {
          name: c.function.name,
          args: (parseJson(c.function.arguments) as Record<string, unknown>) ?? {},
        });
      continue;
    }
    if (m.role !== 'tool' || !m.tool_call_id) continue;
    const call = calls.get(m.tool_call_id);
    const outcome = parseJson(m.content) as Outcome | undefined;
    if (!call || !outcome) continue;
    const s =
      state.get(String(call.args.appointment_id ?? '')) ??
      [...state.values()].find((x) => x.patientId !== undefined && x.patientId === call.args.patient_id);
    if (!s) continue;
    if (!isToolName(call.name)) {
      s.external.add(call.name);
      continue;
    }
    if (!outcome.ok) {
      s.lastError = outcome.code;
      if (call.name === 'assign_appointment') {
        if (outcome.code === 'already_decided') s.decidedElsewhere = true;
        else if (outcome.code !== 'approval_required') s.refused.add(String(call.args.new_provider_id));
      }
      if (call.name === 'add_to_waitlist' && outcome.code === 'already_decided') s.decidedElsewhere = true;
      if (call.name === 'request_approval' && outcome.code === 'approval_pending_elsewhere') s.decidedElsewhere = true;
      if (call.name === 'notify_patient') s.notified = true; // already notified, or nothing to notify: do not insist
      if (call.name === 'find_candidates') s.candidates = [];
      continue;
    }
    const r = outcome.result;
    switch (call.name) {
      case 'find_candidates':
        s.candidates = (r.candidates as Candidate[]) ?? [];
        s.patientId = String(r.patient_id);
        break;
      case 'get_patient_details':
        s.details = true;
        break;
      case 'request_approval':
        s.approvals.set(String(r.provider_id), { decision: String(r.decision), next_step: String(r.next_step) });
        break;
      case 'assign_appointment':
        s.assigned = { provider: String(r.new_provider_id), score: Number(r.score) };
        break;
      case 'add_to_waitlist':
        s.waitlisted = { reason: String(r.reason) };
        break;
      case 'notify_patient':
        s.notified = true;
        break;
    }
  }

  // Tools from outside the catalog (an MCP server's) that the steps name: each called once per decided appointment.
  const external = (offered ?? []).filter((n) => !isToolName(n) && policy.steps.includes(n));
  const toolCalls: AgentReply['toolCalls'] = [];
  for (const s of state.values()) {
    const id = s.id;
    if (s.decidedElsewhere) continue;
    if (s.assigned || s.waitlisted) {
      if (policy.notify && !s.notified)
        toolCalls.push({
          name: 'notify_patient',
          arguments: { appointment_id: id, kind: s.assigned ? 'reassigned' : 'waitlisted' },
        });
      for (const name of external) {
        if (s.external.has(name)) continue;
        const args = externalArguments(schemas[name], s);
        if (args) toolCalls.push({ name, arguments: args });
      }
      continue;
    }
    if (s.candidates === undefined) {
      toolCalls.push({ name: 'find_candidates', arguments: { appointment_id: id } });
      continue;
    }
    if (policy.patientDetails && !s.details && s.patientId) {
      toolCalls.push({ name: 'get_patient_details', arguments: { patient_id: s.patientId } });
      continue;
    }
    const best = s.candidates.find((c) => !s.refused.has(c.provider_id));
    if (!best || best.score < policy.good) {
      const reason = best
        ? `best match ${best.provider_id} scores ${best.score}, below ${policy.good}`
        : 'no available provider of the right specialty';
      toolCalls.push({ name: 'add_to_waitlist', arguments: { appointment_id: id, reason } });
      continue;
    }
    const band = best.score >= policy.excellent ? 'excellent' : 'good';
    const needsApproval = policy.approvalBands.includes(band) || s.lastError === 'approval_required';
    const approval = s.approvals.get(best.provider_id);
    if (needsApproval && !approval) {
      toolCalls.push({
        name: 'request_approval',
        arguments: {
          appointment_id: id,
          provider_id: best.provider_id,
          rationale: `${band} match, score ${best.score}`,
        },
      });
      continue;
    }
    if (approval && approval.decision !== 'approved') {
      if (/assign_appointment/.test(approval.next_step))
        toolCalls.push({
          name: 'assign_appointment',
          arguments: { appointment_id: id, new_provider_id: best.provider_id },
        });
      else
        toolCalls.push({
          name: 'add_to_waitlist',
          arguments: { appointment_id: id, reason: `approval ${approval.decision} for ${best.provider_id}` },
        });
      continue;
    }
    toolCalls.push({
      name: 'assign_appointment',
      arguments: { appointment_id: id, new_provider_id: best.provider_id },
    });
  }
  if (toolCalls.length > 0) return { content: null, toolCalls };

  const assigned = [...state.values()].filter((s) => s.assigned);
  const waitlisted = [...state.values()].filter((s) => s.waitlisted);
  const summary = {
    total_affected: ids.length,
    successful_assignments: assigned.length,
    waitlist_entries: waitlisted.length,
    assignments: assigned.map((s) => ({
      appointment_id: s.id,
      new_provider_id: s.assigned!.provider,
      score: s.assigned!.score,
    })),
    waitlisted: waitlisted.map((s) => ({ appointment_id: s.id, reason: s.waitlisted!.reason })),
  };
  return { content: JSON.stringify(summary), toolCalls: [] };
}

/**
 * The arguments of a decided appointment's call to a tool from outside the catalog, filled from what the tool's
 * schema asks for and the agent knows: the appointment, patient, provider and outcome. Undefined when the schema
 * requires something else (the tool is then not called).
 */
function externalArguments(schema: unknown, s: AppointmentState): Record<string, unknown> | undefined {
  const { properties = {}, required = [] } = (schema ?? {}) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  const outcome = s.assigned ? 'reassigned' : 'waitlisted';
  const known: Record<string, unknown> = {
    appointment_id: s.id,
    patient_id: s.patientId,
    provider_id: s.assigned?.provider,
    new_provider_id: s.assigned?.provider,
    outcome,
    kind: outcome,
    status: outcome,
    reason: s.waitlisted?.reason,
  };
  const args = Object.fromEntries(
    Object.keys(properties).flatMap((k) => (known[k] !== undefined ? [[k, known[k]]] : [])),
  );
  return required.every((k) => args[k] !== undefined) ? args : undefined;
}
