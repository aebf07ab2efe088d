import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import { runEval, type EvalReport } from '../src/eval/runner';
import { outcomeScenarios, scenarios, type Scenario } from '../src/eval/scenarios';
import { createLangfuseClient } from '../src/langfuse/client';
import { PromptOps } from '../src/langfuse/promptOps';
import {
  encryptionEnv,
  installQuietRuntime,
  promptsCopy,
  tempDir,
  testDataConverter,
  twoVersions,
} from './support/harness';
import { withWorsePrompt } from './support/worsePrompt';
import { startLangfuseServer, type LangfuseTestServer } from './support/langfuseServer';
import { expectOneLineError, runCli } from './support/processes';

/**
 * The eval suite and the promotion gate: the offline stand-in following the production prompt agrees with the
 * code-driven oracle everywhere; a prompt made worse on purpose does not, and the gate keeps it from a label.
 */

describe('the eval suite', () => {
  const address = () => process.env.TEST_TEMPORAL_ADDRESS!;
  let connection: Connection;
  let native: NativeConnection;
  let promptsDir: string;
  const evalWith = async (label: string, only?: string[], set: Scenario[] = scenarios): Promise<EvalReport> =>
    runEval({
      config: loadConfig({
        TEMPORAL_ADDRESS: address(),
        PROMPTS_DIR: promptsDir,
        LOG_LEVEL: 'ERROR',
        ...encryptionEnv(),
      }),
      client: new Client({ connection, dataConverter: testDataConverter() }),
      connection: native,
      bundle: { code: fs.readFileSync(process.env.TEST_WORKFLOW_BUNDLE!, 'utf8') },
      label,
      scenarios: only ? set.filter((s) => only.includes(s.name)) : set,
    });

  beforeAll(async () => {
    installQuietRuntime();
    connection = await Connection.connect({ address: address() });
    native = await NativeConnection.connect({ address: address() });
    promptsDir = promptsCopy(withWorsePrompt);
  });
  afterAll(async () => {
    await native?.close();
    await connection?.close();
  });

  test('the offline model on the production prompt agrees with the oracle on every appointment of every scenario', async () => {
    const report = await evalWith('production');
    expect(report.scenarios.map((s) => s.name)).toEqual(scenarios.map((s) => s.name));
    for (const s of report.scenarios) {
      expect({ name: s.name, agreement: s.agreement, disagreements: s.disagreements }).toEqual({
        name: s.name,
        agreement: 1,
        disagreements: [],
      });
      expect(s.appointments).toBeGreaterThan(0);
    }
    expect(report.total).toMatchObject({ scenarios: scenarios.length, agreement: 1, cost: 0 });
    expect(report.total.appointments).toBe(report.total.agreed);
    expect(report.total.llm_calls).toBeGreaterThan(0);
    expect(report).toMatchObject({
      offline: true,
      promotable: true,
      prompt: { orchestrator: { version: 3, label: 'production' } },
    });
    // The scenarios decide what they say they do: the rejected approval waitlists, the busy slot goes to the next best.
    const byName = Object.fromEntries(report.scenarios.map((s) => [s.name, s.decisions.oracle]));
    expect(byName['seed-example']).toEqual({ A001: 'P001', A002: 'P001', A003: 'waitlist' });
    expect(byName['seed-example-rejected']!.A002).toBe('waitlist');
    expect(byName['busy-slots']).toEqual({ A001: 'P003', A002: 'P001' });
    expect(byName['no-candidate']).toEqual({ A001: 'waitlist' });
    expect(byName['ties']).toEqual({ A001: 'P001' });
    expect(byName['approval-bands']!.A003).toBe('waitlist');
    expect(Object.keys(byName['two-providers-competing']!)).toHaveLength(5);
  }, 300_000);

  test('where simulated patients decline or stay silent, both paths re-offer alike and end in the same place', async () => {
    const report = await evalWith('production', undefined, outcomeScenarios);
    const byName = Object.fromEntries(report.scenarios.map((s) => [s.name, s]));
    for (const s of report.scenarios)
      expect({ name: s.name, disagreements: s.disagreements }).toEqual({ name: s.name, disagreements: [] });
    // Declined, or not answered by the deadline: re-offered to the next best provider, P004, and accepted there.
    expect(byName['patient-declines']!.decisions.oracle).toEqual({ A001: 'P004', A002: 'P001', A003: 'waitlist' });
    expect(byName['patient-never-answers']!.decisions.candidate).toEqual({
      A001: 'P004',
      A002: 'P001',
      A003: 'waitlist',
    });
    // Declined twice: nobody good is left for A001, and a head of department is told, on both paths alike.
    expect(byName['patient-declines-twice']!.decisions.candidate.A001).toBe('waitlist');
    const twice = byName['patient-declines-twice']!.escalations!;
    expect(twice.candidate.A001).toContain('second_decline');
    expect(twice.candidate).toEqual(twice.oracle);
    // One decline, re-offered and accepted: no escalation about A001.
    expect(byName['patient-declines']!.escalations!.candidate.A001).toBeUndefined();
    expect(report.total.agreement).toBe(1);
  }, 300_000);

  test('a deliberately worse prompt agrees less, says where, and may not be promoted', async () => {
    const report = await evalWith('worse', ['seed-example', 'synthetic-day-7']);
    expect(report.total.agreement).toBeLessThan(1);
    expect(report.promotable).toBe(false);
    const seed = report.scenarios.find((s) => s.name === 'seed-example')!;
    // A002 scores 129: good for the config (the oracle assigns it after approval), poor for the worse text.
    expect(seed.disagreements).toEqual([{ appointment_id: 'A002', oracle: 'P001', candidate: 'waitlist' }]);
    expect(report.prompt.orchestrator).toMatchObject({ version: 4, label: 'worse' });
  }, 180_000);
});

describe('eval from the CLI, and the promotion gate', () => {
  let lf: LangfuseTestServer;
  const evalDir = tempDir('evals');
  // Two versions and the worse one (v3): these tests move the production label between them in Langfuse.
  const promptsDir = promptsCopy((files) => {
    twoVersions(files);
    withWorsePrompt(files);
  });
  const env = (more: Record<string, string> = {}) => ({
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS!,
    PROMPTS_DIR: promptsDir,
    EVAL_DIR: evalDir,
    LANGFUSE_BASE_URL: lf.url,
    LANGFUSE_PUBLIC_KEY: lf.publicKey,
    LANGFUSE_SECRET_KEY: lf.secretKey,
    LOG_LEVEL: 'ERROR',
    ...more,
  });
  const labelsOf = (version: number) =>
    lf.prompts.find((p) => p.name === 'healthcare-orchestrator' && p.version === version)!.labels;

  beforeAll(async () => {
    lf = await startLangfuseServer();
    await new PromptOps(
      createLangfuseClient({ baseUrl: lf.url, publicKey: lf.publicKey, secretKey: lf.secretKey }),
    ).push(promptsDir);
  });
  afterAll(() => lf?.close());

  test('promote refuses a version that has no eval, in one line, and moves nothing', async () => {
    expectOneLineError(
      await runCli(['prompts', 'promote', 'healthcare-orchestrator', '2', 'production'], env()),
      /no eval of healthcare-orchestrator v2 \([0-9a-f]{16}\): run `npm run cli -- eval/,
    );
    expect(labelsOf(2)).not.toContain('production');
  });

  test('eval --label staging: a table with the verdict, a JSON report, a Langfuse dataset run; then promote passes', async () => {
    const r = await runCli(['eval', '--label', 'staging', '--scenario', 'seed-example', 'ties', 'busy-slots'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^scenario\s+appts\s+agreed\s+agreement\s+refused\s+invalid\s+fallbacks\s+llm calls\s+tokens in\+out\s+cached\s+cost\s+time s$/m,
    );
    expect(r.stdout).toMatch(/^total\s+6\s+6\s+100\.0%/m);
    expect(r.stdout).toMatch(
      /healthcare-orchestrator v2 agrees with the code-driven oracle on 100\.0% of 6 appointments: may be promoted \(bar 95\.0%\)/,
    );
    const files = fs.readdirSync(evalDir);
    expect(files).toEqual([expect.stringMatching(/^healthcare-orchestrator-v2-[0-9a-f]{16}-\d{17}\.json$/)]);
    const report = JSON.parse(fs.readFileSync(path.join(evalDir, files[0]!), 'utf8')) as EvalReport;
    expect(report.total).toMatchObject({ scenarios: 3, appointments: 6, agreement: 1 });
    // The eval as a Langfuse dataset run: one item per scenario, each linked to a trace and scored.
    expect(lf.datasets.runs).toHaveLength(1);
    expect(lf.datasets.runs[0]!.metadata).toMatchObject({
      label: 'staging',
      orchestrator: 'healthcare-orchestrator@2',
      agreement: 1,
    });
    expect(lf.datasets.items.map((i) => i.id).sort()).toEqual([
      'scenario-busy-slots',
      'scenario-seed-example',
      'scenario-ties',
    ]);
    expect(lf.datasets.runItems).toHaveLength(3);
    expect(lf.datasets.scores.filter((s) => s.name === 'agreement').map((s) => s.value)).toEqual([1, 1, 1]);

    const promoted = await runCli(['prompts', 'promote', 'healthcare-orchestrator', '2', 'production'], env());
    expect(promoted.code).toBe(0);
    expect(promoted.stdout.trim()).toBe('healthcare-orchestrator: production → v2 (was v1)');
    expect(labelsOf(2)).toContain('production');
  }, 180_000);

  test('a version whose eval is below the bar is refused; --force promotes it and says so', async () => {
    const r = await runCli(['eval', '--label', 'worse', '--scenario', 'seed-example', '--json', '--check'], env());
    expect(r.code).toBe(1); // --check: below the bar
    const report = JSON.parse(r.stdout) as EvalReport;
    expect(report.total.agreement).toBeLessThan(0.95);
    expectOneLineError(
      await runCli(['prompts', 'promote', 'healthcare-orchestrator', '3', 'production'], env()),
      /the last eval of healthcare-orchestrator v3 .* agreed with the oracle on 66\.7% of 3 appointments, below the bar of 95% \(EVAL_MIN_AGREEMENT\): not promoted; --force overrides/,
    );
    expect(labelsOf(3)).not.toContain('production');
    const forced = await runCli(['prompts', 'promote', 'healthcare-orchestrator', '3', 'production', '--force'], env());
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/^warning: promoted with --force: the last eval of healthcare-orchestrator v3/m);
    expect(labelsOf(3)).toContain('production');
  }, 180_000);

  test('with no report on disk, the gate reads the last eval of that version from the Langfuse dataset runs', async () => {
    const fresh = tempDir('evals-elsewhere');
    const r = await runCli(['prompts', 'promote', 'healthcare-orchestrator', '2', 'staging'], env({ EVAL_DIR: fresh }));
    expect(r.code).toBe(0);
    expect(labelsOf(2)).toContain('staging');
  }, 180_000);

  test('bad input to eval: one line', async () => {
    expectOneLineError(
      await runCli(['eval', '--scenario', 'nope'], env()),
      /unknown scenario "nope" \(known: seed-example,/,
    );
    expectOneLineError(
      await runCli(['eval', '--label', 'nosuch'], env()),
      /prompt "healthcare-orchestrator" has no version labelled "nosuch"/,
    );
  });
});
