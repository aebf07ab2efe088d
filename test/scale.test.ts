import { syntheticDataset } from '../src/domain/syntheticData';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { auditStore, startHarness, type Harness, type PromptDoc } from './support/harness';
import { batchWorkflowId } from '../src/workflowIds';

/**
 * 1,000 affected appointments through the prompt-driven workflow: it completes, every appointment is decided
 * exactly once, and no single workflow history (parent runs or batches) exceeds 10,000 events.
 */

const N = 1000;
const HISTORY_LIMIT = 10_000;

describe(`a reassignment of ${N} appointments`, () => {
  let h: Harness;
  let result: ReassignmentResult;
  const workflowId = `reassign-T001-2025-11-21-scale-${Date.now()}`;

  beforeAll(async () => {
    h = await startHarness({
      data: syntheticDataset({ appointments: N, seed: 7 }),
      // Bulk runs: nobody approves a thousand assignments by hand; more batches in flight on this small machine.
      editPrompts: ({ orchestrator }: { orchestrator: PromptDoc }) => {
        const production = orchestrator.versions.find((v) => v.labels.includes('production'))!;
        Object.assign(production.config, { max_parallel_batches: 8 });
        production.config.approval = { bands: [], timeout: '24h', on_timeout: 'waitlist' };
      },
    });
    // A low limit for the parent's own history makes it continue as new during this run.
    const handle = await h.start(
      'promptDrivenReassignment',
      { providerId: 'T001', date: '2025-11-21', reason: 'leave', historyEventLimit: 300 },
      workflowId,
    );
    result = await handle.result();
  }, 15 * 60_000);
  afterAll(() => h.close());

  test('completes with every appointment decided exactly once', async () => {
    expect(result.status).toBe('completed');
    expect(result.total_affected).toBe(N);
    expect(result.successful_assignments + result.waitlist_entries).toBe(N);
    expect(result.successful_assignments).toBeGreaterThan(0);
    expect(result.waitlist_entries).toBeGreaterThan(0);
    expect(result.discrepancies).toEqual([]);
    const c = await h.store.counts();
    expect(c.assignments + c.waitlist).toBe(N);
    expect(c.notifications).toBe(N);
    expect(await auditStore(h.store)).toEqual([]);
  });

  test('the parent continued as new, carrying its exact state', () => {
    expect(result.runs).toBeGreaterThan(1);
    expect(result.batches).toBe(N / 10);
  });

  test(
    `no workflow history exceeds ${HISTORY_LIMIT} events`,
    async () => {
      const sizes: Record<string, number> = {};
      for await (const execution of h.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
        const history = await h.client.workflow.getHandle(workflowId, execution.runId).fetchHistory();
        sizes[`parent ${execution.runId}`] = history.events?.length ?? 0;
      }
      expect(Object.keys(sizes)).toHaveLength(result.runs);
      for (let b = 1; b <= result.batches; b++) {
        const id = batchWorkflowId(workflowId, b);
        sizes[id] = (await h.client.workflow.getHandle(id).fetchHistory()).events?.length ?? 0;
      }
      const largest = Math.max(...Object.values(sizes));
      console.log(
        `${N} appointments: ${result.runs} parent runs, ${result.batches} batches, largest history ${largest} events, LLM calls ${result.llm.calls} (${result.llm.calls_per_appointment}/appointment)`,
      );
      expect(largest).toBeGreaterThan(0);
      expect(largest).toBeLessThanOrEqual(HISTORY_LIMIT);
    },
    5 * 60_000,
  );
});
