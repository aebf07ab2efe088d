import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { RunningApi } from '../src/api/main';
import { projectRoot } from '../src/config';
import { startHarness, startHarnessApi, type Harness } from './support/harness';

/**
 * The API fuzzed from its own OpenAPI document with schemathesis (PyPI; .ci/run installs it into .cache/venv):
 * generated valid and invalid requests against every operation, with an operator's key and without one. No
 * request may get a server error, and every answer must match the document (status code, content type, body).
 * The figures of the last run go to test-results/api-fuzz.txt.
 */

const schemathesis = process.env.SCHEMATHESIS ?? path.join(projectRoot, '.cache', 'venv', 'bin', 'schemathesis');
const OPERATOR = 'fuzz-operator-key-0123456789';
const AUDITOR = 'fuzz-auditor-key-0123456789';
/** Bounded, so CI time stays bounded: examples per operation and phase. */
const MAX_EXAMPLES = Number(process.env.FUZZ_MAX_EXAMPLES ?? 100);
/** Every check schemathesis has, positive data acceptance included; and every phase, the stateful one included. */
const CHECKS = ['all'];
const PHASES = ['examples', 'coverage', 'fuzzing', 'stateful'];
/**
 * Valid data must be accepted: a 2xx, or a refusal about the world rather than the request's shape (401/403 for
 * the key, 404 for an unknown provider or run, 409 for a finished run or a decided approval, 422 for a request of
 * the documented shape that asks for what cannot be done: nothing to reassign, a range over 31 days), or 429.
 * Never a 400 and, unlike schemathesis' default, never a 5xx.
 */
const CONFIG = `
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
`;

function run(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      schemathesis,
      args,
      { encoding: 'utf8', timeout: 600_000, maxBuffer: 32 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    );
  });
}

describe('the API against its own OpenAPI document (schemathesis)', () => {
  let h: Harness;
  let api: RunningApi;

  beforeAll(async () => {
    if (!fs.existsSync(schemathesis))
      throw new Error(
        `no schemathesis at ${schemathesis}: .ci/run installs it (python3 -m venv .cache/venv; pip install schemathesis)`,
      );
    h = await startHarness();
    api = await startHarnessApi(h, {
      API_HOST: '127.0.0.1',
      API_KEYS: JSON.stringify([
        { name: 'fuzzer', key: OPERATOR, role: 'operator' },
        { name: 'fuzz-auditor', key: AUDITOR, role: 'auditor' },
      ]),
      // Thousands of requests a minute, many without a key on purpose: the limits are tested in apiSecurity.test.ts.
      API_RATE_LIMIT: '0',
      API_AUTH_FAILURE_LIMIT: '100000',
    });
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
  });

  const fuzz = async (name: string, key: string, filter: string[], phases = PHASES) => {
    const config = path.join(projectRoot, 'test-results', 'schemathesis.toml');
    fs.mkdirSync(path.dirname(config), { recursive: true });
    fs.writeFileSync(config, CONFIG);
    const { code, output } = await run([
      '--config-file',
      config,
      'run',
      `${api.url}/openapi.json`,
      '--checks',
      CHECKS.join(','),
      '--phases',
      phases.join(','),
      '--max-examples',
      String(MAX_EXAMPLES),
      '--seed',
      '20261125',
      // A generator's health check, not a check of the API: a body schema with several strict fields (the dynamic
      // start) sometimes makes Hypothesis discard too many of its drafts, and the run errored on that alone.
      '--suppress-health-check',
      'filter_too_much',
      '--header',
      `Authorization: Bearer ${key}`,
      ...filter,
      '--no-color',
    ]);
    fs.writeFileSync(path.join(projectRoot, 'test-results', `${name}.txt`), output);
    const summary = output.split('\n').filter((l) => /operations|test cases|generated|passed|failed|errors?/i.test(l));
    console.log(`schemathesis ${name}, ${MAX_EXAMPLES} examples/phase:\n${summary.slice(-12).join('\n')}`);
    expect(output).not.toMatch(/Server error/i);
    if (code !== 0) throw new Error(`schemathesis found problems (exit ${code}):\n${output.slice(-6000)}`);
  };

  test(`every operation, every check and phase (stateful too), ${MAX_EXAMPLES} examples a phase: every answer as documented`, async () => {
    // The event stream stays open while a run runs: it is tested in api.test.ts.
    await fuzz('api-fuzz', OPERATOR, ['--exclude-path-regex', '/events$']);
  });

  test('the access log, with an auditor key', async () => {
    // One operation, with no link to follow: no stateful phase.
    await fuzz('api-fuzz-auditor', AUDITOR, ['--include-path', '/api/access-log'], PHASES.slice(0, 3));
  });
});
