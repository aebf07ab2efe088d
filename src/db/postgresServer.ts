import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort, isPortFree } from '../freePort';

/**
 * A local PostgreSQL cluster of our own, from the server binaries installed on the machine (Debian's postgresql
 * package, Homebrew's, …): `npm run postgres` for development, and one per test run. It is initialised in a
 * directory on first use and reused after that (its data, its password), and listens on 127.0.0.1 only.
 *
 * Who may connect: the role `reassign`, over TCP with a password (scram-sha-256), generated on first use and kept
 * in `<dir>/password` (mode 0600); it may create databases, it is not a superuser. The bootstrap superuser (the
 * operating-system user the cluster runs as) connects only over the Unix socket in the cluster directory, with peer
 * authentication (its own user name), which is how the role is created; it has no password, so it cannot log in
 * over TCP. PostgreSQL refuses to run as root: as root, the cluster belongs to and runs as the user `postgres`.
 */

export interface PostgresServerOptions {
  /** The cluster directory (its data directory): initialised when empty or missing, reused otherwise. */
  dir: string;
  /** The TCP port on 127.0.0.1; a free one when not given. */
  port?: number;
  /** The database the returned URL names, created (owned by `reassign`) if missing; default `reassign`. */
  database?: string;
  /** The server's log to this process's stdout and stderr instead of `<dir>/server.log`. */
  foreground?: boolean;
  /** What is being done, one line at a time (initialising, a stale pid file removed, another port tried). */
  log?: (line: string) => void;
  /**
   * Stop the server when this process ends, however it ends (killed too): a small watchdog shell checks every
   * second. For test runs and `npm run postgres`, so a killed run leaves no server behind.
   */
  stopWithProcess?: boolean;
}

export interface PostgresServer {
  /** `postgres://reassign:<password>@127.0.0.1:<port>/<database>`; also the admin URL for createDatabaseAt. */
  url: string;
  port: number;
  dir: string;
  /** Whether the server still runs (its postmaster.pid names a live process). */
  isRunning(): boolean;
  /** `pg_ctl stop -m fast`: open connections are closed, the data stays. */
  stop(): Promise<void>;
  /** A new empty database owned by `reassign`, and its URL. */
  createDatabase(name: string): Promise<string>;
  /** Drops a database, closing the connections still open to it; nothing if it does not exist. */
  dropDatabase(name: string): Promise<void>;
}

const ROLE = 'reassign';
const SERVER_BINARIES = ['initdb', 'pg_ctl', 'postgres', 'psql'];
/** A Unix socket's path must fit in sockaddr_un's 108 bytes, NUL included. */
const MAX_SOCKET_PATH = 107;
const START_ATTEMPTS = 3;
const SETTINGS_FILE = 'startPostgres.conf';

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function hasServerBinaries(dir: string): boolean {
  return SERVER_BINARIES.every((b) => isExecutable(path.join(dir, b)));
}

/**
 * The directory of the PostgreSQL server binaries (initdb, pg_ctl, postgres, psql): PG_BIN when set, else Debian's
 * /usr/lib/postgresql/<newest version>/bin, else the directory of `pg_ctl` on PATH (followed through symlinks).
 */
export function findPostgresBin(): string | undefined {
  const explicit = process.env.PG_BIN?.trim();
  if (explicit) return hasServerBinaries(explicit) ? path.resolve(explicit) : undefined;
  const debian = '/usr/lib/postgresql';
  const versions = fs.existsSync(debian)
    ? fs
        .readdirSync(debian)
        .filter((v) => /^\d+(\.\d+)?$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const version of versions) {
    const dir = path.join(debian, version, 'bin');
    if (hasServerBinaries(dir)) return dir;
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const pgCtl = path.join(dir, 'pg_ctl');
    if (!isExecutable(pgCtl)) continue;
    const real = path.dirname(fs.realpathSync(pgCtl));
    if (hasServerBinaries(real)) return real;
    if (hasServerBinaries(dir)) return dir;
  }
  return undefined;
}

/** findPostgresBin's answer, or an error saying where it looked and what to do. */
export function requirePostgresBin(): string {
  const bin = findPostgresBin();
  if (bin) return bin;
  const explicit = process.env.PG_BIN?.trim();
  if (explicit) {
    throw new Error(`PG_BIN=${explicit} does not hold the PostgreSQL server binaries (${SERVER_BINARIES.join(', ')})`);
  }
  throw new Error(
    'no PostgreSQL server binaries found (looked in PG_BIN, /usr/lib/postgresql/*/bin and PATH): install them (apt-get install postgresql, brew install postgresql) or set PG_BIN to their directory',
  );
}

/** `postgres (PostgreSQL) 15.14`, say. */
export function postgresVersion(bin: string): string {
  const r = spawnSync(path.join(bin, 'postgres'), ['--version'], { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`${path.join(bin, 'postgres')} --version failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** The operating-system user the cluster belongs to: ourselves, or `postgres` when we are root. */
interface ClusterUser {
  /** Set when the cluster's commands run as another user than ours. */
  ids?: { uid: number; gid: number };
}

function clusterUser(): ClusterUser {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const [uid, gid] = [id('-u'), id('-g')];
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error(
      'PostgreSQL refuses to run as root, and there is no user postgres to run it as: create one (useradd --system postgres) or run as another user',
    );
  }
  return { ids: { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) } };
}

/** The environment of the commands we run: no PG* variable of ours (PGUSER, PGDATA, …) steers them, messages in English. */
function commandEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
  return { ...env, LC_ALL: 'C', LANG: 'C' };
}

interface CommandResult {
  code: number | null;
  output: string;
}

/** Runs one of the binaries as the cluster's user, from `/` (it may not be able to enter our working directory). */
function runAs(
  user: ClusterUser,
  file: string,
  args: string[],
  options: { input?: string; inherit?: boolean } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: '/',
      env: commandEnv(),
      ...user.ids,
      stdio: options.inherit ? ['ignore', 'inherit', 'inherit'] : ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    // With inherited stdio the postmaster keeps our stdout: the command is done when it exits.
    child.once(options.inherit ? 'exit' : 'close', (code: number | null) => resolve({ code, output }));
    child.stdin?.end(options.input ?? '');
  });
}

function chown(file: string, user: ClusterUser): void {
  if (user.ids) fs.chownSync(file, user.ids.uid, user.ids.gid);
}

/**
 * As root, the cluster runs as `postgres`, which must be able to enter every directory above the cluster's.
 * Checked as that user (`test -x`, which needs search permission on every ancestor too), before anything is made.
 */
function checkReachable(dir: string, user: ClusterUser): void {
  if (!user.ids) return;
  const canEnter = (d: string) => spawnSync('test', ['-x', d], { cwd: '/', ...user.ids }).status === 0;
  let existing = dir;
  while (!fs.existsSync(existing)) existing = path.dirname(existing);
  const target = existing === dir ? path.dirname(dir) : existing;
  if (canEnter(target)) return;
  const ancestors = [target];
  while (path.dirname(ancestors[0]!) !== ancestors[0]) ancestors.unshift(path.dirname(ancestors[0]!));
  const blocker = ancestors.find((d) => !canEnter(d)) ?? target;
  throw new Error(
    `PostgreSQL runs as the user postgres, which cannot reach ${dir} (it may not enter ${blocker}): choose a directory it can reach, for example PG_DATA_DIR=/var/tmp/reassign-pg`,
  );
}

function isCluster(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'PG_VERSION'));
}

async function initCluster(bin: string, dir: string, user: ClusterUser, log: (line: string) => void): Promise<void> {
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
    throw new Error(
      `${dir} is neither empty nor a PostgreSQL cluster (it has no PG_VERSION): choose another directory`,
    );
  }
  // The directories above it as usual (the user postgres must enter them), the cluster's own private.
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  if (!fs.existsSync(dir)) fs.mkdirSync(dir);
  fs.chmodSync(dir, 0o700);
  chown(dir, user);
  log(`initialising a PostgreSQL cluster in ${dir}`);
  const r = await runAs(user, path.join(bin, 'initdb'), [
    '-D',
    dir,
    '--locale=C',
    '--encoding=UTF8',
    '--auth-local=peer',
    '--auth-host=scram-sha-256',
    '--no-instructions',
  ]);
  if (r.code !== 0) throw new Error(`initdb failed in ${dir}: ${lastLines(r.output, 2).join(' / ')}`);
}

/** Our settings (port, addresses, socket directory) live in their own file, rewritten at each start. */
function includeOurSettings(dir: string): void {
  const conf = path.join(dir, 'postgresql.conf');
  if (!fs.readFileSync(conf, 'utf8').includes(`'${SETTINGS_FILE}'`)) {
    fs.appendFileSync(conf, `\n# startPostgres (src/db/postgresServer.ts)\ninclude_if_exists = '${SETTINGS_FILE}'\n`);
  }
}

function checkVersion(bin: string, dir: string, version: string): void {
  const clusterMajor = fs.readFileSync(path.join(dir, 'PG_VERSION'), 'utf8').trim();
  const binMajor = /\(PostgreSQL\) (\d+)/.exec(version)?.[1];
  if (binMajor && clusterMajor !== binMajor) {
    throw new Error(
      `the cluster in ${dir} is PostgreSQL ${clusterMajor} and the binaries in ${bin} are ${binMajor}: set PG_BIN to PostgreSQL ${clusterMajor}'s, or use another directory`,
    );
  }
}

/**
 * A postmaster.pid whose process is not this cluster's postmaster (a killed server, its pid since reused by another
 * process) is removed: PostgreSQL would refuse to start while the pid is alive. A running postmaster is an error.
 */
function clearStalePidFile(dir: string, log: (line: string) => void): void {
  const pidFile = path.join(dir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = fs.readFileSync(pidFile, 'utf8').split('\n');
  } catch {
    return;
  }
  const pid = Number(lines[0]);
  if (Number.isInteger(pid) && pid > 0 && isPostmasterOf(pid, dir)) {
    throw new Error(
      `PostgreSQL is already running on ${dir} (pid ${pid}, port ${lines[3]?.trim() ?? '?'}): use it, or stop it first (kill ${pid})`,
    );
  }
  fs.rmSync(pidFile, { force: true });
  log(`removed a stale postmaster.pid (its process ${pid} is not this cluster's server)`);
}

function isPostmasterOf(pid: number, dir: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    // Gone (ESRCH), or another user's process (EPERM): the cluster's postmaster runs as us, or we are root.
    return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    // The postmaster's working directory is its data directory.
    return fs.realpathSync(`/proc/${pid}/cwd`) === fs.realpathSync(dir);
  } catch {
    return false;
  }
}

function postmasterPid(dir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A zombie is gone too: it only waits for its parent (init, since pg_ctl left) to collect it.
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

function isRunning(dir: string): boolean {
  const pid = postmasterPid(dir);
  return pid !== undefined && isAlive(pid);
}

/** A setting's value in postgresql.conf's syntax. */
function confString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function writeSettings(dir: string, port: number, socketDir: string, user: ClusterUser): void {
  const file = path.join(dir, SETTINGS_FILE);
  fs.writeFileSync(
    file,
    [
      '# Written by startPostgres (src/db/postgresServer.ts) at each start: edit postgresql.conf instead.',
      `listen_addresses = '127.0.0.1'`,
      `port = ${port}`,
      `unix_socket_directories = ${confString(socketDir)}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  chown(file, user);
}

/** The cluster directory itself, unless its socket's path would be too long; then a private one under the temp dir. */
function socketDirectory(dir: string, user: ClusterUser): { path: string; temporary: boolean } {
  if (path.join(dir, '.s.PGSQL.65535.lock').length <= MAX_SOCKET_PATH) return { path: dir, temporary: false };
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'reassign-pg-'));
  chown(temp, user);
  return { path: temp, temporary: true };
}

function lastLines(text: string, n: number): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n);
}

function readFrom(file: string, offset: number): string {
  try {
    const buffer = fs.readFileSync(file);
    return buffer.subarray(Math.min(offset, buffer.length)).toString('utf8');
  } catch {
    return '';
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `pg_ctl start`, waiting until the server accepts connections. On a port we chose, a lost race for it (another
 * process bound it after our check) is retried on a new port; shared memory still held by the children of a killed
 * server is waited for (they exit once they notice their postmaster is gone).
 */
async function startServer(
  bin: string,
  dir: string,
  user: ClusterUser,
  socketDir: string,
  options: PostgresServerOptions,
  log: (line: string) => void,
): Promise<number> {
  const logFile = path.join(dir, 'server.log');
  const deadline = Date.now() + 15_000;
  for (let attempt = 1; ;) {
    const port = options.port ?? (await freePort());
    writeSettings(dir, port, socketDir, user);
    const offset = fileSize(logFile);
    const logArgs = options.foreground ? [] : ['-l', logFile];
    const r = await runAs(user, path.join(bin, 'pg_ctl'), ['start', '-D', dir, '-w', '-t', '120', '-s', ...logArgs], {
      inherit: options.foreground,
    });
    if (r.code === 0) return port;
    const said = `${readFrom(logFile, offset)}\n${r.output}`;
    if (/could not bind|address already in use|could not create any TCP\/IP sockets/i.test(said)) {
      if (options.port !== undefined) throw new Error(`port ${port} on 127.0.0.1 is in use: choose another (PG_PORT)`);
      if (attempt++ < START_ATTEMPTS) {
        log(`port ${port} was taken meanwhile; trying another`);
        continue;
      }
    }
    if (/pre-existing shared memory block .* is still in use/i.test(said) && Date.now() < deadline) {
      log('waiting for the processes of the previous server to exit');
      await sleep(500);
      continue;
    }
    const cause = lastLines(said, 20).filter((l) => /FATAL|ERROR|PANIC|pg_ctl:/.test(l));
    const where = options.foreground ? '' : `; log: ${logFile}`;
    throw new Error(`PostgreSQL did not start in ${dir}: ${cause.slice(-2).join(' / ') || 'see its log'}${where}`);
  }
}

/**
 * A shell, in its own process group (a Ctrl-C that ends us leaves it), that waits for this process to end and then
 * asks the postmaster for a fast shutdown, if the pid file still names it. It runs as us: it may signal both.
 */
function watchOwner(dir: string, postmaster: number): ChildProcess {
  const script = `while kill -0 "$1" 2>/dev/null; do sleep 1; done
[ "$(head -n 1 "$3/postmaster.pid" 2>/dev/null)" = "$2" ] && kill -INT "$2"`;
  const child = spawn('sh', ['-c', script, 'watchdog', String(process.pid), String(postmaster), dir], {
    detached: true,
    stdio: 'ignore',
    cwd: '/',
  });
  child.unref();
  return child;
}

function stopServer(bin: string, dir: string, user: ClusterUser): Promise<CommandResult> {
  return runAs(user, path.join(bin, 'pg_ctl'), ['stop', '-D', dir, '-m', 'fast', '-w', '-t', '60', '-s']);
}

/** The same server and credentials, another database. */
function urlWithDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Opens one connection, runs fn, closes it. */
async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    return await fn(client);
  } finally {
    // After a failed connect too: a connection left half-way through authentication would hold up DROP DATABASE
    // (on every database) until the server's authentication_timeout.
    await client.end().catch(() => {});
  }
}

function checkDatabaseName(name: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/.test(name)) {
    throw new Error(
      `"${name}" is not a database name we make: letters, digits, _ and -, at most 63, not a digit first`,
    );
  }
}

/**
 * Creates an empty database, owned by the URL's role, and returns its URL (the same credentials). Needs only the
 * URL of a role that may create databases (a PostgresServer's `url`), so any process can call it, several at once.
 * A database of that name that already exists is an error: names are the caller's to keep unique.
 */
export async function createDatabaseAt(adminUrl: string, name: string): Promise<string> {
  checkDatabaseName(name);
  await withClient(urlWithDatabase(adminUrl, 'postgres'), (c) => c.query(`CREATE DATABASE "${name}"`));
  return urlWithDatabase(adminUrl, name);
}

/** Drops a database (WITH FORCE: connections still open to it are closed); nothing if there is none. */
export async function dropDatabaseAt(adminUrl: string, name: string): Promise<void> {
  checkDatabaseName(name);
  await withClient(urlWithDatabase(adminUrl, 'postgres'), (c) =>
    c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  );
}

/** The database, created if missing (another process may be creating it at the same moment). */
async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  checkDatabaseName(name);
  const exists = await withClient(urlWithDatabase(adminUrl, 'postgres'), async (c) => {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return r.rowCount === 1;
  });
  if (exists) return urlWithDatabase(adminUrl, name);
  try {
    return await createDatabaseAt(adminUrl, name);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '42P04' || code === '23505') return urlWithDatabase(adminUrl, name);
    throw err;
  }
}

async function canLogIn(url: string): Promise<boolean> {
  try {
    await withClient(url, (c) => c.query('SELECT 1'));
    return true;
  } catch {
    return false;
  }
}

/**
 * The role `reassign` with the password kept in `<dir>/password`: generated on first use, reused after that; set on
 * the role (through the superuser, over the Unix socket) whenever it does not log in with it.
 */
async function ensureRole(
  bin: string,
  dir: string,
  user: ClusterUser,
  socketDir: string,
  port: number,
  fresh: boolean,
): Promise<string> {
  const passwordFile = path.join(dir, 'password');
  let password = fs.existsSync(passwordFile) ? fs.readFileSync(passwordFile, 'utf8').trim() : '';
  const url = (pw: string) => `postgres://${ROLE}:${encodeURIComponent(pw)}@127.0.0.1:${port}/postgres`;
  if (password && !fresh && (await canLogIn(url(password)))) return password;
  if (!password) {
    password = randomBytes(24).toString('base64url');
    const temp = `${passwordFile}.${process.pid}`;
    fs.writeFileSync(temp, `${password}\n`, { mode: 0o600, flag: 'wx' });
    fs.renameSync(temp, passwordFile);
  }
  // The password is base64url: nothing in it needs quoting. It goes on stdin, not on a command line.
  const sql = `DO $$ BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '${ROLE}') THEN
    ALTER ROLE ${ROLE} LOGIN CREATEDB PASSWORD '${password}';
  ELSE
    CREATE ROLE ${ROLE} LOGIN CREATEDB PASSWORD '${password}';
  END IF;
END $$;`;
  const r = await runAs(
    user,
    path.join(bin, 'psql'),
    ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', socketDir, '-p', String(port), '-d', 'postgres', '-f', '-'],
    { input: sql },
  );
  if (r.code !== 0) throw new Error(`could not create the role ${ROLE}: ${lastLines(r.output, 1).join('')}`);
  return password;
}

/**
 * Starts the cluster in `options.dir` (initialising it first if it is new) and returns its URL once it accepts
 * connections. Clear one-line errors for what a person can fix: no binaries, a port in use, a directory PostgreSQL
 * cannot reach, a cluster already running there.
 */
export async function startPostgres(options: PostgresServerOptions): Promise<PostgresServer> {
  const log = options.log ?? (() => {});
  const bin = requirePostgresBin();
  const dir = path.resolve(options.dir);
  const user = clusterUser();
  checkReachable(dir, user);
  const fresh = !isCluster(dir);
  if (!fresh) {
    checkVersion(bin, dir, postgresVersion(bin));
    clearStalePidFile(dir, log);
  }
  if (options.port !== undefined && !(await isPortFree(options.port))) {
    throw new Error(`port ${options.port} on 127.0.0.1 is in use: choose another (PG_PORT)`);
  }
  try {
    if (fresh) await initCluster(bin, dir, user, log);
    includeOurSettings(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A file system refusal (not a directory, no permission, …): said as such, in one line.
    if (code) throw new Error(`cannot use ${dir} for a PostgreSQL cluster: ${(err as Error).message}`, { cause: err });
    throw err;
  }
  const socketDir = socketDirectory(dir, user);
  const removeSocketDir = () => {
    if (socketDir.temporary) fs.rmSync(socketDir.path, { recursive: true, force: true });
  };
  let port: number;
  try {
    port = await startServer(bin, dir, user, socketDir.path, options, log);
  } catch (err) {
    removeSocketDir();
    throw err;
  }
  const started = postmasterPid(dir);
  const watchdog = options.stopWithProcess && started !== undefined ? watchOwner(dir, started) : undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      watchdog?.kill();
      const pid = postmasterPid(dir);
      const r = await stopServer(bin, dir, user);
      removeSocketDir();
      if (r.code !== 0 && fs.existsSync(path.join(dir, 'postmaster.pid'))) {
        throw new Error(`pg_ctl stop failed in ${dir}: ${lastLines(r.output, 1).join('')}`);
      }
      // pg_ctl returns once the pid file is gone, a moment before the postmaster has exited and freed its port.
      const deadline = Date.now() + 10_000;
      while (pid !== undefined && isAlive(pid) && Date.now() < deadline) await sleep(20);
    })());
  try {
    const password = await ensureRole(bin, dir, user, socketDir.path, port, fresh);
    const adminUrl = `postgres://${ROLE}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    const url = await ensureDatabase(adminUrl, options.database ?? 'reassign');
    return {
      url,
      port,
      dir,
      isRunning: () => isRunning(dir),
      stop,
      createDatabase: (name) => createDatabaseAt(url, name),
      dropDatabase: (name) => dropDatabaseAt(url, name),
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}
