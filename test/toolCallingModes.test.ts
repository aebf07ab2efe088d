import { decideNextTurn } from '../src/llm/offline/agent';
import type { ChatMessage } from '../src/llm/chatTypes';
import type { Fault } from '../src/llm/offline/faults';
import { decisionsOf } from '../src/cli/format';
import { approveSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { auditStore, startHarness, waitForProgress, type Harness, type PromptDoc } from './support/harness';
import { seedInput } from './support/seed';

/**
 * The tool-call modes and the two-turn batch against the real Temporal dev server, with the offline stand-in
 * served over the OpenAI protocol: json_schema mode (a schema per turn, the reply read back into tool calls),
 * auto (native, then json_schema when the endpoint shows no tool support), tool calls written as text, an
 * endpoint that ignores the schema, and the production prompt's prefetch and notify after_decision.
 */

const ORACLE = { A001: 'P001', A002: 'P001', A003: 'waitlist' };

/** The production version (v3) with other tool-call settings. */
const production =
  (config: Record<string, unknown>) =>
  (files: { orchestrator: PromptDoc }): void => {
    const v = files.orchestrator.versions.find((x) => x.labels.includes('production'))!;
    Object.assign(v.config, config);
  };

/** What the model was asked, per request: which tools (read from the tools or the schema) and how. */
interface Seen {
  offered: readonly string[] | undefined;
  schemaMode: boolean;
}

async function harnessWith(
  config: Record<string, unknown>,
  faults: Fault[] = [],
): Promise<{ h: Harness; seen: Seen[] }> {
  const seen: Seen[] = [];
  const agent = (messages: ChatMessage[], offered?: readonly string[]) => {
    seen.push({ offered, schemaMode: /REPLY FORMAT/.test(messages[0]?.content ?? '') });
    return decideNextTurn(messages, offered);
  };
  const h = await startHarness({ editPrompts: production(config), agent, faults });
  return { h, seen };
}

async function runSeed(h: Harness): Promise<ReassignmentResult> {
  await h.reload();
  const handle = await h.start('promptDrivenReassignment', seedInput);
  await waitForProgress(handle, (p) => p.pending_approvals.some((a) => a.appointment_id === 'A002'));
  await handle.signal(approveSignal, { appointmentId: 'A002', by: 'test' });
  return handle.result();
}

async function expectCleanOracleRun(r: ReassignmentResult, h: Harness): Promise<void> {
  expect(r.status).toBe('completed');
  expect(decisionsOf(r)).toEqual(ORACLE);
  expect(r.fallbacks).toEqual([]);
  expect(r.discrepancies).toEqual([]);
  expect(r.llm.invalid_tool_calls).toBe(0);
  expect(r.assignments.every((a) => a.decided_by === 'prompt')).toBe(true);
  // One notification per decision, whoever sent it.
  expect((await h.store.counts()).notifications).toBe(3);
  expect(await auditStore(h.store)).toEqual([]);
}

describe('json_schema mode', () => {
  let h: Harness;
  let seen: Seen[];
  beforeAll(async () => ({ h, seen } = await harnessWith({ tool_calling: 'json_schema' })));
  afterAll(() => h.close());

  test('every turn asks for a schema; the calls go through the same tools, guards and approvals', async () => {
    const r = await runSeed(h);
    await expectCleanOracleRun(r, h);
    expect(r.llm.schema_turns).toBe(r.llm.calls);
    expect(seen.length).toBe(r.llm.calls);
    expect(seen.every((s) => s.schemaMode)).toBe(true);
    // Decide (A001 assigned, A002 asked about, A003 waitlisted), assign the approved A002, summary.
    expect(r.llm.calls).toBe(3);
    // The turns after the first offer only what is left: the summary turn offers no tool at all.
    expect(seen[0]!.offered).toEqual(['request_approval', 'assign_appointment', 'add_to_waitlist']);
    expect(seen.at(-1)!.offered).toEqual([]);
    expect(r.assignments.find((a) => a.appointment_id === 'A002')?.approved_by).toBe('test');
  });
});

describe('auto: native first, json_schema when the endpoint shows no tool support', () => {
  test('a model that answers native requests in prose is asked again under a schema, not given up', async () => {
    const { h, seen } = await harnessWith({ tool_calling: 'auto' }, [{ mode: 'text_only' }]);
    try {
      const r = await runSeed(h);
      await expectCleanOracleRun(r, h);
      expect(r.llm.mode_switches).toBe(1);
      expect(seen[0]!.schemaMode).toBe(false);
      expect(seen.slice(1).every((s) => s.schemaMode)).toBe(true);
      expect(r.llm.schema_turns).toBe(r.llm.calls - 1);
    } finally {
      await h.close();
    }
  });

  test('native: the same endpoint ends in model_stuck with fallback off (the reason names the modes)', async () => {
    const { h } = await harnessWith({ tool_calling: 'native', fallback_to_code: false }, [{ mode: 'text_only' }]);
    try {
      await h.reload();
      const r = await h.run('promptDrivenReassignment', seedInput);
      expect(r.status).toBe('model_stuck');
      expect(r.undecided.map((u) => u.reason).join(' ')).toMatch(/set tool_calling: json_schema or auto/);
      expect(r.llm.mode_switches).toBeUndefined();
    } finally {
      await h.close();
    }
  });
});

describe('native mode: tool calls written as text', () => {
  test('are recovered, counted and run like any call', async () => {
    const { h } = await harnessWith({ tool_calling: 'native' }, [{ mode: 'text_tool_calls' }]);
    try {
      const r = await runSeed(h);
      await expectCleanOracleRun(r, h);
      // Every call of the run was written as text: A001, A002 (approval), A003, then A002's assignment.
      expect(r.llm.recovered_tool_calls).toBe(4);
    } finally {
      await h.close();
    }
  });
});

describe('an endpoint that ignores response_format', () => {
  test('once: the reply is counted against the model, it is told the format, and the run goes on', async () => {
    const { h } = await harnessWith({ tool_calling: 'json_schema' }, [{ mode: 'ignores_schema', times: 1 }]);
    try {
      const r = await runSeed(h);
      expect(r.status).toBe('completed');
      expect(decisionsOf(r)).toEqual(ORACLE);
      expect(r.fallbacks).toEqual([]);
      expect(r.llm.calls).toBe(4);
    } finally {
      await h.close();
    }
  });

  test('always: the budget of errors ends the conversation and the fallback decides, with the reason', async () => {
    const { h } = await harnessWith({ tool_calling: 'json_schema' }, [{ mode: 'ignores_schema' }]);
    try {
      const r = await runSeed(h);
      expect(r.status).toBe('completed_with_fallback');
      expect(r.fallbacks[0]!.reason).toMatch(/kept answering outside the JSON schema/);
      expect(decisionsOf(r)).toEqual(ORACLE);
      expect(await auditStore(h.store)).toEqual([]);
    } finally {
      await h.close();
    }
  });
});

describe('the production prompt: candidates fetched before the first turn, patients told after each decision', () => {
  test('two decision turns and the summary; the model is offered neither find_candidates nor notify_patient', async () => {
    const { h, seen } = await harnessWith({});
    try {
      const handle = await (async () => {
        await h.reload();
        return h.start('promptDrivenReassignment', seedInput);
      })();
      await waitForProgress(handle, (p) => p.pending_approvals.some((a) => a.appointment_id === 'A002'));
      // While A002 waits for a person, A001's and A003's patients are told already.
      expect((await h.store.counts()).notifications).toBe(2);
      await handle.signal(approveSignal, { appointmentId: 'A002', by: 'test' });
      const r: ReassignmentResult = await handle.result();
      await expectCleanOracleRun(r, h);
      expect(r.prompt.orchestrator.version).toBe(3);
      expect(r.llm.calls).toBe(3);
      expect(seen.every((s) => !s.offered!.includes('find_candidates') && !s.offered!.includes('notify_patient'))).toBe(
        true,
      );
      // A turn's calls and the notifications are batched: one activity each, every call recorded.
      const history = await handle.fetchHistory();
      const batchId = `${handle.workflowId}-batch-0001`;
      const batch = await h.client.workflow.getHandle(batchId).fetchHistory();
      const types = (batch.events ?? []).flatMap((e) => {
        const t = e.activityTaskScheduledEventAttributes?.activityType?.name;
        return t ? [t] : [];
      });
      expect(history.events!.length).toBeGreaterThan(0);
      // Turn 1's decisions (A001, A003), then their two notifications: one activity each.
      expect(types.filter((t) => t === 'callTools')).toHaveLength(2);
      // The prefetch is a local activity: a marker in the batch's history, not a scheduled activity.
      const markers = (batch.events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName);
      expect(markers.map((e) => e.markerRecordedEventAttributes!.markerName)).toContain('core_local_activity');
      // A single call is a callTool of its own: the approval gate's score of A002, A002 once approved, its notification.
      expect(types.filter((t) => t === 'callTool')).toHaveLength(3);
      expect(types.filter((t) => t === 'chatCompletion')).toHaveLength(3);
    } finally {
      await h.close();
    }
  });
});
