import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/config';

/**
 * `npm test`, after the test tools and the type check: the whole suite in two jest runs, then one plain line
 * "N passed, N failed" for both (the line CI reads).
 * 1. The unit and integration projects (jest.config.js), against one real Temporal dev server.
 * 2. The domain, tool, workflow and crash suites again with the scheduling data in PostgreSQL (TEST_STORE=postgres,
 *    jest.postgres.config.js): both stores pass the same tests. The global setup starts the PostgreSQL cluster
 *    (Debian's postgresql, as the `postgres` user when run as root).
 * 3. The tests against a real model server (jest.llama.config.js): llama.cpp's llama-server with SmolLM2 and
 *    gemma, built by scripts/llamaServer.sh and cached outside the clone (~10 minutes the first time only). They
 *    run alone, after the rest: the model server needs both cores.
 * SKIP_POSTGRES=1 and SKIP_LLAMA=1 leave out the second and third runs, and say so in the last line.
 * Arguments (`npm test -- outcomes`) go to all three runs as jest's path patterns: each runs only the files that
 * match, and a run with no matching file is left out (the llama server is then not built).
 */

interface JestJson {
  numPassedTests: number;
  numFailedTests: number;
  numRuntimeErrorTestSuites: number;
  numPendingTests: number;
}

const jest = path.join(projectRoot, 'node_modules', 'jest', 'bin', 'jest.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reassign-jest-'));
// The per-run lines would read like the total: only this script's last line is.
const env = { ...process.env, JEST_SUMMARY_LINE: 'off' };

function runJest(
  name: string,
  args: string[],
  extraEnv: Record<string, string> = {},
): { passed: number; failed: number; skipped: number } {
  const out = path.join(dir, `${name}.json`);
  spawnSync(process.execPath, ['--experimental-vm-modules', jest, ...args, '--json', `--outputFile=${out}`], {
    stdio: 'inherit',
    env: { ...env, ...extraEnv },
    cwd: projectRoot,
  });
  if (!fs.existsSync(out)) return { passed: 0, failed: 1, skipped: 0 };
  const r = JSON.parse(fs.readFileSync(out, 'utf8')) as JestJson;
  return {
    passed: r.numPassedTests,
    failed: r.numFailedTests + r.numRuntimeErrorTestSuites,
    skipped: r.numPendingTests,
  };
}

const patterns = process.argv.slice(2);

/** Whether a configuration has a test file matching the command line's patterns (always, without patterns). */
function hasTests(config: string): boolean {
  if (patterns.length === 0) return true;
  const listed = spawnSync(process.execPath, [jest, '-c', config, '--listTests', '--json', ...patterns], {
    cwd: projectRoot,
    encoding: 'utf8',
  });
  try {
    return (JSON.parse(listed.stdout) as string[]).length > 0;
  } catch {
    return true;
  }
}

const runs = [runJest('suite', patterns)];
const notes: string[] = [];
if (process.env.SKIP_POSTGRES === '1') notes.push('PostgreSQL run skipped: SKIP_POSTGRES=1');
else if (!hasTests('jest.postgres.config.js')) notes.push('no PostgreSQL test matches the arguments');
else {
  console.log('\n== the domain, tool, workflow and crash suites again, on PostgreSQL');
  runs.push(runJest('postgres', ['-c', 'jest.postgres.config.js', ...patterns], { TEST_STORE: 'postgres' }));
}
if (process.env.SKIP_LLAMA === '1') notes.push('llama tests skipped: SKIP_LLAMA=1');
else if (!hasTests('jest.llama.config.js')) notes.push('no llama test matches the arguments');
else {
  console.log('\n== the tests against a real model server (llama.cpp)');
  const built = spawnSync('bash', [path.join(projectRoot, 'scripts', 'llamaServer.sh')], { stdio: 'inherit' });
  if (built.status !== 0) {
    console.log('llama-server could not be built or fetched: its tests count as one failure');
    runs.push({ passed: 0, failed: 1, skipped: 0 });
  } else runs.push(runJest('llama', ['-c', 'jest.llama.config.js', ...patterns]));
}
const note = notes.length > 0 ? ` (${notes.join('; ')})` : '';
const total = runs.reduce((a, b) => ({
  passed: a.passed + b.passed,
  failed: a.failed + b.failed,
  skipped: a.skipped + b.skipped,
}));
fs.rmSync(dir, { recursive: true, force: true });
console.log(
  `\n${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}${note}`,
);
process.exitCode = total.failed > 0 ? 1 : 0;
