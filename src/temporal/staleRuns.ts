import { WorkflowNotFoundError, type Client } from '@temporalio/client';

/**
 * Runs the store still records as running, checked against Temporal: a run whose workflow is gone, or closed
 * without recording its outcome (terminated, timed out, or failed before runs closed their record), would
 * otherwise stay "running" for ever, and the audit skips running runs. Each is a violation to look into.
 */

export interface StaleRun {
  run_id: string;
  started_at: string;
  /** What Temporal says of the workflow: its status (terminated, failed, ...), or that it does not exist. */
  workflow: string;
}

const CONCURRENCY = 16;

export async function runsWithoutLiveWorkflow(
  client: Client,
  running: { run_id: string; started_at: string }[],
): Promise<StaleRun[]> {
  const stale: StaleRun[] = [];
  for (let i = 0; i < running.length; i += CONCURRENCY) {
    const checked = await Promise.all(
      running.slice(i, i + CONCURRENCY).map(async (run) => {
        try {
          const status = (await client.workflow.getHandle(run.run_id).describe()).status.name;
          return status === 'RUNNING' ? undefined : { ...run, workflow: status.toLowerCase() };
        } catch (err) {
          if (err instanceof WorkflowNotFoundError || (err as { name?: string }).name === 'WorkflowNotFoundError')
            return { ...run, workflow: 'no such workflow' };
          throw err;
        }
      }),
    );
    stale.push(...checked.filter((s): s is StaleRun => s !== undefined));
  }
  return stale;
}
