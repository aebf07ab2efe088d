import path from 'node:path';
import { loadConfig } from '../src/config';
import { describeError } from '../src/errors';
import { startDevServer } from '../src/temporal/devServer';

/** The Temporal dev server on the project's SQLite file (runs survive restarts), Web UI on 8233. */
async function main(): Promise<void> {
  const config = loadConfig();
  const [ip, port] = config.TEMPORAL_ADDRESS.split(':') as [string, string];
  const codecEndpoint = `http://localhost:${config.CODEC_PORT}`;
  const server = await startDevServer({
    dbFile: config.TEMPORAL_DB_PATH,
    ip,
    port: Number(port),
    uiPort: config.TEMPORAL_UI_PORT,
    // The Web UI decrypts payloads through our codec server (`npm run codec-server`), in the browser.
    uiCodecEndpoint: codecEndpoint,
    foreground: true,
  });
  console.log(
    `Temporal dev server on ${server.address} (SQLite ${path.relative(process.cwd(), config.TEMPORAL_DB_PATH)}), Web UI ${server.uiUrl}; Ctrl-C stops it.`,
  );
  console.log(
    `The Web UI decodes payloads through ${codecEndpoint}: run \`npm run codec-server\` to read them there (they are encrypted).`,
  );
  const stop = () => void server.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  server.process?.once('exit', (code) => process.exit(code ?? 0));
}

main().catch((err) => {
  console.error(`server: ${describeError(err)}`);
  process.exit(1);
});
