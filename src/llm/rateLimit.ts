/**
 * LLM_MAX_RPM and LLM_MAX_TPM: a hosted model's rate limits, kept by the worker. Every chat completion first
 * takes its place in a 60-second sliding window (one request, its estimated input tokens); when the window is
 * full the call waits, in arrival order, until enough of it has slid by. So however many batches run at once,
 * only as many talk to the model as the budget allows, and the endpoint's 429s are avoided rather than retried.
 * The budget is per worker process: with several workers, give each its share.
 */

const WINDOW_MS = 60_000;

interface Entry {
  at: number;
  tokens: number;
}

export interface RateBudget {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

export class LlmRateLimiter {
  private readonly window: Entry[] = [];
  private queue: Promise<void> = Promise.resolve();
  /** Time calls spent waiting for the budget, in total (ms): reported in the worker's log and the bench. */
  waitedMs = 0;

  constructor(
    private readonly budget: RateBudget,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void> = abortableSleep,
  ) {}

  get active(): boolean {
    return this.budget.requestsPerMinute !== undefined || this.budget.tokensPerMinute !== undefined;
  }

  /**
   * Waits until one more request of `tokens` input tokens fits the window, then counts it. Returns a function
   * that replaces the estimate with the tokens the endpoint reported.
   */
  async admit(tokens: number, signal?: AbortSignal): Promise<(actual: number) => void> {
    const entry: Entry = { at: 0, tokens };
    const turn = this.queue.then(() => this.waitForRoom(entry, signal));
    // The next caller waits for this one's admission (not for its completion): arrival order, no overtaking.
    this.queue = turn.catch(() => undefined);
    await turn;
    return (actual) => {
      entry.tokens = actual;
    };
  }

  private async waitForRoom(entry: Entry, signal?: AbortSignal): Promise<void> {
    const began = this.now();
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = this.budget;
    for (;;) {
      signal?.throwIfAborted();
      const now = this.now();
      while (this.window.length > 0 && this.window[0]!.at <= now - WINDOW_MS) this.window.shift();
      const used = this.window.reduce((sum, e) => sum + e.tokens, 0);
      const requestsFit = rpm === undefined || this.window.length < rpm;
      // A single request larger than the whole budget still goes, alone in its window.
      const tokensFit = tpm === undefined || used + entry.tokens <= tpm || this.window.length === 0;
      if (requestsFit && tokensFit) {
        entry.at = now;
        this.window.push(entry);
        this.waitedMs += now - began;
        return;
      }
      await this.sleep(Math.max(1, this.window[0]!.at + WINDOW_MS - now), signal);
    }
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
