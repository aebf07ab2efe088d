import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { NativeConnection, WorkflowBundle } from '@temporalio/worker';
import { decisionsOf } from '../cli/format';
import { ReassignmentClient } from '../client';
import type { AppConfig } from '../config';
import { withTarget } from '../db/open';
import { SchedulingStore } from '../domain/store';
import type { PinnedPrompt } from '../prompts/schema';
import { createReassignmentWorker } from '../worker';
import { idStamp, reassignmentWorkflowId } from '../workflowIds';
import type { ReassignmentResult } from '../workflows/contract/types';
import type { Scenario } from './scenarios';
import { PatientSimulator, SIMULATED_BY } from '../outcomes/patientSimulator';

/**
 * Runs the eval suite: each scenario twice on fresh copies of its data, once by the code-driven oracle and once
 * prompt-driven with the label (and model) under test, each on a worker of its own against the real Temporal
 * server, with the same human answers to the approvals both ask for. Then it compares them appointment by
 * appointment and sums what the prompt-driven runs cost.
 */

export interface ScenarioReport {
  name: string;
  description: string;
  appointments: number;
  agreed: number;
  agreement: number;
  /** Appointment by appointment: the new provider, "waitlist", or "undecided". */
  decisions: { oracle: Record<string, string>; candidate: Record<string, string> };
  /** Where the prompt-driven run decided otherwise than the oracle. */
  disagreements: { appointment_id: string; oracle: string; candidate: string }[];
  refused_calls: number;
  invalid_calls: number;
  /** Batches that fell back to the code-driven steps, and the appointments the code decided there. */
  fallbacks: number;
  decided_by_code: number;
  llm_calls: number;
  input_tokens: number;
  /** Of the input tokens, those the endpoint served from its prompt cache (when it says). */
  cached_tokens: number;
  output_tokens: number;
  /** At the configured prices; 0 for the offline stand-in; null without prices. */
  cost: number | null;
  time_s: number;
  statuses: string[];
  workflow_ids: { oracle: string[]; candidate: string[] };
  /** With patients: the escalations raised about each appointment (kinds, sorted), on each path. */
  escalations?: { oracle: Record<string, string[]>; candidate: Record<string, string[]> };
}

export interface EvalReport {
  at: string;
  label: string;
  model: string;
  offline: boolean;
  prompt: { orchestrator: PinnedPrompt; scoring: PinnedPrompt };
  scenarios: ScenarioReport[];
  total: Omit<
    ScenarioReport,
    'name' | 'description' | 'decisions' | 'disagreements' | 'statuses' | 'workflow_ids' | 'escalations'
  > & {
    scenarios: number;
  };
  /** The agreement a version needs to be promoted (EVAL_MIN_AGREEMENT), and whether this one has it. */
  min_agreement: number;
  promotable: boolean;
}

export interface EvalOptions {
  config: AppConfig;
  client: Client;
  connection: NativeConnection;
  bundle: WorkflowBundle;
  label: string;
  /** Another model name for the prompt-driven runs than the prompt config's. */
  model?: string;
  scenarios: Scenario[];
  say?: (line: string) => void;
}

type Path = 'oracle' | 'candidate';

export async function runEval(options: EvalOptions): Promise<EvalReport> {
  const say = options.say ?? (() => undefined);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reassign-eval-'));
  const reports: ScenarioReport[] = [];
  let last: ReassignmentResult | undefined;
  try {
    for (const scenario of options.scenarios) {
      say(`eval: ${scenario.name} …`);
      const oracle = await runScenario(options, scenario, 'oracle', dir);
      const candidate = await runScenario(options, scenario, 'candidate', dir);
      last = candidate.results[0] ?? last;
      reports.push(compare(options.config, scenario, oracle, candidate));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (!last) throw new Error('the eval ran no scenario');
  const total = sum(reports);
  const min = options.config.EVAL_MIN_AGREEMENT;
  return {
    at: new Date().toISOString(),
    label: options.label,
    model: last.llm.model,
    offline: last.llm.offline,
    prompt: { orchestrator: last.prompt.orchestrator, scoring: last.prompt.scoring },
    scenarios: reports,
    total,
    min_agreement: min,
    promotable: total.agreement >= min,
  };
}

interface PathOutcome {
  results: ReassignmentResult[];
  seconds: number;
  /** With patients: where each appointment ended up, in the database, after the answers and re-offers. */
  final?: Record<string, string>;
  /** With patients: the escalations raised about each appointment (kinds, sorted). */
  escalations?: Record<string, string[]>;
}

/** One scenario on one path: a fresh copy of its data, a worker of its own, its runs in order. */
async function runScenario(options: EvalOptions, scenario: Scenario, which: Path, dir: string): Promise<PathOutcome> {
  const { config, client, connection, bundle, label } = options;
  // Each scenario and path on a SQLite file of its own, whatever the deployment's database: nothing shared.
  const store = await SchedulingStore.open(path.join(dir, `${scenario.name}-${which}.db`));
  await store.load(scenario.data());
  const taskQueue = `eval-${scenario.name}-${which}-${process.pid}-${Date.now().toString(36)}`;
  const model = which === 'candidate' ? (options.model ?? config.LLM_MODEL) : config.LLM_MODEL;
  const worker = await createReassignmentWorker({
    connection,
    config: {
      ...withTarget(config, store.target),
      TASK_QUEUE: taskQueue,
      ...(model ? { LLM_MODEL: model } : {}),
      // Patients answer only in the scenarios that have them; 3.6 s to answer stands for "no answer by the deadline".
      ...(scenario.patients
        ? { PATIENT_FOLLOW_UP: 'on' as const, PATIENT_RESPONSE_HOURS: 0.001 }
        : { PATIENT_FOLLOW_UP: 'off' as const }),
    },
    store,
    workflowBundle: bundle,
    say: () => undefined,
  });
  const running = worker.run();
  const began = Date.now();
  try {
    const results: ReassignmentResult[] = [];
    // The product's client on this scenario's task queue and data: runs start as from the CLI, checks included.
    const runs = new ReassignmentClient(client, { ...withTarget(config, store.target), TASK_QUEUE: taskQueue });
    for (const [i, run] of scenario.runs.entries()) {
      const { workflowId } = await runs.start({
        input: { ...run, reason: 'eval', promptLabel: label },
        mode: which === 'oracle' ? 'code' : 'prompt',
        workflowId: reassignmentWorkflowId({
          providerId: run.providerId,
          date: run.date,
          tag: `eval-${scenario.name}-${which}-${i + 1}`,
          stamp: idStamp(new Date()),
        }),
      });
      results.push(await answerApprovals(runs, workflowId, scenario.approvals ?? {}));
    }
    const final = scenario.patients ? await playPatients(runs, store, scenario.patients) : undefined;
    const escalations = final ? await escalationsOf(store) : undefined;
    return { results, seconds: (Date.now() - began) / 1000, ...(final ? { final, escalations } : {}) };
  } finally {
    worker.shutdown();
    await running;
    await store.close();
  }
}

/** Plays the human of the scenario: answers each approval the run asks for, through the approval Update. */
async function answerApprovals(
  client: ReassignmentClient,
  workflowId: string,
  answers: Record<string, 'approve' | 'reject'>,
): Promise<ReassignmentResult> {
  const result = client.result(workflowId);
  let done = false;
  void result.then(
    () => (done = true),
    () => (done = true),
  );
  const answered = new Set<string>();
  while (!done) {
    const progress = await client.progress(workflowId).catch(() => undefined);
    for (const p of progress?.pending_approvals ?? []) {
      if (answered.has(p.appointment_id)) continue;
      answered.add(p.appointment_id);
      await client
        .decide(workflowId, {
          appointmentId: p.appointment_id,
          decision: answers[p.appointment_id] ?? 'approve',
          by: 'eval',
        })
        .catch(() => undefined); // decided meanwhile: nothing to answer
    }
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, 150))]);
  }
  return result;
}

/**
 * Plays the scenario's patients (SIMULATED, recorded as such): answers each open offer as scripted (unlisted
 * patients accept; "none" lets the deadline pass), until every offered appointment is settled: its offer accepted,
 * or the appointment on the waitlist. Returns where each offered appointment ended up.
 */
async function playPatients(
  client: ReassignmentClient,
  store: SchedulingStore,
  script: Record<string, ('accepted' | 'declined' | 'none')[]>,
): Promise<Record<string, string>> {
  const sim = new PatientSimulator(0, script);
  const answered = new Set<string>();
  const offered = async () => [...new Set((await store.openOffers()).map((o) => o.appointment_id))];
  const seen = new Set<string>(await offered());
  const settled = async (id: string) =>
    (await store.appointment(id))?.status === 'waitlisted' || (await store.latestOffer(id))?.status === 'accepted';
  const allSettled = async () => {
    for (const id of seen) if (!(await settled(id))) return false;
    return true;
  };
  for (const end = Date.now() + 120_000; Date.now() < end;) {
    for (const o of await store.openOffers()) {
      seen.add(o.appointment_id);
      const key = `${o.appointment_id}:${o.offer_no}`;
      if (answered.has(key)) continue;
      const a = sim.answer(o);
      answered.add(key);
      if (a.answer === 'none') continue;
      await client.outcomes
        .answer(o.appointment_id, { answer: a.answer, by: SIMULATED_BY, ...(a.reason ? { reason: a.reason } : {}) })
        .catch(() => undefined); // closed meanwhile (its deadline passed): the follow-up goes on without it
    }
    if (await allSettled()) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const final: Record<string, string> = {};
  for (const id of seen) {
    const a = (await store.appointment(id))!;
    final[id] = a.status === 'waitlisted' ? 'waitlist' : (await settled(id)) ? a.provider_id : 'undecided';
  }
  return final;
}

/** The escalations of a scenario's database, appointment by appointment: each one's kinds, sorted. */
async function escalationsOf(store: SchedulingStore): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const e of await store.escalations({})) if (e.appointment_id) (out[e.appointment_id] ??= []).push(e.kind);
  for (const kinds of Object.values(out)) kinds.sort();
  return out;
}

function decisionsOfAll(results: ReassignmentResult[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of results) {
    for (const u of r.undecided) out[u.appointment_id] = 'undecided';
    Object.assign(out, decisionsOf(r));
  }
  return out;
}

function compare(config: AppConfig, scenario: Scenario, oracle: PathOutcome, candidate: PathOutcome): ScenarioReport {
  const expected = { ...decisionsOfAll(oracle.results), ...oracle.final };
  const got = { ...decisionsOfAll(candidate.results), ...candidate.final };
  const ids = [...new Set([...Object.keys(expected), ...Object.keys(got)])].sort();
  const disagreements = ids
    .filter((id) => expected[id] !== got[id])
    .map((id) => ({ appointment_id: id, oracle: expected[id] ?? 'untouched', candidate: got[id] ?? 'untouched' }));
  const rs = candidate.results;
  const n = (f: (r: ReassignmentResult) => number) => rs.reduce((s, r) => s + f(r), 0);
  const input = n((r) => r.llm.prompt_tokens);
  const output = n((r) => r.llm.completion_tokens);
  const offline = rs.every((r) => r.llm.offline);
  const prices = config.prices;
  return {
    name: scenario.name,
    description: scenario.description,
    appointments: ids.length,
    agreed: ids.length - disagreements.length,
    agreement: ids.length === 0 ? 1 : (ids.length - disagreements.length) / ids.length,
    decisions: { oracle: expected, candidate: got },
    disagreements,
    refused_calls: n((r) => r.refused_calls ?? 0),
    invalid_calls: n((r) => r.llm.invalid_tool_calls),
    fallbacks: n((r) => r.fallbacks.length),
    decided_by_code: n((r) => r.decided_by.code),
    llm_calls: n((r) => r.llm.calls),
    input_tokens: input,
    cached_tokens: n((r) => r.llm.cached_tokens ?? 0),
    output_tokens: output,
    cost: offline ? 0 : prices ? (input * prices.inputPer1k + output * prices.outputPer1k) / 1000 : null,
    time_s: Math.round(candidate.seconds * 100) / 100,
    statuses: rs.map((r) => r.status),
    workflow_ids: { oracle: oracle.results.map((r) => r.workflow_id), candidate: rs.map((r) => r.workflow_id) },
    ...(oracle.escalations || candidate.escalations
      ? { escalations: { oracle: oracle.escalations ?? {}, candidate: candidate.escalations ?? {} } }
      : {}),
  };
}

function sum(reports: ScenarioReport[]): EvalReport['total'] {
  const n = (f: (r: ScenarioReport) => number) => reports.reduce((s, r) => s + f(r), 0);
  const appointments = n((r) => r.appointments);
  const agreed = n((r) => r.agreed);
  return {
    scenarios: reports.length,
    appointments,
    agreed,
    agreement: appointments === 0 ? 1 : agreed / appointments,
    refused_calls: n((r) => r.refused_calls),
    invalid_calls: n((r) => r.invalid_calls),
    fallbacks: n((r) => r.fallbacks),
    decided_by_code: n((r) => r.decided_by_code),
    llm_calls: n((r) => r.llm_calls),
    input_tokens: n((r) => r.input_tokens),
    cached_tokens: n((r) => r.cached_tokens ?? 0),
    output_tokens: n((r) => r.output_tokens),
    cost: reports.some((r) => r.cost === null) ? null : n((r) => r.cost ?? 0),
    time_s: Math.round(n((r) => r.time_s) * 100) / 100,
  };
}
