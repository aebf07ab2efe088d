import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../src/config';

/** One line the crash worker prints per activity start and end (see crashWorker.ts). */
export interface ActivityEvent {
  /** written: a batch of tool calls (callTools) has made its writes and is not complete yet. */
  e: 'ready' | 'start' | 'written' | 'end';
  type?: string;
  detail?: string;
  attempt?: number;
  t: number;
}

type Predicate = (event: ActivityEvent, all: ActivityEvent[]) => boolean;

/** A worker in its own OS process, which the crash suite can kill -9 at a chosen activity event. */
export class WorkerProcess {
  readonly events: ActivityEvent[] = [];
  private readonly waiters: { predicate: Predicate; resolve: (e: ActivityEvent) => void }[] = [];
  private exited: Promise<void>;
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith('@@')) this.push(JSON.parse(line.slice(2)) as ActivityEvent);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000);
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async start(env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<WorkerProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'crashWorker.ts')], {
      cwd: projectRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const w = new WorkerProcess(child);
    await w.waitFor((e) => e.e === 'ready', timeoutMs);
    return w;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Activities started and not ended yet, optionally of one type. */
  inFlight(type?: string, upTo = this.events.length): number {
    let n = 0;
    for (const e of this.events.slice(0, upTo))
      if (!type || e.type === type) n += e.e === 'start' ? 1 : e.e === 'end' ? -1 : 0;
    return n;
  }

  private push(event: ActivityEvent): void {
    this.events.push(event);
    for (const w of [...this.waiters]) {
      if (w.predicate(event, this.events)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(event);
      }
    }
  }

  /** Resolves on the first event (already seen or to come) that matches. */
  waitFor(predicate: Predicate, timeoutMs = 60_000): Promise<ActivityEvent> {
    for (let i = 0; i < this.events.length; i++)
      if (predicate(this.events[i]!, this.events.slice(0, i + 1))) return Promise.resolve(this.events[i]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `worker process: no matching event within ${timeoutMs} ms; stderr: ${this.stderr.trim() || '(none)'}`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.push({
        predicate,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /** kill -9: no shutdown, no goodbye to the server, in-flight activities abandoned mid-way. */
  async kill(): Promise<number> {
    const at = Date.now();
    this.child.kill('SIGKILL');
    await this.exited;
    return at;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}
