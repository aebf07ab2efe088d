import { execFile } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../src/config';
import { findTemporalCli } from '../../src/temporal/cliBinary';

/** Our scripts as a user runs them, in a child process, and what a user then sees. */

export interface ProcessResult {
  stdout: string;
  stderr: string;
  code: number;
}

const tsx = path.join(projectRoot, 'node_modules', '.bin', 'tsx');

/** The entry points tests run. */
export const scripts = {
  cli: path.join(projectRoot, 'src', 'cli', 'index.ts'),
  worker: path.join(projectRoot, 'src', 'worker.ts'),
};

/** Runs a program to its end (at most a minute); `env` is added to this process's environment. */
function runProcess(program: string, args: string[], env: Record<string, string> = {}): Promise<ProcessResult> {
  return new Promise((resolve) => {
    execFile(
      program,
      args,
      { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) => resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 }),
    );
  });
}

/** Runs a TypeScript entry point of ours with tsx. */
export function runScript(script: string, args: string[], env: Record<string, string> = {}): Promise<ProcessResult> {
  return runProcess(tsx, [script, ...args], env);
}

/**
 * The real Temporal CLI against a test server; with a codec server, the CLI decodes (and encodes) payloads through
 * it (`--codec-endpoint`, `--codec-auth`), as a person reading an encrypted run would.
 */
export function temporalCli(
  address: string,
  args: string[],
  codec?: { endpoint: string; auth?: string },
): Promise<ProcessResult> {
  const binary = findTemporalCli({ install: false });
  if (!binary) throw new Error('no Temporal CLI');
  const codecArgs = codec
    ? ['--codec-endpoint', codec.endpoint, ...(codec.auth ? ['--codec-auth', codec.auth] : [])]
    : [];
  return runProcess(binary, [...args, '--address', address, ...codecArgs]);
}

/**
 * The encoding of every payload in a Temporal CLI JSON answer (`schedule describe`, `workflow show` …, without a
 * codec): `binary/encrypted` for each one our codec wrote. Not counted, since no codec ever encodes them (and
 * nothing identifying goes there): search attributes, and what the SDK's core writes into markers itself (a
 * `patched()` id; a local activity's sequence number, type and times; its result is ours, and counted).
 */
export function payloadEncodings(cliJsonText: string): string[] {
  const found: string[] = [];
  const notOurs = /(searchAttributes|markerRecordedEventAttributes\.details\.(patch-data|data))$/;
  const walk = (v: unknown, at: string): void => {
    if (notOurs.test(at)) return;
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${at}[${i}]`));
    else if (v && typeof v === 'object') {
      const encoding = (v as { metadata?: { encoding?: unknown } }).metadata?.encoding;
      if (typeof encoding === 'string') found.push(Buffer.from(encoding, 'base64').toString('utf8'));
      else for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`);
    }
  };
  walk(JSON.parse(cliJsonText), '');
  return found;
}

/**
 * What `temporal <kind> describe|show --output json` prints for a schedule or a workflow, without a codec: its
 * payloads' encodings (at least `atLeast` of them), which must all be `binary/encrypted`.
 */
export async function expectStoredEncrypted(
  address: string,
  what: { scheduleId: string } | { workflowId: string },
  atLeast = 1,
): Promise<void> {
  const args =
    'scheduleId' in what
      ? ['schedule', 'describe', '--schedule-id', what.scheduleId]
      : ['workflow', 'show', '--workflow-id', what.workflowId];
  const shown = await temporalCli(address, [...args, '--output', 'json']);
  expect(shown.code).toBe(0);
  const encodings = payloadEncodings(shown.stdout);
  expect(encodings.length).toBeGreaterThanOrEqual(atLeast);
  expect(new Set(encodings)).toEqual(new Set(['binary/encrypted']));
}

/** `npm run cli -- <args>`. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<ProcessResult> {
  return runScript(scripts.cli, args, env);
}

/** `npm run cli -- <args> --json`, parsed: the command must exit 0. */
export async function cliJson<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
  const r = await runCli([...args, '--json'], env);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/** A user's mistake: exit code 1 and exactly one line on stderr, matching `pattern`, with no stack trace. */
export function expectOneLineError(r: ProcessResult, pattern: RegExp): void {
  expect(r.code).toBe(1);
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !/^\(run with --help/.test(l) && !/nodedir|npm warn/.test(l));
  expect(lines).toEqual([expect.stringMatching(pattern)]);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}
