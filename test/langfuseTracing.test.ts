import { createTraceId } from '@langfuse/tracing';
import { createLangfuseClient } from '../src/langfuse/client';
import { PromptOps } from '../src/langfuse/promptOps';
import { approveSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { promptsCopy, startHarness, twoVersions, waitForProgress, type Harness } from './support/harness';
import { startLangfuseServer, type LangfuseTestServer, type ReceivedSpan } from './support/langfuseServer';
import { seedInput } from './support/seed';
import { decideNextTurn } from '../src/llm/offline/agent';
import { demoDataset } from '../src/domain/demoData';
import { readsPatientDetails } from './support/patientDetailsPrompt';
import { expectOneLineError, runCli } from './support/processes';

/**
 * Traces in Langfuse: the real @langfuse/tracing and @langfuse/otel (OTLP over HTTP) export to the
 * Langfuse-compatible server on loopback. One trace per reassignment, written from activities only.
 */

const input = seedInput;
const TYPE = 'langfuse.observation.type';

const env = (lf: LangfuseTestServer, more: Record<string, string> = {}) => ({
  LANGFUSE_BASE_URL: lf.url,
  LANGFUSE_PUBLIC_KEY: lf.publicKey,
  LANGFUSE_SECRET_KEY: lf.secretKey,
  PROMPT_SOURCE: 'langfuse',
  ...more,
});

async function spansOf(lf: LangfuseTestServer, h: Harness, runId: string): Promise<ReceivedSpan[]> {
  await h.worker.tracer!.flush();
  const traceId = await createTraceId(runId);
  return lf.spans.filter((s) => s.traceId === traceId);
}

async function approvedRun(h: Harness, promptLabel = 'production'): Promise<ReassignmentResult> {
  await h.reload();
  const handle = await h.start('promptDrivenReassignment', { ...input, promptLabel });
  await waitForProgress(handle, (p) => p.pending_approvals.length > 0);
  await handle.signal(approveSignal, { appointmentId: 'A002', by: 'nurse-jo' });
  return handle.result();
}

/** What a tool or chat observation could carry about a patient: a name, a phone number, a free-text note. */
const patientPayload = {
  input: [{ role: 'tool', content: JSON.stringify({ patient_id: 'PAT001', notes: 'Knee follow-up after surgery.' }) }],
  output: {
    content: 'Maria Lopez asked to be called back on +351 912 345 678 about 2025-11-21.',
    notes: 'prefers mornings',
  },
};

describe('traces with masking (the default)', () => {
  let lf: LangfuseTestServer;
  let h: Harness;
  beforeAll(async () => {
    lf = await startLangfuseServer();
    await new PromptOps(
      createLangfuseClient({ baseUrl: lf.url, publicKey: lf.publicKey, secretKey: lf.secretKey }),
    ).push(promptsCopy(twoVersions));
    h = await startHarness({ editPrompts: twoVersions, env: env(lf) });
  });
  afterAll(async () => {
    await h?.close();
    await lf?.close();
  });

  test('a reassignment is one trace: each LLM call a generation linked to its prompt version, each tool call a tool, the approval and the summary visible', async () => {
    const r = await approvedRun(h);
    const spans = await spansOf(lf, h, r.workflow_id);
    expect(spans.every((s) => s.attributes['session.id'] === r.workflow_id)).toBe(true);
    expect(new Set(spans.map((s) => s.parentSpanId)).size).toBe(1); // all hang from the run's root

    const generations = spans.filter((s) => s.attributes[TYPE] === 'generation');
    expect(generations).toHaveLength(r.llm.calls);
    for (const g of generations) {
      expect(g.attributes).toMatchObject({
        'langfuse.observation.prompt.name': 'healthcare-orchestrator',
        'langfuse.observation.prompt.version': 1,
        'langfuse.observation.model.name': r.llm.model,
      });
      const usage = JSON.parse(g.attributes['langfuse.observation.usage_details'] as string) as {
        input: number;
        output: number;
        total: number;
      };
      expect(usage.input).toBeGreaterThan(0);
      expect(usage.total).toBe(usage.input + usage.output);
      expect(JSON.parse(g.attributes['langfuse.observation.cost_details'] as string)).toEqual({
        input: 0,
        output: 0,
        total: 0,
      }); // offline stand-in
      expect(JSON.parse(g.attributes['langfuse.observation.input'] as string)[0].role).toBe('system');
    }
    const usageTotal = generations.reduce(
      (n, g) =>
        n + (JSON.parse(g.attributes['langfuse.observation.usage_details'] as string) as { total: number }).total,
      0,
    );
    expect(usageTotal).toBe(r.llm.prompt_tokens + r.llm.completion_tokens);

    const tools = spans.filter((s) => s.attributes[TYPE] === 'tool').map((s) => s.name);
    expect(tools).toEqual(
      expect.arrayContaining([
        'get_affected_appointments',
        'find_candidates',
        'assign_appointment',
        'add_to_waitlist',
        'notify_patient',
      ]),
    );
    expect(spans.find((s) => s.name === 'approval approved · A002 → P001')?.attributes[TYPE]).toBe('event');
    const summary = spans.find((s) => s.name === 'summary')!;
    expect(JSON.parse(summary.attributes['langfuse.observation.output'] as string)).toMatchObject({
      status: 'completed',
      successful_assignments: 2,
      waitlist_entries: 1,
    });
    const resolved = spans.find((s) => s.name === 'resolve prompts')!;
    expect(JSON.parse(resolved.attributes['langfuse.observation.output'] as string).orchestrator).toMatchObject({
      version: 1,
      source: 'langfuse',
    });
  });

  test('the trace carries tags to filter by (prompt version, mode) and the run as its input and output', async () => {
    const r = await approvedRun(h);
    const spans = await spansOf(lf, h, r.workflow_id);
    const tagged = spans.filter((s) => s.attributes['langfuse.trace.tags'] !== undefined);
    expect(tagged.map((s) => s.name).sort()).toEqual(['resolve prompts', 'summary']);
    for (const s of tagged)
      expect(s.attributes['langfuse.trace.tags']).toEqual(['prompt:healthcare-orchestrator@1', 'mode:prompt']);
    const input = spans.find((s) => s.attributes['langfuse.trace.input'] !== undefined)!;
    expect(JSON.parse(input.attributes['langfuse.trace.input'] as string)).toEqual({
      providerId: 'T001',
      date: '2025-11-21',
      reason: 'sick',
      label: 'production',
      mode: 'prompt',
    });
    const output = spans.find((s) => s.attributes['langfuse.trace.output'] !== undefined)!;
    expect(JSON.parse(output.attributes['langfuse.trace.output'] as string)).toMatchObject({
      status: 'completed',
      successful_assignments: 2,
      waitlist_entries: 1,
    });
  });

  test('a local fallback shows in the trace, and its generations are not linked to a Langfuse version', async () => {
    lf.setDown('prompts');
    let r: ReassignmentResult;
    try {
      r = await approvedRun(h);
    } finally {
      lf.setDown(false);
    }
    expect(r.prompt.orchestrator.source).toBe('local');
    const spans = await spansOf(lf, h, r.workflow_id);
    const resolved = spans.find((s) => s.name === 'resolve prompts')!;
    expect(resolved.attributes['langfuse.observation.level']).toBe('WARNING');
    expect(resolved.attributes['langfuse.observation.status_message']).toMatch(
      /local fallback: healthcare-orchestrator: Langfuse unreachable/,
    );
    const generations = spans.filter((s) => s.attributes[TYPE] === 'generation');
    expect(generations.length).toBeGreaterThan(0);
    for (const g of generations) {
      expect(g.attributes['langfuse.observation.prompt.name']).toBeUndefined();
      // The SDK flattens metadata into one attribute per key.
      expect(g.attributes).toMatchObject({
        'langfuse.observation.metadata.prompt_source': 'local',
        'langfuse.observation.metadata.prompt_fallback': expect.stringMatching(/unreachable/),
      });
    }
  });

  test('patient names, phone numbers and notes are masked', async () => {
    await h.worker.tracer!.tool({ runId: 'mask-on', name: 'get_patient_details', ...patientPayload });
    const [span] = await spansOf(lf, h, 'mask-on');
    const text = JSON.stringify(span!.attributes);
    expect(text).not.toMatch(/Maria Lopez|912 345 678|Knee follow-up|prefers mornings/);
    const output = JSON.parse(span!.attributes['langfuse.observation.output'] as string) as {
      content: string;
      notes: string;
    };
    expect(output).toEqual({
      content: '[name] asked to be called back on [phone] about 2025-11-21.',
      notes: '[masked]',
    });
    expect(
      JSON.parse(
        (JSON.parse(span!.attributes['langfuse.observation.input'] as string) as { content: string }[])[0]!.content,
      ),
    ).toEqual({ patient_id: expect.stringMatching(/^pt_[a-p]{16}$/), notes: '[masked]' }); // the id pseudonymised
  });
});

describe('patient ids pseudonymised in traces', () => {
  let lf: LangfuseTestServer;
  let h: Harness;
  // The demo data, with a note that names its patient and gives a phone number, as staff notes do.
  const data = demoDataset();
  data.patients[0]!.notes = 'Maria Lopez asks for a call back on +351 912 345 678 about her knee.';
  beforeAll(async () => {
    lf = await startLangfuseServer();
    h = await startHarness({ data, editPrompts: readsPatientDetails, env: env(lf, { PROMPT_SOURCE: 'local' }) });
  });
  afterAll(async () => {
    await h?.close();
    await lf?.close();
  });

  /** What `npm run cli -- pseudonym` prints for these ids: the documented lookup. */
  async function lookedUp(...ids: string[]): Promise<Record<string, string>> {
    const r = await runCli(['pseudonym', ...ids, '--json']);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as Record<string, string>;
  }

  test("a run that reads the patients' details: nothing the server receives holds a patient id, name, phone number or note; each id is there as its pseudonym, the one the lookup computes", async () => {
    const handle = await h.start('promptDrivenReassignment', input);
    await waitForProgress(handle, (p) => p.pending_approvals.length > 0);
    await handle.signal(approveSignal, { appointmentId: 'A002', by: 'nurse-jo' });
    const r = (await handle.result()) as ReassignmentResult;
    expect(r.status).toBe('completed');
    await h.worker.tracer!.flush();
    const received = lf.traceBodies.join('\n');
    const affected = ['PAT001', 'PAT002', 'PAT003'];
    for (const p of data.patients) {
      expect({ id: p.id, found: received.includes(p.id) }).toEqual({ id: p.id, found: false });
      expect(received).not.toContain(p.name);
      if (p.notes) expect(received).not.toContain(p.notes);
    }
    expect(received).not.toMatch(/912 345 678|Knee follow-up|IGNORE ALL PREVIOUS/);
    // Masked, not dropped: the notes were read (get_patient_details), and the trace says so.
    const details = (await spansOf(lf, h, r.workflow_id)).filter((s) => s.name === 'get_patient_details');
    expect(details).toHaveLength(3);
    const pseudonyms = await lookedUp(...affected);
    for (const id of affected) expect(pseudonyms[id]).toMatch(/^pt_[a-p]{16}$/);
    expect(new Set(Object.values(pseudonyms)).size).toBe(3);
    // The same pseudonym wherever the id appears: the tool's input and output, and the model's conversation.
    for (const d of details) {
      const { patient_id } = JSON.parse(d.attributes['langfuse.observation.input'] as string) as { patient_id: string };
      expect(Object.values(pseudonyms)).toContain(patient_id);
      expect(JSON.parse(d.attributes['langfuse.observation.output'] as string)).toMatchObject({
        result: { patient_id, notes: '[masked]' },
      });
    }
    const conversation = (await spansOf(lf, h, r.workflow_id))
      .filter((s) => s.attributes[TYPE] === 'generation')
      .map((s) => String(s.attributes['langfuse.observation.input']))
      .join('\n');
    for (const id of affected) expect(conversation).toContain(pseudonyms[id]);
  }, 120_000);

  test('the lookup refuses what is not a patient id, in one line', async () => {
    expectOneLineError(
      await runCli(['pseudonym', 'PAT001', 'maria lopez']),
      /^error: not a patient id: "maria lopez"$/,
    );
  });

  test('patient ids in observation names, metadata, status messages, tags, the session and the trace input are pseudonymised too', async () => {
    await h.worker.tracer!.tool({
      // A session (run) id holds no patient id by design; one that did would be pseudonymised as well.
      runId: 'pseudonyms-everywhere-PAT003',
      name: 'get_patient_details PAT010',
      input: { patient_ids: ['PAT010', 'PAT011'] },
      output: 'PAT010 is Ana Rocha',
      metadata: { patient: 'PAT011', note: 'call +351 912 345 678' },
      level: 'WARNING',
      statusMessage: 'no slot for PAT010',
      trace: { tags: ['patient:PAT010'], input: { patientId: 'PAT011' } },
    });
    const [span] = await spansOf(lf, h, 'pseudonyms-everywhere-PAT003');
    const text = JSON.stringify(span);
    expect(text).not.toMatch(/PAT0\d\d|Ana Rocha|912 345 678/);
    const p = await lookedUp('PAT010', 'PAT011', 'PAT003');
    expect(span!.attributes['session.id']).toBe(`pseudonyms-everywhere-${p.PAT003}`);
    expect(span!.name).toBe(`get_patient_details ${p.PAT010}`);
    expect(span!.attributes).toMatchObject({
      'langfuse.observation.status_message': `no slot for ${p.PAT010}`,
      'langfuse.observation.metadata.patient': p.PAT011,
      'langfuse.observation.metadata.note': '[masked]',
      'langfuse.trace.tags': [`patient:${p.PAT010}`],
    });
    expect(JSON.parse(span!.attributes['langfuse.observation.input'] as string)).toEqual({
      patient_ids: [p.PAT010, p.PAT011],
    });
    expect(span!.attributes['langfuse.observation.output']).toContain(`${p.PAT010} is [name]`);
    expect(JSON.parse(span!.attributes['langfuse.trace.input'] as string)).toEqual({ patientId: p.PAT011 });
  }, 60_000);
});

describe('traces with TRACE_MASKING=off', () => {
  let lf: LangfuseTestServer;
  let h: Harness;
  beforeAll(async () => {
    lf = await startLangfuseServer();
    h = await startHarness({
      editPrompts: twoVersions,
      env: env(lf, { PROMPT_SOURCE: 'local', TRACE_MASKING: 'off' }),
    });
  });
  afterAll(async () => {
    await h?.close();
    await lf?.close();
  });

  test('patient data reaches the trace as it is', async () => {
    await h.worker.tracer!.tool({ runId: 'mask-off', name: 'get_patient_details', ...patientPayload });
    const [span] = await spansOf(lf, h, 'mask-off');
    expect(JSON.parse(span!.attributes['langfuse.observation.output'] as string)).toEqual(patientPayload.output);
    expect(JSON.stringify(span!.attributes)).toMatch(/Knee follow-up/);
  });

  test('traces are flushed when the worker shuts down', async () => {
    const r = await approvedRun(h);
    expect(r.prompt.orchestrator.source).toBe('local');
    const traceId = await createTraceId(r.workflow_id);
    // No explicit flush: closing the worker must deliver what it buffered.
    await h.close();
    expect(lf.spans.filter((s) => s.traceId === traceId && s.name === 'summary')).toHaveLength(1);
    h = await startHarness({
      editPrompts: twoVersions,
      env: env(lf, { PROMPT_SOURCE: 'local', TRACE_MASKING: 'off' }),
    });
  });
});

describe('the cost of generations from a real endpoint', () => {
  /** A run against an endpoint that is not the offline stand-in (the same deterministic agent, served apart). */
  async function generationsOf(lf: LangfuseTestServer, prices: Record<string, string>) {
    const h = await startHarness({
      editPrompts: twoVersions,
      agent: decideNextTurn,
      env: env(lf, { PROMPT_SOURCE: 'local', ...prices }),
    });
    try {
      const r = await h.run('promptDrivenReassignment', { ...input, promptLabel: 'staging' });
      expect(r.llm.offline).toBe(false);
      return {
        r,
        generations: (await spansOf(lf, h, r.workflow_id)).filter((s) => s.attributes[TYPE] === 'generation'),
      };
    } finally {
      await h.close();
    }
  }

  test('no prices configured: no cost is sent, so Langfuse prices each generation by its model', async () => {
    const lf = await startLangfuseServer();
    try {
      const { generations } = await generationsOf(lf, {});
      expect(generations.length).toBeGreaterThan(0);
      for (const g of generations) {
        expect(g.attributes['langfuse.observation.cost_details']).toBeUndefined();
        expect(g.attributes['langfuse.observation.usage_details']).toBeDefined();
      }
    } finally {
      await lf.close();
    }
  });

  test('input and output prices configured: each generation carries its cost at those prices', async () => {
    const lf = await startLangfuseServer();
    try {
      const { generations } = await generationsOf(lf, {
        LLM_COST_PER_1K_INPUT_TOKENS: '0.15',
        LLM_COST_PER_1K_OUTPUT_TOKENS: '0.6',
      });
      for (const g of generations) {
        const usage = JSON.parse(g.attributes['langfuse.observation.usage_details'] as string) as {
          input: number;
          output: number;
        };
        const cost = JSON.parse(g.attributes['langfuse.observation.cost_details'] as string) as {
          input: number;
          output: number;
          total: number;
        };
        expect(cost.input).toBeCloseTo((usage.input * 0.15) / 1000, 10);
        expect(cost.output).toBeCloseTo((usage.output * 0.6) / 1000, 10);
        expect(cost.total).toBeCloseTo(cost.input + cost.output, 10);
      }
    } finally {
      await lf.close();
    }
  });
});
