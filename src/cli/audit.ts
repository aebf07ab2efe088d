import fs from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config';
import { checkInvariants } from '../domain/audit';
import { SchedulingStore } from '../domain/store';
import { UserError } from './session';

export function addAuditCommand(program: Command): void {
  program
    .command('audit')
    .description("check the scheduling database's invariants; exits non-zero listing each violation")
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const config = loadConfig();
      if (!fs.existsSync(config.DB_PATH)) throw new UserError(`no scheduling database at ${config.DB_PATH}`);
      const store = new SchedulingStore(config.DB_PATH);
      try {
        const violations = checkInvariants(store);
        const counts = store.counts();
        if (opts.json) console.log(JSON.stringify({ counts, violations }, null, 2));
        else {
          for (const v of violations) console.log(`violation: ${v.rule}: ${v.detail}`);
          console.log(
            `${config.DB_PATH}: ${counts.appointments} appointments, ${counts.assignments} assignments, ${counts.waitlist} waitlisted, ${counts.notifications} notifications; ${violations.length} violation(s)`,
          );
        }
        if (violations.length > 0) process.exitCode = 1;
      } finally {
        store.close();
      }
    });
}
