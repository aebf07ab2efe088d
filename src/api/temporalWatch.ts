import { AsyncLocalStorage } from 'node:async_hooks';
import {
  defaultGrpcRetryOptions,
  makeGrpcRetryInterceptor,
  type ConnectionLike,
  type ConnectionOptions,
} from '@temporalio/client';
import { ApiError } from './runViews';

/**
 * Whether Temporal answers, known within two seconds. The SDK retries an unreachable server for about twenty
 * seconds before it gives up, so a request would hang that long and then fail with a 500. Instead, every API
 * handler runs under an abort signal; when a request has waited PROBE_AFTER_MS, one probe (shared by all the
 * requests waiting, with its own short deadline) asks the server; if it does not answer, every waiting request is
 * answered 503 at once (its Temporal calls are aborted; the SDK may still be retrying one, and its late answer is
 * dropped), and for the next second new requests are answered 503 without waiting.
 */

const PROBE_AFTER_MS = 300;
const PROBE_DEADLINE_MS = 1200;
const REMEMBER_MS = 1000;

/** The abort signal of the API request a Temporal call is made for (set by TemporalWatch.guard). */
const requestSignal = new AsyncLocalStorage<AbortSignal>();
/** A probe's calls are not retried (abortableRetryInterceptor retries nothing under an aborted signal). */
const NO_RETRY = AbortSignal.abort();

/**
 * The SDK's retry of unavailable calls, except for a request already answered 503: its calls stop retrying, so
 * that nothing is left calling a server that is gone (nor a connection the API closes).
 */
export function abortableRetryInterceptor(): NonNullable<ConnectionOptions['interceptors']>[number] {
  const base = defaultGrpcRetryOptions();
  return (options, nextCall) => {
    const signal = requestSignal.getStore(); // the caller's context: the interceptor runs as the call is made
    return makeGrpcRetryInterceptor({
      delayFunction: base.delayFunction,
      retryableDecider: (attempt, status) => !signal?.aborted && base.retryableDecider(attempt, status),
    })(options, nextCall);
  };
}

export class TemporalWatch {
  private readonly inFlight = new Set<Promise<unknown>>();
  private probing: Promise<boolean> | undefined;
  private last: { at: number; reachable: boolean } | undefined;

  constructor(
    private readonly connection: ConnectionLike,
    private readonly address: string,
  ) {}

  /** Does the server answer now (at most PROBE_DEADLINE_MS to find out; one probe at a time, remembered a second)? */
  reachable(): Promise<boolean> {
    if (this.last && Date.now() - this.last.at < REMEMBER_MS) return Promise.resolve(this.last.reachable);
    // One attempt, not the SDK's retries: a refused connection is an answer at once, not after the deadline.
    this.probing ??= requestSignal
      .run(NO_RETRY, () =>
        this.connection.withDeadline(Date.now() + PROBE_DEADLINE_MS, () =>
          this.connection.workflowService.getSystemInfo({}),
        ),
      )
      .then(
        () => true,
        () => false,
      )
      .then((reachable) => {
        this.last = { at: Date.now(), reachable };
        this.probing = undefined;
        return reachable;
      });
    return this.probing;
  }

  /** Waits for the Temporal calls of requests already answered (before the connection closes). */
  async settled(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  unavailable(): ApiError {
    return new ApiError(503, `the Temporal server at ${this.address} does not answer`);
  }

  /** Runs fn (which calls Temporal); a 503 instead when the server does not answer, within about two seconds. */
  async guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.last && !this.last.reachable && Date.now() - this.last.at < REMEMBER_MS) throw this.unavailable();
    const controller = new AbortController();
    const aborted = new Promise<never>((_resolve, reject) =>
      controller.signal.addEventListener('abort', () => reject(this.unavailable()), { once: true }),
    );
    aborted.catch(() => undefined); // unobserved when fn finishes first
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const watch = () => {
      timer = setTimeout(() => {
        void this.reachable().then((ok) => {
          if (done) return;
          if (ok) watch();
          else controller.abort();
        });
      }, PROBE_AFTER_MS);
    };
    watch();
    try {
      const call = requestSignal.run(controller.signal, () => this.connection.withAbortSignal(controller.signal, fn));
      const settled = call.then(
        () => undefined,
        () => undefined,
      );
      this.inFlight.add(settled);
      void settled.then(() => this.inFlight.delete(settled));
      const value = await Promise.race([call, aborted]);
      // A handler that shrugged off a failed call (an optional query) must not pass for an answer.
      if (controller.signal.aborted) throw this.unavailable();
      return value;
    } catch (err) {
      if (controller.signal.aborted) throw this.unavailable();
      throw err;
    } finally {
      done = true;
      clearTimeout(timer);
    }
  }
}
