import { resumeState } from '../src/workflows/run/carriedState';
import { completeOutcome, emptyOutcome, mergeOutcome } from '../src/workflows/batch/outcome';
import { buildResult, runSummary, type ResultSources } from '../src/workflows/run/runResult';
import { compareShadow, describeDisagreement } from '../src/workflows/batch/shadowCompare';
import { compareWithRecord, extractJson, type BatchSummary } from '../src/workflows/batch/summaryCheck';
import { parentWorkflowId, type BatchOutcome, type CarriedState } from '../src/workflows/contract/types';
import type { PromptBundle } from '../src/prompts/schema';

/** The pure pieces of the workflows, without Temporal: how a reply is read, checked, summed and reported. */

const assignment = (id: string, provider: string, by: 'prompt' | 'code' = 'prompt') => ({
  appointment_id: id,
  new_provider_id: provider,
  score: 150,
  decided_by: by,
});
const waitlisted = (id: string, by: 'prompt' | 'code' = 'prompt') => ({
  appointment_id: id,
  reason: 'no match',
  decided_by: by,
});

describe('extractJson: the summary in the model reply', () => {
  test('a bare JSON object', () => {
    expect(extractJson('{"total_affected": 1}')).toEqual({ total_affected: 1 });
  });
  test('a fenced block with words around it', () => {
    expect(extractJson('Done.\n```json\n{"waitlist_entries": 2}\n```\nThanks')).toEqual({ waitlist_entries: 2 });
  });
  test('prose before and after an object', () => {
    expect(extractJson('Summary: {"a": {"b": 1}} as asked')).toEqual({ a: { b: 1 } });
  });
  test('no object at all is an error', () => {
    expect(() => extractJson('I could not finish.')).toThrow(/no JSON object/);
  });
});

describe('compareWithRecord: the model summary against what the tools did', () => {
  const record = { assignments: [assignment('A1', 'P1')], waitlisted: [waitlisted('A2')] };
  const honest: BatchSummary = {
    total_affected: 2,
    successful_assignments: 1,
    waitlist_entries: 1,
    assignments: [{ appointment_id: 'A1', new_provider_id: 'P1' }],
    waitlisted: [{ appointment_id: 'A2' }],
  };

  test('an honest summary has no discrepancy', () => {
    expect(compareWithRecord(honest, record, 3, 2)).toEqual([]);
  });
  test('a claimed assignment to another provider, and one the tools never made', () => {
    const lie = {
      ...honest,
      assignments: [
        { appointment_id: 'A1', new_provider_id: 'P9' },
        { appointment_id: 'A2', new_provider_id: 'P1' },
      ],
    };
    expect(compareWithRecord(lie, record, 3, 2)).toEqual([
      'batch 3: the model reported A1 → P9, the tools record → P1',
      'batch 3: the model reported A2 → P1, the tools record no assignment',
    ]);
  });
  test('left-out entries and wrong counts are each listed', () => {
    const sloppy: BatchSummary = {
      total_affected: 5,
      successful_assignments: 0,
      waitlist_entries: 0,
      assignments: [],
      waitlisted: [],
    };
    expect(compareWithRecord(sloppy, record, 1, 2)).toEqual([
      'batch 1: the model left out the assignment A1 → P1',
      'batch 1: the model left out the waitlist entry A2',
      'batch 1: the model counted 0 assignments, the tools record 1',
      'batch 1: the model counted 0 waitlist entries, the tools record 1',
      'batch 1: the model counted 5 affected, the batch has 2',
    ]);
  });
});

describe('mergeOutcome: a run adds up its batches', () => {
  test('lists are joined and every count is summed', () => {
    const total = completeOutcome(emptyOutcome(0));
    const one: BatchOutcome = { ...emptyOutcome(1), assignments: [assignment('A1', 'P1')], tool_calls: 3 };
    one.llm = {
      calls: 4,
      prompt_tokens: 100,
      completion_tokens: 10,
      invalid_tool_calls: 1,
      attempts: 6,
      failed_attempts: 2,
      time_ms: 900,
      model: 'm',
      offline: true,
    };
    one.approvals = { requested: 1, approved: 1, rejected: 0, timed_out: 0 };
    const two: BatchOutcome = { ...emptyOutcome(2), waitlisted: [waitlisted('A2', 'code')], tool_calls: 2 };
    two.fallbacks = [{ batch: 2, reason: 'turn budget', appointments: ['A2'], notified: [] }];
    mergeOutcome(total, one);
    mergeOutcome(total, two);
    expect(total.assignments.map((a) => a.appointment_id)).toEqual(['A1']);
    expect(total.waitlisted.map((w) => w.appointment_id)).toEqual(['A2']);
    expect(total.tool_calls).toBe(5);
    expect(total.llm).toEqual({
      calls: 4,
      prompt_tokens: 100,
      completion_tokens: 10,
      invalid_tool_calls: 1,
      attempts: 6,
      failed_attempts: 2,
      time_ms: 900,
      model: 'm',
      offline: true,
    });
    expect(total.approvals.requested).toBe(1);
    expect(total.fallbacks).toHaveLength(1);
  });
  test('an outcome recorded by an earlier version, without fallbacks or decided_elsewhere, merges cleanly', () => {
    const total = completeOutcome(emptyOutcome(0));
    const {
      fallbacks: _f,
      decided_elsewhere: _d,
      ...old
    } = { ...emptyOutcome(1), assignments: [assignment('A1', 'P1')] };
    mergeOutcome(total, old as BatchOutcome);
    expect(total.fallbacks).toEqual([]);
    expect(total.decided_elsewhere).toEqual([]);
    expect(total.assignments).toHaveLength(1);
  });
  test('LLM figures an earlier version did not record (attempts, failed attempts, time) count as 0', () => {
    const total = emptyOutcome(0);
    const old = emptyOutcome(1);
    old.llm = { calls: 2, prompt_tokens: 20, completion_tokens: 2, invalid_tool_calls: 0 };
    mergeOutcome(total, old);
    expect(total.llm).toMatchObject({ calls: 2, attempts: 0, failed_attempts: 0, time_ms: 0 });
  });
  test('budget_exhausted sticks; cancelled only replaces completed', () => {
    const total = completeOutcome(emptyOutcome(0));
    mergeOutcome(total, { ...emptyOutcome(1), status: 'cancelled' });
    expect(total.status).toBe('cancelled');
    mergeOutcome(total, { ...emptyOutcome(2), status: 'budget_exhausted' });
    mergeOutcome(total, { ...emptyOutcome(3), status: 'cancelled' });
    expect(total.status).toBe('budget_exhausted');
  });
  test('model_stuck sticks over completed and cancelled; a spent budget elsewhere names the run', () => {
    const total = completeOutcome(emptyOutcome(0));
    mergeOutcome(total, { ...emptyOutcome(1), status: 'model_stuck' });
    mergeOutcome(total, { ...emptyOutcome(2), status: 'cancelled' });
    expect(total.status).toBe('model_stuck');
    mergeOutcome(total, { ...emptyOutcome(3), status: 'budget_exhausted' });
    mergeOutcome(total, { ...emptyOutcome(4), status: 'model_stuck' });
    expect(total.status).toBe('budget_exhausted');
  });
});

describe('parentWorkflowId: the reassignment a batch belongs to', () => {
  test('a batch input names it as workflowId', () => {
    expect(parentWorkflowId({ workflowId: 'reassign-T001-2025-11-21-a' })).toBe('reassign-T001-2025-11-21-a');
  });
  test('a batch input recorded by an earlier version names it as runId, and still reads', () => {
    expect(parentWorkflowId({ runId: 'reassign-T001-2025-11-21-b' })).toBe('reassign-T001-2025-11-21-b');
  });
  test('an input naming neither is an error', () => {
    expect(() => parentWorkflowId({})).toThrow(/no parent workflow id/);
  });
});

describe('resumeState: where a run starts', () => {
  test('a fresh run starts at batch 1, run 1, with nothing done', () => {
    const s = resumeState();
    expect(s).toMatchObject({ remaining: [], totalAffected: 0, nextBatch: 1, batchesDone: 0, runs: 1 });
    expect(s.done.fallbacks).toEqual([]);
  });
  test('a continued run takes the exact carried state, completes old outcomes and counts itself', () => {
    const { fallbacks: _f, decided_elsewhere: _d, ...oldDone } = emptyOutcome(0);
    const carried = {
      bundle: {} as PromptBundle,
      remaining: [{ appointment_id: 'A9', patient_id: 'PAT9', time: '09:00', specialty: 'x' }],
      totalAffected: 30,
      nextBatch: 4,
      done: oldDone as BatchOutcome,
      batchesDone: 3,
      runs: 2,
    } satisfies CarriedState;
    const s = resumeState(carried);
    expect(s).toMatchObject({ totalAffected: 30, nextBatch: 4, batchesDone: 3, runs: 3 });
    expect(s.remaining.map((a) => a.appointment_id)).toEqual(['A9']);
    expect(s.done.decided_elsewhere).toEqual([]);
  });
});

describe('buildResult: what a person reads at the end', () => {
  const bundle = {
    orchestrator: { name: 'healthcare-orchestrator', version: 2, label: 'staging', source: 'local', hash: 'h' },
    scoring: { name: 'scoring-policy', version: 1, label: 'staging', source: 'local', hash: 'h2' },
    config: { model: { name: 'gpt-x' } },
  } as unknown as PromptBundle;
  const sources = (
    done: ResultSources['state']['done'],
    over: Partial<ResultSources> = {},
    totalAffected = 3,
  ): ResultSources => ({
    mode: 'prompt',
    workflowId: 'reassign-T001-2025-11-21-x',
    input: { providerId: 'T001', date: '2025-11-21', reason: 'sick', promptLabel: 'staging', historyEventLimit: 5000 },
    status: 'completed',
    state: { totalAffected, batchesDone: 1, runs: 1, done },
    bundle,
    ...over,
  });

  test('entries sorted by appointment, decided_by counted, calls per decided appointment', () => {
    const done = completeOutcome({
      ...emptyOutcome(0),
      assignments: [assignment('A3', 'P1', 'code'), assignment('A1', 'P2')],
      waitlisted: [waitlisted('A2')],
    });
    done.llm.calls = 4;
    const r = buildResult(sources(done));
    expect(r.assignments.map((a) => a.appointment_id)).toEqual(['A1', 'A3']);
    expect(r.decided_by).toEqual({ prompt: 2, code: 1 });
    expect(r.llm).toMatchObject({ calls: 4, calls_per_appointment: 1.33, model: 'gpt-x', offline: false });
    expect(r.message).toBe(
      '3 affected: 2 reassigned, 1 waitlisted · completed · prompt healthcare-orchestrator v2 (staging)',
    );
  });
  test('undecided, decided elsewhere and fallback appointments are all in the message', () => {
    const done = completeOutcome({ ...emptyOutcome(0), assignments: [assignment('A1', 'P2', 'code')] });
    done.undecided.push({ appointment_id: 'A2', reason: 'cancelled' });
    done.decided_elsewhere.push({ appointment_id: 'A3', detail: 'other run' });
    done.fallbacks.push({ batch: 1, reason: 'model down', appointments: ['A1'], notified: [] });
    const r = buildResult(sources(done, { status: 'completed_with_issues' }));
    expect(r.message).toBe(
      '3 affected: 1 reassigned, 0 waitlisted, 1 undecided, 1 decided by another run (1 by the code-driven fallback) · completed_with_issues · prompt healthcare-orchestrator v2 (staging)',
    );
  });
  test('nothing to do, and a code-driven run names no model', () => {
    const r = buildResult(sources(emptyOutcome(0), { mode: 'code' }, 0));
    expect(r.message).toMatch(/^no appointment of T001 on 2025-11-21 is left to reassign: nothing to do/);
    expect(r.llm.model).toBe('none (code-driven)');
    expect(r.llm.calls_per_appointment).toBe(0);
  });
  test('the result names the prompts the run pinned, from its bundle', () => {
    const r = buildResult(sources(emptyOutcome(0)));
    expect(r.prompt).toEqual({ orchestrator: bundle.orchestrator, scoring: bundle.scoring });
  });

  test('the run summary keeps counts instead of lists, and names every appointment the run did not move', () => {
    const done = emptyOutcome(0);
    done.assignments.push(assignment('A1', 'P2'));
    done.undecided.push({ appointment_id: 'A2', reason: 'cancelled before a decision' });
    done.decided_elsewhere.push({ appointment_id: 'A3', detail: 'already reassigned by another run' });
    done.discrepancies.push('batch 1: the model counted 2 assignments, the tools record 1');
    const summary = runSummary(buildResult(sources(done, { status: 'completed_with_issues' })));
    expect(summary).toMatchObject({ status: 'completed_with_issues', undecided: 1, discrepancies: 1 });
    expect(summary).not.toHaveProperty('assignments');
    expect(summary.undecided_appointments).toEqual([
      { appointment_id: 'A2', reason: 'cancelled before a decision' },
      { appointment_id: 'A3', reason: 'already reassigned by another run' },
    ]);
  });
});

describe('compareShadow: a shadow run, appointment by appointment', () => {
  const writer = {
    outcome: { assignments: [assignment('A1', 'P1'), assignment('A2', 'P1')], waitlisted: [waitlisted('A3')] },
    asked: ['A2'],
  };

  test('the same decisions and the same approvals asked agree', () => {
    const entries = compareShadow(['A1', 'A2', 'A3'], writer, structuredClone(writer));
    expect(entries.every((e) => e.agree && e.differences.length === 0)).toBe(true);
  });

  test('each way of differing is named, and described in one line', () => {
    const shadow = {
      outcome: {
        assignments: [assignment('A1', 'P2')],
        waitlisted: [waitlisted('A2')],
        decided_elsewhere: [],
      },
      asked: ['A1'],
    };
    const entries = compareShadow(['A1', 'A2', 'A3'], writer, shadow);
    expect(entries.map((e) => [e.appointment_id, e.writer, e.shadow, e.differences])).toEqual([
      ['A1', 'P1', 'P2', ['provider differs', 'approval asked vs not']],
      ['A2', 'P1', 'waitlist', ['assign vs waitlist', 'approval asked vs not']],
      ['A3', 'waitlist', 'undecided', ['decided vs not']],
    ]);
    expect(entries.some((e) => e.agree)).toBe(false);
    expect(describeDisagreement(entries[1]!, 'code', 'prompt')).toBe(
      'A2: code-driven P1 (approval asked), prompt-driven shadow waitlist · assign vs waitlist, approval asked vs not',
    );
  });
});
