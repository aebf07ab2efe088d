import type { Fault } from '../src/llm/offline/faults';
import type { ChatMessage } from '../src/llm/chatTypes';
import { decideNextTurn, type AgentReply } from '../src/llm/offline/agent';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { decisionsOf } from '../src/cli/format';
import { auditStore, startHarness, type HarnessOptions, type PromptDoc } from './support/harness';
import { seedInput } from './support/seed';

/**
 * The fault matrix: the model endpoint misbehaves in each way a real one does, over the real HTTP protocol,
 * and each case ends in a defined way: retried with back-off (honouring Retry-After), sent back to the
 * model as a tool error, stopped by a budget, or handed to the code-driven fallback. Nothing invalid ever
 * reaches the database. The staging label asks for no approval, so every run can finish unattended.
 */

const input = { ...seedInput, promptLabel: 'staging' };
/** What the code-driven oracle decides on the demo data under the staging prompt. */
const ORACLE = { A001: 'P001', A002: 'P001', A003: 'waitlist' };

interface Observed {
  result: ReassignmentResult;
  decisions: Record<string, string>;
  notifications: number;
  audit: string[];
  arrivals: number[];
  escalations: string[];
}

async function runWith(options: HarnessOptions): Promise<Observed> {
  const h = await startHarness(options);
  try {
    const result = await h.run('promptDrivenReassignment', input);
    const db: Record<string, string> = {};
    for (const id of Object.keys(ORACLE)) {
      const a = (await h.store.appointment(id))!;
      db[id] = a.status === 'waitlisted' ? 'waitlist' : a.provider_id;
    }
    // The result must say what the database holds.
    expect(decisionsOf(result)).toEqual(Object.fromEntries(Object.entries(db).filter(([, v]) => v !== 'T001')));
    return {
      result,
      decisions: db,
      notifications: (await h.store.counts()).notifications!,
      audit: await auditStore(h.store),
      arrivals: h.model.arrivals(),
      escalations: (await h.store.escalations({})).map((e) => e.kind),
    };
  } finally {
    await h.close();
  }
}

const gaps = (t: number[]) => t.slice(1).map((x, i) => x - t[i]!);

describe('transient endpoint errors are retried with back-off', () => {
  test('HTTP 429 with Retry-After: the retry waits as long as the endpoint asked', async () => {
    const o = await runWith({ faults: [{ mode: 'rate_limit', times: 2, retry_after_s: 2 }] });
    expect(o.result.status).toBe('completed');
    expect(o.decisions).toEqual(ORACLE);
    // Requests 1 and 2 were refused with "retry after 2 s"; Temporal's own first back-off would be 1 s.
    const [first, second] = gaps(o.arrivals);
    expect(first).toBeGreaterThanOrEqual(1900);
    expect(second).toBeGreaterThanOrEqual(1900);
    expect(o.audit).toEqual([]);
  });

  test('HTTP 500: retried with exponential back-off, then the run goes on', async () => {
    const o = await runWith({ faults: [{ mode: 'server_error', times: 2 }] });
    expect(o.result.status).toBe('completed');
    expect(o.decisions).toEqual(ORACLE);
    const [first, second] = gaps(o.arrivals);
    expect(first).toBeGreaterThanOrEqual(900); // initial interval 1 s
    expect(second).toBeGreaterThanOrEqual(1900); // then doubled
    expect(o.result.fallbacks).toEqual([]);
    // Every HTTP attempt is counted, the failed ones too, and the time spent on them (back-off included).
    expect(o.result.llm.failed_attempts).toBe(2);
    expect(o.result.llm.attempts).toBe(o.result.llm.calls + 2);
    expect(o.result.llm.time_ms).toBeGreaterThanOrEqual(2900);
  });

  test('a hung connection is cut by the client timeout and retried', async () => {
    const o = await runWith({ faults: [{ mode: 'hang', times: 1 }], env: { LLM_TIMEOUT_MS: '1500' } });
    expect(o.result.status).toBe('completed');
    expect(o.decisions).toEqual(ORACLE);
    expect(gaps(o.arrivals)[0]).toBeGreaterThanOrEqual(1400);
  });
});

describe('bad calls go back to the model as tool errors, and it recovers', () => {
  test.each<[Fault['mode'], number]>([
    ['malformed_json', 2],
    ['unknown_tool', 2],
    ['invalid_arguments', 2],
    ['unknown_ids', 0],
    ['forbidden_assignment', 0],
  ])('%s in the first two replies', async (mode, invalid) => {
    const o = await runWith({ faults: [{ mode, times: 2 }] });
    expect(o.result.status).toBe('completed');
    expect(o.result.fallbacks).toEqual([]);
    expect(o.result.decided_by).toEqual({ prompt: 3, code: 0 });
    expect(o.decisions).toEqual(ORACLE);
    // Schema-level mistakes are counted; refusals by the domain (unknown ids, forbidden moves) are ordinary results.
    expect(o.result.llm.invalid_tool_calls).toBe(invalid);
    expect(o.notifications).toBe(3);
    expect(o.audit).toEqual([]);
    // The model decided: no fallback escalation (A003, waitlisted after its date, is escalated as imminent).
    expect(o.escalations).toEqual(['waitlisted_soon']);
  });
});

describe('a model that cannot finish hands its batch to the code-driven fallback', () => {
  test.each<[Fault['mode'], RegExp]>([
    ['endless_loop', /turn budget of 12/],
    ['empty_reply', /without a valid summary/],
    ['refusal', /without a valid summary/],
    ['malformed_json', /more than 8 invalid tool calls/],
  ])('%s forever: %s, then the code decides, in the same run', async (mode, why) => {
    const o = await runWith({ faults: [{ mode }] });
    expect(o.result.status).toBe('completed_with_fallback');
    expect(o.result.fallbacks).toEqual([expect.objectContaining({ batch: 1, appointments: ['A001', 'A002', 'A003'] })]);
    expect(o.result.fallbacks[0]!.reason).toMatch(why);
    expect(o.result.decided_by).toEqual({ prompt: 0, code: 3 });
    expect(o.result.assignments.every((a) => a.decided_by === 'code')).toBe(true);
    expect(o.decisions).toEqual(ORACLE);
    expect(o.notifications).toBe(3);
    expect(o.audit).toEqual([]);
    // The fallback decided all three: a head of department sees it (beside the waitlisted A003, whose date is past).
    expect(o.escalations.sort()).toEqual(['fallback_majority', 'waitlisted_soon']);
  });

  test('a reply cut off at max_tokens: no second try the same way, the fallback says why', async () => {
    const o = await runWith({ faults: [{ mode: 'truncated' }] });
    expect(o.result.status).toBe('completed_with_fallback');
    expect(o.result.fallbacks[0]!.reason).toMatch(
      /cut off at max_tokens 1024 \(finish_reason "length"\): raise model.max_tokens/,
    );
    expect(o.arrivals).toHaveLength(1);
    expect(o.result.llm).toMatchObject({ calls: 1, attempts: 1, failed_attempts: 0 });
    expect(o.result.llm.prompt_tokens).toBeGreaterThan(0); // the cut-off reply's tokens are counted
    expect(o.decisions).toEqual(ORACLE);
    expect(o.audit).toEqual([]);
  });

  test.each([500, 400] as const)(
    'the conversation does not fit the context window (HTTP %i): not retried, the fallback says why',
    async (status) => {
      const o = await runWith({ faults: [{ mode: 'context_overflow', status }] });
      expect(o.arrivals).toHaveLength(1);
      expect(o.result.status).toBe('completed_with_fallback');
      expect(o.result.fallbacks[0]!.reason).toMatch(/does not fit the model's context window/);
      expect(o.result.llm).toMatchObject({ calls: 0, attempts: 1, failed_attempts: 1 });
      expect(o.decisions).toEqual(ORACLE);
      expect(o.audit).toEqual([]);
    },
  );

  test('a model served without tool support (prose, no tool call): one call, then the fallback says why', async () => {
    const o = await runWith({ faults: [{ mode: 'text_only' }] });
    expect(o.arrivals).toHaveLength(1);
    expect(o.result.status).toBe('completed_with_fallback');
    expect(o.result.fallbacks[0]!.reason).toMatch(/does not seem to support tool calling/);
    expect(o.decisions).toEqual(ORACLE);
    expect(o.audit).toEqual([]);
  });

  test('the model unavailable past its retry policy: the code finishes the batch', async () => {
    // Retry-After of 0.1 s keeps the six attempts quick; the attempts are the retry policy's.
    const o = await runWith({ faults: [{ mode: 'server_error', retry_after_s: 0.1 }] });
    expect(o.arrivals).toHaveLength(6);
    expect(o.result.status).toBe('completed_with_fallback');
    expect(o.result.fallbacks[0]!.reason).toMatch(/model is unavailable.*500/);
    expect(o.result.llm.calls).toBe(0);
    expect(o.result.llm).toMatchObject({ attempts: 6, failed_attempts: 6 });
    expect(o.decisions).toEqual(ORACLE);
    expect(o.audit).toEqual([]);
  });

  test('a model that stops halfway: it keeps what it decided, the code does the rest', async () => {
    // Honest for two turns (candidates, then decisions), then silent: nobody was told yet.
    const agent = (messages: ChatMessage[]): AgentReply =>
      messages.filter((m) => m.role === 'assistant').length < 2
        ? decideNextTurn(messages)
        : { content: '', toolCalls: [] };
    const o = await runWith({ agent });
    expect(o.result.status).toBe('completed_with_fallback');
    expect(o.result.decided_by).toEqual({ prompt: 3, code: 0 });
    expect(o.result.fallbacks).toEqual([
      expect.objectContaining({ appointments: [], notified: ['A001', 'A002', 'A003'] }),
    ]);
    expect(o.decisions).toEqual(ORACLE);
    expect(o.notifications).toBe(3);
    expect(o.audit).toEqual([]);
  });

  test.each<[Fault['mode'], 'budget_exhausted' | 'model_stuck', RegExp]>([
    ['endless_loop', 'budget_exhausted', /turn budget of 12/],
    ['truncated', 'model_stuck', /cut off at max_tokens 1024/],
    ['text_only', 'model_stuck', /does not seem to support tool calling/],
    ['malformed_json', 'model_stuck', /more than 8 invalid tool calls/],
  ])(
    'with the fallback off in the prompt config, %s stops the batch as %s, with its reason, and nothing more is written',
    async (mode, status, why) => {
      const o = await runWith({
        faults: [{ mode }],
        editPrompts: ({ orchestrator }: { orchestrator: PromptDoc }) => {
          for (const v of orchestrator.versions) v.config.fallback_to_code = false;
        },
      });
      expect(o.result.status).toBe(status);
      expect(o.result.fallbacks).toEqual([]);
      expect(o.result.undecided.map((u) => u.appointment_id)).toEqual(['A001', 'A002', 'A003']);
      expect(o.result.undecided.every((u) => why.test(u.reason))).toBe(true);
      expect(o.decisions).toEqual({ A001: 'T001', A002: 'T001', A003: 'T001' });
      expect(o.notifications).toBe(0);
    },
  );
});

test('a final summary that contradicts the tools is flagged; the record wins', async () => {
  const o = await runWith({ faults: [{ mode: 'false_summary' }] });
  expect(o.result.status).toBe('completed_with_issues');
  expect(o.decisions).toEqual(ORACLE);
  expect(o.result.waitlisted.map((w) => w.appointment_id)).toEqual(['A003']);
  expect(o.result.discrepancies.join('\n')).toMatch(/reported A003 → P001, the tools record no assignment/);
});

test('a refused API key fails the run before anything is written', async () => {
  const h = await startHarness({ faults: [{ mode: 'unauthorized' }] });
  try {
    const handle = await h.start('promptDrivenReassignment', input);
    await expect(handle.result()).rejects.toThrow();
    const description = await handle.describe();
    expect(description.status.name).toBe('FAILED');
    const failure = await handle.result().catch((e: Error & { cause?: Error }) => e.cause?.message ?? e.message);
    expect(failure).toMatch(/refused the API key \(401\)/);
    expect(await h.store.unavailability('T001', '2025-11-21')).toBeUndefined();
    expect(await h.store.counts()).toMatchObject({ assignments: 0, waitlist: 0, notifications: 0, tool_calls: 0 });
    // The failed run's record is closed, not left 'running' for the audit to skip.
    expect(await h.store.runRecord(handle.workflowId)).toMatchObject({
      status: 'failed',
      finished_at: expect.any(String),
    });
  } finally {
    await h.close();
  }
});
