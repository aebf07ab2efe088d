import { proxyActivities } from '@temporalio/workflow';
import type { BenchActivities } from './benchActivities';

/**
 * Benchmark only: K no-op activities, at most `parallel` in flight (our batches' parallelism:
 * batch_size × max_parallel_batches). Its rate is the floor of this machine: what any design on Temporal
 * pays per activity before doing any work. Deterministic: no clock, no randomness.
 */
const { noop } = proxyActivities<BenchActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

interface FloorInput {
  activities: number;
  parallel: number;
}

export async function floorWorkflow(input: FloorInput): Promise<{ activities: number }> {
  let started = 0;
  const lane = async () => {
    while (started < input.activities) {
      started += 1;
      await noop();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(input.parallel, input.activities)) }, lane));
  return { activities: started };
}
