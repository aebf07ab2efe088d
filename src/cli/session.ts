import { Client, Connection, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { InvalidArgumentError } from 'commander';
import type { z } from 'zod';
import { loadConfig, type AppConfig } from '../config';
import { describeError } from '../errors';
import type { ReassignmentResult } from '../workflows/contract/types';
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

async function connect(config: AppConfig): Promise<{ client: Client; connection: Connection }> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: 3000 });
    await connection.workflowService.getSystemInfo({});
  } catch {
    throw new UserError(
      `cannot reach the Temporal server at ${config.TEMPORAL_ADDRESS}: start it with \`npm run server\` (or set TEMPORAL_ADDRESS)`,
    );
  }
  return { client: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }), connection };
}

export async function withClient<T>(fn: (client: Client, config: AppConfig) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const { client, connection } = await connect(config);
  try {
    return await fn(client, config);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || (err as { name?: string }).name === 'WorkflowNotFoundError') {
      throw new UserError(`no reassignment with that workflow id in namespace ${config.TEMPORAL_NAMESPACE}`);
    }
    throw err;
  } finally {
    await connection.close();
  }
}

export function print(value: unknown, json: boolean, text: () => string): void {
  console.log(json ? JSON.stringify(value, null, 2) : text());
}

export async function awaitResult(client: Client, workflowId: string): Promise<ReassignmentResult> {
  try {
    return (await client.workflow.getHandle(workflowId).result()) as ReassignmentResult;
  } catch (err) {
    if (err instanceof WorkflowFailedError)
      throw new UserError(`the reassignment failed: ${describeError(err.cause ?? err)}`);
    throw err;
  }
}
