/**
 * Reads again, every 200 ms, until the value satisfies `ok`, and returns it; past the timeout it fails, naming
 * what never happened and the last value read. For what a workflow writes in its own time (a follow-up's next
 * offer, a score reaching the Langfuse test server).
 */
export async function until<T>(
  what: string,
  read: () => T | Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`${what} never happened; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
    last = await read();
  }
  return last;
}
