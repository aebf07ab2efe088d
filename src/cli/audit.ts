import type { Command } from 'commander';
import { loadConfig } from '../config';
import { describeTarget, targetExists, targetOf } from '../db/open';
import { checkInvariants } from '../domain/audit';
import { SchedulingStore } from '../domain/store';
import { runsWithoutLiveWorkflow, type StaleRun } from '../temporal/staleRuns';
import { UserError, withClient } from './session';

export function addAuditCommand(program: Command): void {
  program
    .command('audit')
    .description(
      "check the scheduling database's invariants, and that runs recorded as running still run in Temporal; exits non-zero listing each violation",
    )
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig();
      const target = targetOf(config);
      if (!targetExists(target)) throw new UserError(`no scheduling database at ${config.DB_PATH}`);
      const store = await SchedulingStore.open(target, config);
      try {
        const violations = await checkInvariants(store);
        const counts = await store.counts();
        const running = await store.runsMarkedRunning();
        // Runs recorded as running are asked about in Temporal; without a server they cannot be judged.
        let unchecked: string | undefined;
        let stale: StaleRun[] = [];
        if (running.length > 0) {
          try {
            stale = await withClient(({ temporal: client }) => runsWithoutLiveWorkflow(client, running));
          } catch (err) {
            if (!(err instanceof UserError)) throw err;
            unchecked = `${running.length} run(s) recorded as running were not checked: ${err.message}`;
          }
        }
        for (const s of stale)
          violations.push({
            rule: 'run recorded as running without a live workflow',
            detail: JSON.stringify(s),
          });
        if (opts.json)
          console.log(JSON.stringify({ counts, violations, ...(unchecked ? { unchecked } : {}) }, null, 2));
        else {
          for (const v of violations) console.log(`violation: ${v.rule}: ${v.detail}`);
          if (unchecked) console.log(`note: ${unchecked}`);
          console.log(
            `${describeTarget(target)}: ${counts.appointments} appointments, ${counts.assignments} assignments, ${counts.waitlist} waitlisted, ${counts.notifications} notifications; ${violations.length} violation(s)`,
          );
        }
        if (violations.length > 0) process.exitCode = 1;
      } finally {
        await store.close();
      }
    });
}
