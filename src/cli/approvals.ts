import type { Command } from 'commander';
import { approveSignal, progressQuery, rejectSignal } from '../workflows/signals';
import { UserError, withClient } from './session';

/** approve and reject: check with the progress query that the appointment awaits a decision, then signal. */
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
          const handle = client.workflow.getHandle(workflowId);
          const progress = await handle.query(progressQuery);
          if (!progress.pending_approvals.some((p) => p.appointment_id === appointmentId)) {
            const waiting = progress.pending_approvals.map((p) => p.appointment_id).join(', ') || 'none';
            throw new UserError(`${appointmentId} is not awaiting approval in ${workflowId} (awaiting: ${waiting})`);
          }
          await handle.signal(name === 'approve' ? approveSignal : rejectSignal, {
            appointmentId,
            by: opts.by,
            ...(opts.note ? { note: opts.note } : {}),
          });
          console.log(`${name === 'approve' ? 'approved' : 'rejected'} ${appointmentId} in ${workflowId}`);
        });
      });
  decision('approve');
  decision('reject');
}
