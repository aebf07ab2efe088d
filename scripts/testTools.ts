import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/config';
import { findPostgresBin, postgresVersion } from '../src/db/postgresServer';

/**
 * What the test suite needs besides npm packages and the Temporal CLI (the suite finds or installs that one
 * itself): schemathesis from PyPI, in .cache/venv, for the API fuzz; and Debian's Chromium for the console's
 * browser test and Debian's PostgreSQL server for the tests of the shared database (each installed with apt-get when
 * this runs as root, otherwise named with the command to run).
 * The `test-tools` npm script: `npm test` runs it first, and so does .ci/run.
 */

const SCHEMATHESIS_VERSION = '4.32.5';
const venv = path.join(projectRoot, '.cache', 'venv');
const schemathesis = path.join(venv, 'bin', 'schemathesis');

const ok = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
};

function ensureSchemathesis(): string {
  if (ok(schemathesis, ['--version']))
    return `schemathesis ${SCHEMATHESIS_VERSION} in ${path.relative(projectRoot, venv)}`;
  run('python3', ['-m', 'venv', venv]);
  run(path.join(venv, 'bin', 'pip'), [
    'install',
    '-q',
    '--disable-pip-version-check',
    `schemathesis==${SCHEMATHESIS_VERSION}`,
  ]);
  return `schemathesis ${SCHEMATHESIS_VERSION} installed into ${path.relative(projectRoot, venv)}`;
}

/** apt-get install of a Debian package, as root only; after an `apt-get update` if the first try fails. */
function aptInstall(pkg: string): boolean {
  if (process.getuid?.() !== 0) return false;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { stdio: 'ignore', env }).status ===
    0;
  if (install()) return true;
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
  return install();
}

function ensureChromium(): string {
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (fs.existsSync(chromium)) return `Chromium at ${chromium}`;
  if (process.getuid?.() !== 0)
    return `no Chromium at ${chromium}: the console's browser test will fail; install it with: sudo apt-get install chromium (or set CHROMIUM_PATH)`;
  if (!aptInstall('chromium')) return 'Chromium could not be installed with apt-get: the console test will fail';
  return `Chromium installed with apt-get at ${chromium}`;
}

function ensurePostgres(): string {
  const found = findPostgresBin();
  if (found) return `PostgreSQL ${postgresVersion(found)} at ${found}`;
  if (process.getuid?.() !== 0)
    return 'no PostgreSQL server binaries: the tests on PostgreSQL will fail; install them with: sudo apt-get install postgresql (or set PG_BIN)';
  const bin = aptInstall('postgresql') ? findPostgresBin() : undefined;
  if (!bin) return 'PostgreSQL could not be installed with apt-get: the tests on PostgreSQL will fail';
  return `PostgreSQL ${postgresVersion(bin)} installed with apt-get at ${bin}`;
}

try {
  console.log(`test tools: ${ensureSchemathesis()}; ${ensureChromium()}; ${ensurePostgres()}`);
} catch (err) {
  console.error(`test tools: ${(err as Error).message}`);
  process.exit(1);
}
