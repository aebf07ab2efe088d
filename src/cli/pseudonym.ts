import type { Command } from 'commander';
import { loadConfig } from '../config';
import { patientIdSchema } from '../domain/model';
import { pseudonymsFor } from '../langfuse/patientPseudonyms';
import { UserError } from './session';

/**
 * `pseudonym PAT001 …`: the pseudonym that stands for each patient id in Langfuse traces (the same keyed hash the
 * worker uses, under PATIENT_ID_HMAC_KEY or the local key file), to find a patient's traces, e.g. by searching
 * for it in Langfuse.
 */
export function addPseudonymCommand(program: Command): void {
  program
    .command('pseudonym')
    .description('the pseudonym of each patient id in Langfuse traces (HMAC-SHA256 under the pseudonym key)')
    .argument('<patientIds...>', 'patient ids, e.g. PAT001')
    .option('--json', 'print JSON')
    .action((ids: string[], opts: { json?: boolean }) => {
      for (const id of ids)
        if (!patientIdSchema.safeParse(id).success) throw new UserError(`not a patient id: ${JSON.stringify(id)}`);
      const pseudonyms = pseudonymsFor(loadConfig(), (line) => console.error(line));
      if (opts.json) console.log(JSON.stringify(Object.fromEntries(ids.map((id) => [id, pseudonyms.of(id)]))));
      else for (const id of ids) console.log(`${id} ${pseudonyms.of(id)}`);
    });
}
