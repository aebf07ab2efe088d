import { benchPromptEdit } from '../src/bench/prompts';
import { countViolations, measureReassignment, TARGETS, type Measurement } from '../src/bench/measure';
import { syntheticDataset } from '../src/domain/syntheticData';
import { startHarness, uniqueName, type Harness } from './support/harness';
import { reassignmentWorkflowId } from '../src/workflowIds';

/**
 * The CI guard of the benchmark (issue 5): a quick bench at small N, prompt-driven, zero latency, measured
 * by the same function as `npm run bench`. It fails when a change makes the design costlier in what does not
 * depend on machine speed: LLM calls and input tokens per appointment, the largest history. Timings are
 * printed, never asserted.
 */

const SIZES = [10, 100];

describe('bench guard: the costs that do not depend on machine speed stay within the targets', () => {
  let h: Harness;
  const measured: Measurement[] = [];

  beforeAll(async () => {
    h = await startHarness({
      data: syntheticDataset({ appointments: SIZES[0]! }),
      editPrompts: ({ orchestrator }) => benchPromptEdit(orchestrator),
    });
  });
  afterAll(async () => {
    if (measured.length > 0) {
      console.log(
        measured
          .map(
            (m) =>
              `bench guard N=${m.n}: ${m.per_appointment.llm_calls} LLM calls/appt, ${m.per_appointment.input_tokens} input tokens/appt, ${m.per_appointment.history_events} history events/appt, largest history ${m.largest_history.events} events / ${Math.round(m.largest_history.bytes / 1024)} KB; ${m.wall_ms} ms (${m.ms_per_appointment} ms/appt, not asserted)`,
          )
          .join('\n'),
      );
    }
    await h.close();
  });

  test.each(SIZES)(
    `prompt-driven at N=%i: ≤ ${TARGETS.llmCallsPerAppointment} LLM calls and ≤ ${TARGETS.inputTokensPerAppointment} input tokens per appointment, no history over ${TARGETS.historyEvents} events or 4 MB`,
    async (n) => {
      await h.reload(syntheticDataset({ appointments: n }));
      const m = await measureReassignment({
        client: h.client,
        taskQueue: h.taskQueue,
        mode: 'prompt',
        n,
        input: { providerId: 'T001', date: '2025-11-21', reason: 'bench guard' },
        workflowId: reassignmentWorkflowId({
          providerId: 'T001',
          date: '2025-11-21',
          tag: `bench-guard-${n}`,
          stamp: uniqueName('t'),
        }),
      });
      measured.push(m);
      expect(countViolations(m)).toEqual([]);
    },
  );
});
