import { WorkflowNotFoundError } from '@temporalio/client';
import { InvalidArgumentError } from 'commander';
import type { z } from 'zod';
import { ReassignmentClient, RunFailed, TemporalUnreachable } from '../client';
import { loadConfig } from '../config';
import { firstZodIssue } from '../zodIssue';

/** What every command shares: one-line user errors, option parsing, the Temporal connection, printing. */

/** A mistake the user can fix: printed as one line, exit code 1, never a stack trace. */
export class UserError extends Error {}

export const parseWith =
  <T>(
    schema: {
      safeParse(v: unknown): { success: true; data: T } | { success: false; error: z.ZodError };
    },
    what: string,
  ) =>
  (value: string): T => {
    const r = schema.safeParse(value);
    if (!r.success) throw new InvalidArgumentError(`${what} "${value}": ${firstZodIssue(r.error, what).message}`);
    return r.data;
  };

/**
 * Runs a command on the product's client (src/client.ts), connected for this command and closed after it. An
 * unreachable server or an unknown workflow id is one line.
 */
export async function withClient<T>(fn: (client: ReassignmentClient) => Promise<T>): Promise<T> {
  const config = loadConfig();
  let client: ReassignmentClient;
  try {
    client = await ReassignmentClient.connect(config);
  } catch (err) {
    if (err instanceof TemporalUnreachable) throw new UserError(err.message);
    throw err;
  }
  try {
    return await fn(client);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || (err as { name?: string }).name === 'WorkflowNotFoundError') {
      throw new UserError(`no reassignment with that workflow id in namespace ${config.TEMPORAL_NAMESPACE}`);
    }
    if (err instanceof RunFailed) throw new UserError(err.message);
    throw err;
  } finally {
    await client.close();
  }
}

export function print(value: unknown, json: boolean, text: () => string): void {
  console.log(json ? JSON.stringify(value, null, 2) : text());
}
