import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findTemporalCli } from '../src/temporal/cliBinary';
import { freePort, startDevServer } from '../src/temporal/devServer';

/**
 * Starting the Temporal dev server when ports are contended: other processes start servers too, and the dev
 * server binds internal ports of its own, so a start can fail on a port that was free a moment before.
 */

let dir: string;
const savedCliPath = process.env.TEMPORAL_CLI_PATH;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reassign-devserver-'));
});

afterEach(() => {
  if (savedCliPath === undefined) delete process.env.TEMPORAL_CLI_PATH;
  else process.env.TEMPORAL_CLI_PATH = savedCliPath;
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A Temporal CLI whose first `failures` starts fail as a lost port race does (the real CLI's message), and whose
 * later starts run the real CLI; it writes down the port each start was given.
 */
function flakyCli(failures: number): { ports: () => number[] } {
  const real = findTemporalCli({ install: false });
  if (!real) throw new Error('no Temporal CLI');
  const script = path.join(dir, 'temporal');
  const starts = path.join(dir, 'starts');
  fs.writeFileSync(
    script,
    `#!/bin/sh
if [ "$1" = "--version" ]; then exec "${real}" --version; fi
port=$(echo "$@" | sed -n 's/.*--port \\([0-9]*\\).*/\\1/p')
echo "$port" >> "${starts}"
if [ "$(wc -l < "${starts}")" -le ${failures} ]; then
  echo "time=now level=INFO msg=starting"
  echo "Error: can't set frontend port $port: listen tcp 127.0.0.1:$port: bind: address already in use" >&2
  exit 1
fi
exec "${real}" "$@"
`,
    { mode: 0o755 },
  );
  process.env.TEMPORAL_CLI_PATH = script;
  return { ports: () => fs.readFileSync(starts, 'utf8').trim().split('\n').map(Number) };
}

test('freePort never hands out the same port twice in one process', async () => {
  const ports = await Promise.all(Array.from({ length: 100 }, () => freePort()));
  expect(new Set(ports).size).toBe(100);
});

test('a dev server that exits while starting is started again on new ports, up to three starts in all', async () => {
  const cli = flakyCli(2);
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.db') });
  try {
    const ports = cli.ports();
    expect(ports).toHaveLength(3);
    expect(new Set(ports).size).toBe(3);
    expect(server.address).toBe(`127.0.0.1:${ports[2]}`);
  } finally {
    await server.stop();
  }
});

test('after three failed starts, the error says so and quotes the end of the log', async () => {
  const cli = flakyCli(3);
  const started = startDevServer({ dbFile: path.join(dir, 'temporal.db') });
  await expect(started).rejects.toThrow(
    /^attempt 3 of 3: the Temporal dev server exited while starting \(exit code 1\): Error: can't set frontend port \d+: .*address already in use\nthe last lines of its log \(.*temporal\.db\.log\):\n {2}time=now level=INFO msg=starting\n {2}Error: can't set/,
  );
  expect(cli.ports()).toHaveLength(3);
});

test('on a port the caller chose and another process holds, one start, and the error names the address in use', async () => {
  const sockets: net.Socket[] = [];
  const holder = net.createServer((socket) => sockets.push(socket));
  const port = await freePort();
  await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
  try {
    await expect(startDevServer({ dbFile: path.join(dir, 'temporal.db'), port })).rejects.toThrow(
      new RegExp(
        `^the Temporal dev server exited while starting \\(exit code 1\\): .*127\\.0\\.0\\.1:${port}: bind: address already in use`,
      ),
    );
  } finally {
    holder.close();
    for (const socket of sockets) socket.destroy();
  }
});
