/** The bench worker's one extra activity: does nothing, so what the floor measures is Temporal's own cost. */
export const benchActivities = {
  async noop(): Promise<void> {},
};
export type BenchActivities = typeof benchActivities;
