import type { Command } from 'commander';
import { DecisionRefused } from '../temporal/approvalDecision';
import { UserError, withClient } from './session';

/**
 * approve and reject through the run's `decideApproval` Update, as the HTTP API decides: the run answers at once,
 * and an appointment that awaits no decision (or was decided already) is refused in one line, nothing written.
 */
export function addApprovalCommands(program: Command): void {
  const decision = (name: 'approve' | 'reject') =>
    program
      .command(name)
      .description(`${name} the assignment an appointment is waiting on`)
      .argument('<workflowId>')
      .argument('<appointmentId>')
      .option('--by <name>', 'who decides', process.env.USER ?? 'operator')
      .option('--note <text>', 'a note kept with the decision')
      .action(async (workflowId: string, appointmentId: string, opts: { by: string; note?: string }) => {
        await withClient(async (client) => {
          const accepted = await client
            .decide(workflowId, {
              appointmentId,
              decision: name,
              by: opts.by,
              ...(opts.note ? { note: opts.note } : {}),
            })
            .catch((err: unknown) => {
              throw err instanceof DecisionRefused ? new UserError(err.message) : err;
            });
          console.log(
            `${accepted.decision} ${accepted.appointment_id} → ${accepted.provider_id} in ${accepted.workflow_id} (by ${accepted.by})`,
          );
        });
      });
  decision('approve');
  decision('reject');
}
