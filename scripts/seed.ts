import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../src/config';
import { DEMO_DATE, demoDataset } from '../src/domain/demoData';
import { isoDateSchema, providerIdSchema } from '../src/domain/model';
import { describeTarget, targetOf } from '../src/db/open';
import { SchedulingStore } from '../src/domain/store';
import {
  syntheticDataset,
  syntheticDays,
  MAX_APPOINTMENTS_PER_DAY,
  MAX_SYNTHETIC_APPOINTMENTS,
} from '../src/domain/syntheticData';
import { describeError } from '../src/errors';

/**
 * Loads a data set into the scheduling database (replacing its content): the demo, or a synthetic one; and, with
 * --unavailable, records providers as unavailable on a day (several at once: a multi-provider day), so that each
 * one's run finds its appointments and no run moves a patient to any of them.
 */

/** Provider ids, comma-separated: each checked before anything is written. */
function providerList(v: string): string[] {
  const ids = [...new Set(v.split(',').map((x) => x.trim().toUpperCase()))].filter(Boolean);
  if (ids.length === 0) throw new InvalidArgumentError('name at least one provider, e.g. T001,P003');
  for (const id of ids)
    if (!providerIdSchema.safeParse(id).success) throw new InvalidArgumentError(`${id} is not a provider id (T001)`);
  return ids;
}

function dateOption(v: string): string {
  if (!isoDateSchema.safeParse(v).success) throw new InvalidArgumentError('must be a calendar date, YYYY-MM-DD');
  return v;
}

const program = new Command('seed')
  .option(
    '--synthetic <n>',
    `a synthetic data set with n affected appointments (1..${MAX_SYNTHETIC_APPOINTMENTS}; past ${MAX_APPOINTMENTS_PER_DAY} they spread over the following days)`,
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > MAX_SYNTHETIC_APPOINTMENTS)
        throw new InvalidArgumentError(`must be an integer from 1 to ${MAX_SYNTHETIC_APPOINTMENTS}`);
      return n;
    },
  )
  .option('--seed <n>', 'random seed of the synthetic data set', (v) => Number(v), 42)
  .option(
    '--unavailable <ids>',
    'record these providers as unavailable (comma-separated, e.g. T001,P003)',
    providerList,
  )
  .option('--date <date>', `the day they are unavailable (with --unavailable; default ${DEMO_DATE})`, dateOption)
  .option('--reason <text>', 'why they are unavailable (with --unavailable)', 'unavailable')
  .action(async (opts: { synthetic?: number; seed: number; unavailable?: string[]; date?: string; reason: string }) => {
    const config = loadConfig();
    const data = opts.synthetic ? syntheticDataset({ appointments: opts.synthetic, seed: opts.seed }) : demoDataset();
    // Every id is checked against the data set before the database is touched: a mistake writes nothing.
    const known = new Set(data.providers.map((p) => p.id));
    const unknown = (opts.unavailable ?? []).filter((id) => !known.has(id));
    if (unknown.length > 0)
      throw new InvalidArgumentError(
        `unknown provider ${unknown.join(', ')}: this data set has ${[...known].sort().join(', ')}`,
      );
    if (opts.date && !opts.unavailable) throw new InvalidArgumentError('--date goes with --unavailable');
    const date = opts.date ?? DEMO_DATE;
    const store = await SchedulingStore.open(targetOf(config), config);
    try {
      await store.load(data);
      const c = await store.counts();
      let what = 'the demo data set';
      if (opts.synthetic) {
        const { days, until } = syntheticDays({ appointments: opts.synthetic });
        what =
          days === 1
            ? `a synthetic data set (${opts.synthetic} appointments of T001 on 2025-11-21)`
            : `a synthetic data set (${opts.synthetic} appointments of T001 from 2025-11-21 through ${until}: start with --date 2025-11-21 --until ${until})`;
      }
      console.log(
        `loaded ${what} into ${describeTarget(store.target)}: ${c.providers} providers, ${c.appointments} appointments`,
      );
      for (const id of opts.unavailable ?? []) {
        await store.markUnavailable(id, date, opts.reason);
        const n = await store.appointmentCount(id, date);
        console.log(
          `${id} is unavailable on ${date}: ${n} appointment(s)${n > 0 ? ` (npm run cli -- start -p ${id} -d ${date})` : ''}`,
        );
      }
    } finally {
      await store.close();
    }
  });
program.parseAsync(process.argv).catch((err) => {
  console.error(`seed: ${describeError(err)}`);
  process.exit(1);
});
