import { loadConfig } from '../src/config';
import { hashToUnit, pickArm, type Experiment } from '../src/prompts/experiment';
import type { ReportRow } from '../src/cli/report';
import { approveSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { startHarness, untilVisible, waitForProgress, type Harness } from './support/harness';
import { cliJson, runCli } from './support/processes';
import { seedInput } from './support/seed';

/** A/B experiments: the arm is a pure function of the workflow id; the report aggregates per version and arm. */

const input = seedInput;

const share = (experiment: Experiment, ids: string[], label: string) =>
  ids.filter((id) => pickArm(experiment, id).arm === label).length / ids.length;

describe('arm selection', () => {
  const ids = Array.from({ length: 1000 }, (_, i) => `reassign-T${String(i % 97).padStart(3, '0')}-2025-11-21-${i}`);

  test('shares hold within a few percent over 1,000 ids', () => {
    const halves: Experiment = {
      name: 'exp1',
      arms: [
        { label: 'production', share: 0.5 },
        { label: 'candidate', share: 0.5 },
      ],
    };
    expect(Math.abs(share(halves, ids, 'production') - 0.5)).toBeLessThan(0.04);
    const three: Experiment = {
      name: 'exp2',
      arms: [
        { label: 'production', share: 0.7 },
        { label: 'a', share: 0.2 },
        { label: 'b', share: 0.1 },
      ],
    };
    expect(Math.abs(share(three, ids, 'production') - 0.7)).toBeLessThan(0.04);
    expect(Math.abs(share(three, ids, 'a') - 0.2)).toBeLessThan(0.04);
    expect(Math.abs(share(three, ids, 'b') - 0.1)).toBeLessThan(0.04);
  });

  test('the same id always gets the same arm, and the hash is spread over [0, 1)', () => {
    const exp: Experiment = {
      name: 'exp1',
      arms: [
        { label: 'production', share: 0.5 },
        { label: 'staging', share: 0.5 },
      ],
    };
    for (const id of ids.slice(0, 50))
      expect(pickArm(exp, id)).toEqual(pickArm({ ...exp, arms: exp.arms.map((a) => ({ ...a })) }, id));
    const values = ids.map(hashToUnit);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(new Set(values).size).toBe(ids.length);
  });

  test('a bad experiment or Langfuse setting is refused with one line naming the variable', () => {
    const bad = (env: Record<string, string>) => () => loadConfig(env);
    expect(bad({ PROMPT_EXPERIMENT: '{nope' })).toThrow(/^invalid configuration: PROMPT_EXPERIMENT is not JSON/);
    expect(
      bad({
        PROMPT_EXPERIMENT: '{"name":"e","arms":[{"label":"production","share":0.5},{"label":"staging","share":0.4}]}',
      }),
    ).toThrow(/PROMPT_EXPERIMENT arms shares add up to 0.9, not 1/);
    expect(bad({ PROMPT_EXPERIMENT: '{"name":"e","arms":[{"label":"production","share":1}]}' })).toThrow(
      /PROMPT_EXPERIMENT arms an experiment needs two or more arms/,
    );
    expect(bad({ PROMPT_EXPERIMENT: '@/nonexistent.json' })).toThrow(
      /PROMPT_EXPERIMENT file \/nonexistent.json cannot be read/,
    );
    expect(bad({ PROMPT_SOURCE: 'langfuse' })).toThrow(/PROMPT_SOURCE=langfuse needs LANGFUSE_BASE_URL/);
    expect(bad({ PROMPT_SOURCE: 'cloud' })).toThrow(/PROMPT_SOURCE/);
    expect(bad({ TRACE_MASKING: 'maybe' })).toThrow(/TRACE_MASKING/);
    const defaults = loadConfig({});
    expect(defaults).toMatchObject({
      PROMPT_SOURCE: 'local',
      tracing: false,
      TRACE_MASKING: 'on',
      PROMPT_CACHE_TTL_SECONDS: 0,
    });
    const lf = loadConfig({
      LANGFUSE_BASE_URL: 'http://127.0.0.1:1',
      LANGFUSE_PUBLIC_KEY: 'pk',
      LANGFUSE_SECRET_KEY: 'sk',
    });
    expect(lf).toMatchObject({ PROMPT_SOURCE: 'local', tracing: true });
    expect(
      loadConfig({
        LANGFUSE_BASE_URL: 'http://127.0.0.1:1',
        LANGFUSE_PUBLIC_KEY: 'pk',
        LANGFUSE_SECRET_KEY: 'sk',
        LANGFUSE_TRACING: 'off',
      }).tracing,
    ).toBe(false);
  });
});

describe('an A/B experiment on a worker', () => {
  const experiment: Experiment = {
    name: 'exp-ab',
    arms: [
      { label: 'production', share: 0.5 },
      { label: 'staging', share: 0.5 },
    ],
  };
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { PROMPT_EXPERIMENT: JSON.stringify(experiment) } });
  });
  afterAll(() => h.close());

  /** Two ids per arm, found by the same pure function the worker uses. */
  const idsPerArm = () => {
    const found: Record<string, string[]> = { production: [], staging: [] };
    for (let i = 0; found.production!.length < 2 || found.staging!.length < 2; i++) {
      const id = `reassign-T001-2025-11-21-ab-${process.pid}-${i}`;
      const { arm } = pickArm(experiment, id);
      if (found[arm]!.length < 2) found[arm]!.push(id);
    }
    return found;
  };

  test('each run gets the arm its id picks, recorded in result, memo and search attributes; the report aggregates per version and arm', async () => {
    const ids = idsPerArm();
    const results: ReassignmentResult[] = [];
    for (const [arm, list] of Object.entries(ids)) {
      for (const id of list) {
        await h.reload();
        const handle = await h.start('promptDrivenReassignment', input, id);
        if (arm === 'production') {
          await waitForProgress(handle, (p) => p.pending_approvals.length > 0);
          await handle.signal(approveSignal, { appointmentId: 'A002' });
        }
        const r: ReassignmentResult = await handle.result();
        expect(r.prompt.experiment).toEqual({ experiment: 'exp-ab', arm });
        expect(r.prompt.orchestrator.label).toBe(arm);
        const d = await handle.describe();
        expect(d.searchAttributes).toMatchObject({
          Experiment: ['exp-ab'],
          PromptArm: [arm],
          PromptLabel: [arm],
          PromptSource: ['local'],
        });
        expect((d.memo?.prompt as { experiment?: unknown }).experiment).toEqual({ experiment: 'exp-ab', arm });
        results.push(r);
      }
    }
    // A run asking for another label than production is not in the experiment.
    await h.reload();
    const outside = await h.run('promptDrivenReassignment', { ...input, promptLabel: 'staging' });
    expect(outside.prompt.experiment).toBeUndefined();

    const rows = await untilVisible(
      () =>
        cliJson<ReportRow[]>(['report', '--experiment', 'exp-ab'], {
          TEMPORAL_ADDRESS: h.address,
          TASK_QUEUE: h.taskQueue,
        }),
      (found) => found.reduce((n, x) => n + x.runs, 0) === 4,
    );
    const byArm = Object.fromEntries(rows.map((r) => [r.arm, r]));
    expect(byArm.production).toMatchObject({
      prompt: 'healthcare-orchestrator',
      version: 3,
      runs: 2,
      appointments: 6,
      assigned: 4,
      waitlisted: 2,
      approvals_asked: 2,
      fallbacks: 0,
      cost: 0,
    });
    expect(byArm.staging).toMatchObject({
      prompt: 'healthcare-orchestrator',
      version: 2,
      runs: 2,
      assigned: 4,
      waitlisted: 2,
      approvals_asked: 0,
      fallbacks: 0,
    });
    const llm = (arm: string) =>
      results
        .filter((r) => r.prompt.experiment?.arm === arm)
        .reduce(
          (s, r) => ({
            calls: s.calls + r.llm.calls,
            tokens: s.tokens + r.llm.prompt_tokens + r.llm.completion_tokens,
          }),
          { calls: 0, tokens: 0 },
        );
    expect({ calls: byArm.production!.llm_calls, tokens: byArm.production!.tokens }).toEqual(llm('production'));
    expect(byArm.staging!.tokens).toBeGreaterThan(0);
    expect(byArm.staging!.avg_duration_s).toBeGreaterThan(0);

    const { stdout: table } = await runCli(['report', '--experiment', 'exp-ab'], {
      TEMPORAL_ADDRESS: h.address,
      TASK_QUEUE: h.taskQueue,
    });
    expect(table.split('\n')[0]).toMatch(
      /^prompt\s+version\s+source\s+experiment\s+arm\s+runs\s+appts\s+assigned\s+waitlisted\s+approvals\s+fallbacks\s+llm calls\s+tokens\s+cost\s+avg s$/,
    );
    expect(table).toMatch(/^healthcare-orchestrator\s+v3\s+local\s+exp-ab\s+production\s+2\s+6\s+4\s+2\s+2\s+0\s/m);
    expect(table).toMatch(/^healthcare-orchestrator\s+v2\s+local\s+exp-ab\s+staging\s+2\s+6\s+4\s+2\s+0\s+0\s/m);
  });
});
