import { InvalidArgumentError, type Command } from 'commander';
import { DomainRefusal } from '../domain/refusals';
import { FollowUpRefusal } from '../temporal/followUps';
import { UserError, withClient } from './session';

/**
 * A patient's answer and visit score (sent to the appointment's follow-up, as the API does), an appointment's
 * offers, and the escalations inbox.
 */

const refused = (err: unknown): never => {
  throw err instanceof FollowUpRefusal || err instanceof DomainRefusal ? new UserError(err.message) : err;
};

function wholeNumber(min: number, max: number) {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max)
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

export function addOutcomeCommands(program: Command): void {
  program
    .command('answer')
    .description("record a patient's answer to the slot offered (declined: the slot is released and re-offered)")
    .argument('<appointmentId>')
    .argument('<answer>', 'accepted or declined', (v: string) => {
      if (v !== 'accepted' && v !== 'declined') throw new InvalidArgumentError('must be accepted or declined');
      return v;
    })
    .option('--reason <text>', 'why the patient declined')
    .option('--offer <n>', 'the offer answered (default: the open one)', wholeNumber(1, 100))
    .option('--by <name>', 'who records it', process.env.USER ?? 'operator')
    .action(
      async (
        appointmentId: string,
        answer: 'accepted' | 'declined',
        opts: { reason?: string; offer?: number; by: string },
      ) => {
        await withClient(async (client) => {
          const done = await client.outcomes
            .answer(appointmentId, {
              answer,
              by: opts.by,
              ...(opts.reason ? { reason: opts.reason } : {}),
              ...(opts.offer !== undefined ? { offer: opts.offer } : {}),
            })
            .catch(refused);
          const next = {
            visit: 'the visit stands',
            reoffer: 'the slot is released and re-offered',
            waitlist: 'the patient goes to the waitlist',
          }[done.next];
          console.log(`${done.appointment_id}: offer ${done.offer_no} (${done.provider_id}) ${done.answer}; ${next}`);
        });
      },
    );

  program
    .command('rate')
    .description("record a patient's score of the visit, 1 (poor) to 5 (excellent)")
    .argument('<appointmentId>')
    .argument('<score>', '1 to 5', wholeNumber(1, 5))
    .option('--by <name>', 'who records it', process.env.USER ?? 'operator')
    .action(async (appointmentId: string, score: number, opts: { by: string }) => {
      await withClient(async (client) => {
        const done = await client.outcomes.rate(appointmentId, { score, by: opts.by }).catch(refused);
        console.log(`${done.appointment_id}: satisfaction ${done.score}/5 recorded`);
      });
    });

  program
    .command('offers')
    .description("an appointment's offered slots and the patient's answers")
    .argument('<appointmentId>')
    .option('--json', 'print JSON')
    .action(async (appointmentId: string, opts: { json?: boolean }) => {
      await withClient(async (client) => {
        const found = await client.outcomes.offers(appointmentId);
        if (!found) throw new UserError(`unknown appointment ${appointmentId}`);
        if (opts.json) return console.log(JSON.stringify({ appointment_id: appointmentId, ...found }, null, 2));
        if (found.offers.length === 0) return console.log(`${appointmentId}: no slot was offered`);
        for (const o of found.offers)
          console.log(
            `${appointmentId} offer ${o.offer_no}: ${o.provider_id} (score ${o.score}, ${o.band}, ${o.decided_by}-driven, ${o.run_id}) ${o.status}${o.reason ? ` (${o.reason})` : ''}${o.answered_by ? ` by ${o.answered_by}` : ''}`,
          );
        if (found.satisfaction !== null) console.log(`${appointmentId} satisfaction: ${found.satisfaction}/5`);
      });
    });

  const esc = program.command('escalations').description('what a head of department must see');
  esc
    .command('list', { isDefault: true })
    .option('--status <status>', 'open, acknowledged or resolved', (v: string) => {
      if (!['open', 'acknowledged', 'resolved'].includes(v))
        throw new InvalidArgumentError('must be open, acknowledged or resolved');
      return v;
    })
    .option('--json', 'print JSON')
    .action(async (opts: { status?: 'open' | 'acknowledged' | 'resolved'; json?: boolean }) => {
      await withClient(async (client) => {
        const list = await client.outcomes.escalations(opts.status ? { status: opts.status } : {});
        if (opts.json) return console.log(JSON.stringify(list, null, 2));
        if (list.length === 0) return console.log(`no ${opts.status ?? ''} escalations`.replace('  ', ' '));
        for (const e of list)
          console.log(
            `#${e.id} ${e.status.padEnd(12)} ${e.kind.padEnd(19)} ${e.created_at.slice(0, 16)} ${e.reason}${e.resolved_by ? ` · resolved by ${e.resolved_by}` : e.acknowledged_by ? ` · acknowledged by ${e.acknowledged_by}` : ''}`,
          );
      });
    });
  for (const [name, to] of [
    ['ack', 'acknowledged'],
    ['resolve', 'resolved'],
  ] as const)
    esc
      .command(name)
      .description(name === 'ack' ? 'someone is on it' : 'done')
      .argument('<id>', 'the escalation number', wholeNumber(1, 2 ** 31))
      .option('--by <name>', 'who', process.env.USER ?? 'operator')
      .option('--note <text>', 'a note (resolve)')
      .action(async (id: number, opts: { by: string; note?: string }) => {
        await withClient(async (client) => {
          let e;
          try {
            e = await client.outcomes.moveEscalation(id, to, opts.by, opts.note);
          } catch (err) {
            refused(err);
          }
          console.log(`#${e!.id} ${e!.status} by ${opts.by}`);
        });
      });
}
