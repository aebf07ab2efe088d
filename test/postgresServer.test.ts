import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { projectRoot } from '../src/config';
import { createDatabaseAt, startPostgres, type PostgresServer } from '../src/db/postgresServer';
import { freePort, isPortFree } from '../src/freePort';

/**
 * Our own PostgreSQL cluster (src/db/postgresServer.ts, `npm run postgres`), from the server binaries installed on
 * the machine: made in a directory on first use, reused after, reached with a password over 127.0.0.1.
 */

const asRoot = process.getuid?.() === 0;
let base: string;

beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'reassign-pg-test-'));
  // As root the clusters run as the user postgres, which must be able to enter this directory.
  fs.chmodSync(base, 0o755);
});

afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    return (await client.query<T>(sql, params)).rows;
  } finally {
    // Also after a refused login: a connection left half-way through authentication holds up DROP DATABASE.
    await client.end().catch(() => {});
  }
}

const passwordOf = (url: string) => decodeURIComponent(new URL(url).password);

function postmasterPid(dir: string): number {
  return Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/** Whether a process runs: not gone, and no zombie (which only waits to be collected by init). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a cluster made in a new directory', () => {
  let dir: string;
  let server: PostgresServer;

  beforeAll(async () => {
    dir = path.join(base, 'fresh');
    server = await startPostgres({ dir });
  });

  afterAll(() => server?.stop());

  test('its URL names the role reassign, its password, 127.0.0.1 and the database reassign, and answers', async () => {
    expect(server.url).toMatch(new RegExp(`^postgres://reassign:[\\w-]{20,}@127\\.0\\.0\\.1:${server.port}/reassign$`));
    const [row] = await query<{ user: string; db: string; super: boolean }>(
      server.url,
      "SELECT current_user AS user, current_database() AS db, current_setting('is_superuser') = 'on' AS super",
    );
    expect(row).toEqual({ user: 'reassign', db: 'reassign', super: false });
  });

  test('the password is kept in <dir>/password, readable by its owner only', () => {
    const file = path.join(dir, 'password');
    expect(fs.readFileSync(file, 'utf8').trim()).toBe(passwordOf(server.url));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  test('over TCP a wrong password is refused, and the superuser (no password) cannot log in at all', async () => {
    const wrong = new URL(server.url);
    wrong.password = 'not-the-password';
    await expect(query(wrong.toString(), 'SELECT 1')).rejects.toThrow(/password authentication failed/);
    const superuser = `postgres://${asRoot ? 'postgres' : os.userInfo().username}@127.0.0.1:${server.port}/postgres`;
    await expect(query(superuser, 'SELECT 1')).rejects.toThrow(/password/);
  });

  test('it listens on 127.0.0.1 only', async () => {
    const [row] = await query<{ listen: string }>(server.url, "SELECT current_setting('listen_addresses') AS listen");
    expect(row?.listen).toBe('127.0.0.1');
  });

  test('createDatabase makes databases apart from each other, owned by reassign', async () => {
    const first = await server.createDatabase('first_db');
    const second = await server.createDatabase('second-db');
    expect(first).toBe(server.url.replace(/\/reassign$/, '/first_db'));
    await query(first, 'CREATE TABLE t (v text)');
    await query(first, "INSERT INTO t VALUES ('in first')");
    expect(await query(first, 'SELECT v FROM t')).toEqual([{ v: 'in first' }]);
    await expect(query(second, 'SELECT v FROM t')).rejects.toThrow(/relation "t" does not exist/);
    const owners = await query<{ datname: string; owner: string }>(
      server.url,
      "SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname IN ('first_db', 'second-db') ORDER BY 1",
    );
    expect(owners).toEqual([
      { datname: 'first_db', owner: 'reassign' },
      { datname: 'second-db', owner: 'reassign' },
    ]);
  });

  test('a database name that exists already is an error, and so is a name we do not make', async () => {
    await server.createDatabase('taken');
    await expect(server.createDatabase('taken')).rejects.toThrow(/already exists/);
    await expect(server.createDatabase('x"; DROP DATABASE reassign; --')).rejects.toThrow(/not a database name/);
  });

  test('createDatabaseAt needs only the URL: several processes create databases at the same time', async () => {
    const script = path.join(base, 'create.ts');
    fs.writeFileSync(
      script,
      `import { createDatabaseAt } from ${JSON.stringify(path.join(projectRoot, 'src', 'db', 'postgresServer'))};
createDatabaseAt(process.argv[2]!, process.argv[3]!).then((url) => console.log(url));
`,
    );
    const tsx = path.join(projectRoot, 'node_modules', '.bin', 'tsx');
    const inChildren = [1, 2, 3].map(
      (i) =>
        new Promise<string>((resolve, reject) => {
          const child = spawn(tsx, [script, server.url, `child_${i}`], { stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}`))));
        }),
    );
    const here = [1, 2, 3].map((i) => createDatabaseAt(server.url, `here_${i}`));
    const urls = await Promise.all([...inChildren, ...here]);
    for (const url of urls) {
      const [row] = await query<{ db: string }>(url, 'SELECT current_database() AS db');
      expect(url.endsWith(`/${row?.db}`)).toBe(true);
    }
  });

  test('dropDatabase drops a database even while a connection to it is open', async () => {
    const url = await server.createDatabase('dropped');
    const open = new pg.Client({ connectionString: url });
    open.on('error', () => {});
    await open.connect();
    try {
      await server.dropDatabase('dropped');
      const left = await query(server.url, "SELECT 1 FROM pg_database WHERE datname = 'dropped'");
      expect(left).toEqual([]);
      await server.dropDatabase('dropped');
    } finally {
      await open.end().catch(() => {});
    }
  });
});

describe('a cluster started again on its directory', () => {
  test('after a stop: the same password, and the data is still there', async () => {
    const dir = path.join(base, 'again');
    const first = await startPostgres({ dir });
    const db = await first.createDatabase('kept');
    await query(db, 'CREATE TABLE t (v text)');
    await query(db, "INSERT INTO t VALUES ('still here')");
    await first.stop();
    expect(first.isRunning()).toBe(false);
    expect(await isPortFree(first.port)).toBe(true);

    const second = await startPostgres({ dir });
    try {
      expect(passwordOf(second.url)).toBe(passwordOf(first.url));
      const kept = second.url.replace(/\/reassign$/, '/kept');
      expect(await query(kept, 'SELECT v FROM t')).toEqual([{ v: 'still here' }]);
    } finally {
      await second.stop();
    }
  });

  test('after its server was killed: the postmaster.pid it left (its pid since taken by another process) is cleared', async () => {
    const dir = path.join(base, 'killed');
    const first = await startPostgres({ dir });
    const pid = postmasterPid(dir);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !isAlive(pid));
    // The worst case: the pid in the file now belongs to a live process that is no PostgreSQL.
    const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const pidFile = path.join(dir, 'postmaster.pid');
      const lines = fs.readFileSync(pidFile, 'utf8').split('\n');
      fs.writeFileSync(pidFile, [String(stranger.pid), ...lines.slice(1)].join('\n'));
      const said: string[] = [];
      const second = await startPostgres({ dir, log: (l) => said.push(l) });
      try {
        expect(said.join('\n')).toMatch(/removed a stale postmaster\.pid/);
        expect(await query(second.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
        expect(passwordOf(second.url)).toBe(passwordOf(first.url));
      } finally {
        await second.stop();
      }
    } finally {
      stranger.kill();
    }
  });

  test('while it runs: a second start says so, and leaves it running', async () => {
    const dir = path.join(base, 'running');
    const server = await startPostgres({ dir });
    try {
      await expect(startPostgres({ dir })).rejects.toThrow(
        new RegExp(`^PostgreSQL is already running on .*running \\(pid \\d+, port ${server.port}\\)`),
      );
      expect(await query(server.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await server.stop();
    }
  });
});

describe('what a person can fix is said in one line', () => {
  (asRoot ? test : test.skip)(
    'as root, a directory the user postgres cannot reach: said before anything is made, with PG_DATA_DIR',
    async () => {
      const closed = path.join(base, 'closed');
      fs.mkdirSync(closed, { mode: 0o700 });
      const dir = path.join(closed, 'deeper', 'pg');
      const started = startPostgres({ dir });
      await expect(started).rejects.toThrow(
        `PostgreSQL runs as the user postgres, which cannot reach ${dir} (it may not enter ${closed}): choose a directory it can reach, for example PG_DATA_DIR=/var/tmp/reassign-pg`,
      );
      expect(fs.readdirSync(closed)).toEqual([]);
    },
  );

  test('no server binaries where PG_BIN points', async () => {
    const saved = process.env.PG_BIN;
    process.env.PG_BIN = base;
    try {
      await expect(startPostgres({ dir: path.join(base, 'never') })).rejects.toThrow(
        `PG_BIN=${base} does not hold the PostgreSQL server binaries (initdb, pg_ctl, postgres, psql)`,
      );
    } finally {
      if (saved === undefined) delete process.env.PG_BIN;
      else process.env.PG_BIN = saved;
    }
  });

  test('a port in use', async () => {
    const holder = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      await expect(startPostgres({ dir: path.join(base, 'busy'), port })).rejects.toThrow(
        `port ${port} on 127.0.0.1 is in use: choose another (PG_PORT)`,
      );
    } finally {
      holder.close();
    }
  });
});

describe('npm run postgres', () => {
  const tsx = path.join(projectRoot, 'node_modules', '.bin', 'tsx');

  /** A command in its own process group, as a terminal runs it (Ctrl-C signals the whole group). */
  function run(command: string, args: string[], env: Record<string, string>) {
    const child = spawn(command, args, {
      cwd: projectRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // 'close': every process of the group holding its output is done (npm's own exit comes first).
    const done = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // the group has exited
      }
    };
    return { child, stdout: () => stdout, stderr: () => stderr, done, signalGroup };
  }

  /** Waits for the DATABASE_URL line and checks it; returns the URL. */
  async function urlLine(started: ReturnType<typeof run>, dir: string, port: number): Promise<string> {
    await waitFor(() => started.stdout().includes('\n') || started.child.exitCode !== null, 60_000);
    const lines = started.stdout().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^DATABASE_URL=postgres://reassign:[\\w-]+@127\\.0\\.0\\.1:${port}/reassign {2}# .*the password is stored in ${dir}/password`,
      ),
    );
    return /^DATABASE_URL=(\S+)/.exec(lines[0]!)![1]!;
  }

  test('prints the DATABASE_URL, which answers; Ctrl-C stops the cluster', async () => {
    const dir = path.join(base, 'script');
    const port = await freePort();
    const started = run('npm', ['run', '-s', 'postgres'], { PG_DATA_DIR: dir, PG_PORT: String(port) });
    try {
      const url = await urlLine(started, dir, port);
      expect(started.stderr()).toBe(`postgres: initialising a PostgreSQL cluster in ${dir}\n`);
      expect(await query(url, 'SELECT current_user AS user')).toEqual([{ user: 'reassign' }]);
      const pid = postmasterPid(dir);

      started.signalGroup('SIGINT');
      // npm's exit status is npm's (its shell dies of the SIGINT too); the script's own is checked below.
      await started.done;
      expect(started.stderr()).toBe(`postgres: initialising a PostgreSQL cluster in ${dir}\n`);
      expect(isAlive(pid)).toBe(false);
      expect(fs.existsSync(path.join(dir, 'postmaster.pid'))).toBe(false);
      expect(await isPortFree(port)).toBe(true);
    } finally {
      started.signalGroup('SIGKILL');
    }
  });

  test.each(['SIGINT', 'SIGTERM'] as const)(
    'the script npm runs exits 0 on %s, the cluster stopped, its data kept',
    async (signal) => {
      const dir = path.join(base, 'script');
      const port = await freePort();
      const started = run(tsx, ['scripts/postgres.ts'], { PG_DATA_DIR: dir, PG_PORT: String(port) });
      try {
        const url = await urlLine(started, dir, port);
        expect(started.stderr()).toBe('');
        const pid = postmasterPid(dir);
        process.kill(started.child.pid!, signal);
        expect(await started.done).toBe(0);
        expect(isAlive(pid)).toBe(false);
        expect(await isPortFree(port)).toBe(true);
        expect(passwordOf(url)).toBe(fs.readFileSync(path.join(dir, 'password'), 'utf8').trim());
      } finally {
        started.signalGroup('SIGKILL');
      }
    },
  );

  test('killed outright (SIGKILL), the script leaves no server behind all the same', async () => {
    const dir = path.join(base, 'script');
    const port = await freePort();
    const started = run(tsx, ['scripts/postgres.ts'], { PG_DATA_DIR: dir, PG_PORT: String(port) });
    try {
      await urlLine(started, dir, port);
      const pid = postmasterPid(dir);
      started.signalGroup('SIGKILL');
      await started.done;
      // Its watchdog, in a process group of its own, saw it go and asked the server to stop.
      await waitFor(() => !isAlive(pid), 15_000);
      expect(fs.existsSync(path.join(dir, 'postmaster.pid'))).toBe(false);
    } finally {
      started.signalGroup('SIGKILL');
    }
  });

  test('a port in use: one line on stderr, exit 1', async () => {
    const holder = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      const started = run('npm', ['run', '-s', 'postgres'], {
        PG_DATA_DIR: path.join(base, 'script-busy'),
        PG_PORT: String(port),
      });
      expect(await started.done).toBe(1);
      expect(started.stderr()).toBe(`postgres: port ${port} on 127.0.0.1 is in use: choose another (PG_PORT)\n`);
      expect(started.stdout()).toBe('');
    } finally {
      holder.close();
    }
  });

  test('--check prints where the server binaries are and their version', () => {
    const r = spawnSync('npm', ['run', '-s', 'postgres', '--', '--check'], { cwd: projectRoot, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\/\S+ \(postgres \(PostgreSQL\) \d+/);
  });
});
