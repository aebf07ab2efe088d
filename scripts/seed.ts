import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../src/config';
import { demoDataset } from '../src/domain/demoData';
import { SchedulingStore } from '../src/domain/store';
import {
  syntheticDataset,
  syntheticDays,
  MAX_APPOINTMENTS_PER_DAY,
  MAX_SYNTHETIC_APPOINTMENTS,
} from '../src/domain/syntheticData';
import { describeError } from '../src/errors';

/** Loads a data set into the scheduling database (replacing its content): the demo, or a synthetic one. */
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
  .action((opts: { synthetic?: number; seed: number }) => {
    const config = loadConfig();
    const store = new SchedulingStore(config.DB_PATH);
    try {
      store.load(opts.synthetic ? syntheticDataset({ appointments: opts.synthetic, seed: opts.seed }) : demoDataset());
      const c = store.counts();
      let what = 'the demo data set';
      if (opts.synthetic) {
        const { days, until } = syntheticDays({ appointments: opts.synthetic });
        what =
          days === 1
            ? `a synthetic data set (${opts.synthetic} appointments of T001 on 2025-11-21)`
            : `a synthetic data set (${opts.synthetic} appointments of T001 from 2025-11-21 through ${until}: start with --date 2025-11-21 --until ${until})`;
      }
      console.log(`loaded ${what} into ${config.DB_PATH}: ${c.providers} providers, ${c.appointments} appointments`);
    } finally {
      store.close();
    }
  });
program.parseAsync(process.argv).catch((err) => {
  console.error(`seed: ${describeError(err)}`);
  process.exit(1);
});
