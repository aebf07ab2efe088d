import type { OutcomeCounts } from '../src/domain/outcomes';
import { outcomeFiguresOf, wilsonInterval } from '../src/report/outcomeFigures';
import { byPath, byPrompt, type ReadRun } from '../src/report/runReport';
import type { ReassignmentResult } from '../src/workflows/contract/types';

/** The report's outcome figures: the Wilson interval, the figures of a row, and which runs a row's outcomes are over. */

const counts = (c: Partial<OutcomeCounts>): OutcomeCounts => ({
  offered_appointments: 0,
  offers: 0,
  accepted: 0,
  declined: 0,
  no_answer: 0,
  open: 0,
  satisfaction_count: 0,
  satisfaction_sum: 0,
  escalations: 0,
  ...c,
});

const rounded = (ci: [number, number] | null) => ci && ci.map((x) => Math.round(x * 10_000) / 10_000);

describe('wilsonInterval', () => {
  test('matches the published 95% Wilson intervals', () => {
    // Reference values: Wilson (1927), as computed by statsmodels' proportion_confint(method="wilson").
    expect(rounded(wilsonInterval(5, 10))).toEqual([0.2366, 0.7634]);
    expect(rounded(wilsonInterval(1, 1))).toEqual([0.2065, 1]);
    expect(rounded(wilsonInterval(0, 10))).toEqual([0, 0.2775]);
    expect(rounded(wilsonInterval(1, 10))).toEqual([0.0179, 0.4042]);
    // Symmetric: 9 out of 10 is 1 out of 10 mirrored.
    expect(rounded(wilsonInterval(9, 10))).toEqual([0.5958, 0.9821]);
  });

  test('a small sample is wide, a large one narrow; no sample, no interval', () => {
    const width = (ci: [number, number] | null) => ci![1] - ci![0];
    expect(width(wilsonInterval(2, 3))).toBeGreaterThan(0.6);
    expect(width(wilsonInterval(200, 300))).toBeLessThan(0.11);
    expect(wilsonInterval(0, 0)).toBeNull();
    expect(() => wilsonInterval(4, 3)).toThrow(RangeError);
  });
});

describe('outcomeFiguresOf', () => {
  test('rates over answered offers, satisfaction mean with its count, escalations per 100 appointments', () => {
    const f = outcomeFiguresOf(
      counts({
        offered_appointments: 4,
        offers: 6,
        accepted: 3,
        declined: 1,
        no_answer: 1,
        open: 1,
        satisfaction_count: 2,
        satisfaction_sum: 9,
        escalations: 1,
      }),
      8,
    );
    expect(f).toEqual({
      offered_appointments: 4,
      offers: 6,
      accepted: 3,
      declined: 1,
      no_answer: 1,
      open: 1,
      answered: 5,
      acceptance_rate: 0.6,
      acceptance_ci95: [0.2307, 0.8824],
      satisfaction_mean: 4.5,
      satisfaction_count: 2,
      escalations: 1,
      escalations_per_100: 12.5,
      offers_per_offered_appointment: 1.5,
    });
  });

  test('nothing to divide is null, not zero', () => {
    expect(outcomeFiguresOf(counts({ offered_appointments: 1, offers: 1, open: 1 }), 0)).toMatchObject({
      answered: 0,
      acceptance_rate: null,
      acceptance_ci95: null,
      satisfaction_mean: null,
      escalations_per_100: null,
      offers_per_offered_appointment: 1,
    });
  });
});

/** A completed run as the report reads it: only what the figures use. */
function run(workflowId: string, version: number, mode: 'prompt' | 'code', appointments: number): ReadRun {
  const result = {
    workflow_id: workflowId,
    mode,
    total_affected: appointments,
    successful_assignments: appointments,
    waitlist_entries: 0,
    approvals: { requested: 0 },
    fallbacks: [],
    prompt: {
      orchestrator: { name: 'healthcare-orchestrator', version, source: 'local', fallback: false },
      scoring: { fallback: false },
    },
    llm: { calls: 0, prompt_tokens: 0, completion_tokens: 0, offline: true },
  } as unknown as ReassignmentResult;
  return { result, duration_s: 1 };
}

describe('rows with outcomes', () => {
  /** The store's counts per run, summed over the runs asked for; the asks are kept. */
  const perRun: Record<string, Partial<OutcomeCounts>> = {
    'reassign-a': { offered_appointments: 2, offers: 2, accepted: 1, declined: 1, escalations: 0 },
    // The re-offer run of reassign-a's declined appointment: same pinned prompt, same row.
    'follow-up-A002-reoffer-1': { offered_appointments: 1, offers: 1, accepted: 1, satisfaction_count: 1 },
    'reassign-b': { offered_appointments: 3, offers: 3, no_answer: 3, escalations: 2 },
  };
  const asked: string[][] = [];
  const source = (ids: readonly string[]) => {
    asked.push([...ids].sort());
    return ids.reduce((sum, id) => {
      const c = counts(perRun[id] ?? {});
      for (const k of Object.keys(sum) as (keyof OutcomeCounts)[]) sum[k] += c[k];
      return sum;
    }, counts({}));
  };
  const runs = [
    run('reassign-a', 3, 'prompt', 3),
    run('follow-up-A002-reoffer-1', 3, 'prompt', 1),
    run('reassign-b', 2, 'code', 3),
  ];

  test('each row counts the outcomes of its own runs, re-offer runs included', () => {
    asked.length = 0;
    const rows = byPrompt(runs, undefined, source);
    expect(asked.sort()).toEqual([['follow-up-A002-reoffer-1', 'reassign-a'], ['reassign-b']]);
    const v3 = rows.find((r) => r.version === 3)!;
    expect(v3).toMatchObject({ runs: 2, appointments: 4 });
    expect(v3.outcomes).toMatchObject({
      offers: 3,
      accepted: 2,
      declined: 1,
      answered: 3,
      acceptance_rate: 0.6667,
      escalations_per_100: 0,
    });
    expect(rows.find((r) => r.version === 2)!.outcomes).toMatchObject({
      no_answer: 3,
      acceptance_rate: 0,
      escalations: 2,
      escalations_per_100: 66.67,
    });
    expect(byPath(runs, undefined, source).map((r) => [r.path, r.outcomes?.offers])).toEqual([
      ['code', 3],
      ['prompt', 3],
    ]);
  });

  test('the arms of an A/B experiment are rows of their own, each with the outcomes of its runs', () => {
    const inArm = (r: ReadRun, arm: string): ReadRun => ({
      ...r,
      result: { ...r.result, prompt: { ...r.result.prompt, experiment: { experiment: 'weights-ab', arm } } },
    });
    const rows = byPrompt(
      [inArm(run('reassign-a', 3, 'prompt', 3), 'control'), inArm(run('reassign-b', 3, 'prompt', 3), 'treatment')],
      undefined,
      source,
    );
    expect(rows.map((r) => [r.version, r.experiment, r.arm, r.outcomes?.accepted, r.outcomes?.no_answer])).toEqual([
      [3, 'weights-ab', 'control', 1, 0],
      [3, 'weights-ab', 'treatment', 0, 3],
    ]);
  });

  test('without a database the rows are as before: no outcomes field', () => {
    const rows = byPrompt(runs);
    expect(rows.every((r) => !('outcomes' in r))).toBe(true);
  });
});
