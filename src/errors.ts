/** One readable line for any error a user can cause; stack traces only with DEBUG=1. */
export function describeError(err: unknown): string {
  if (process.env.DEBUG === '1' && err instanceof Error && err.stack) return err.stack;
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    const base = err.message.split('\n')[0] ?? String(err);
    if (cause instanceof Error && !base.includes(cause.message)) return `${base}: ${cause.message.split('\n')[0]}`;
    return base;
  }
  return String(err);
}
