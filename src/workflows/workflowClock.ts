/**
 * The time inside workflow code: Temporal's deterministic clock (the sandbox makes `Date` read the time of the
 * workflow task being processed, the same on every replay). Named, so that a reader never wonders whether workflow
 * code reads the machine's clock.
 */
export function workflowTimeMs(): number {
  return new Date().getTime();
}
