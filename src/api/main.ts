import { ReassignmentClient } from '../client';
import { loadConfig, type AppConfig } from '../config';
import { describeError } from '../errors';
import { ApiKeys } from './auth';
import { buildApiServer } from './server';

/**
 * `npm run api`: the HTTP API and the operator console. Without API_KEYS there is no authentication, so the
 * server listens on loopback only, whatever API_HOST says, and says so.
 */

export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

/** Starts the server on a Temporal connection; the demo and the tests use it as `npm run api` does. */
export async function startApi(config: AppConfig, say: (line: string) => void = console.log): Promise<RunningApi> {
  const keys = ApiKeys.fromSetting(config.API_KEYS);
  const client = await ReassignmentClient.connect(config);
  const app = await buildApiServer({ config, client, ...(keys ? { keys } : {}) });
  const host = keys ? config.API_HOST : '127.0.0.1';
  if (!keys && config.API_HOST !== '127.0.0.1')
    say(
      'no API_KEYS configured: no authentication, so the API listens on 127.0.0.1 only (set API_KEYS to serve others)',
    );
  await app.listen({ host, port: config.API_PORT });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.API_PORT;
  const url = `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}`;
  return {
    url,
    async close() {
      await app.close();
      await client.close();
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const api = await startApi(config);
  console.log(`operator console and API on ${api.url} (OpenAPI document: ${api.url}/openapi.json); Ctrl-C stops it`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await api.close();
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`api: ${describeError(err)}`);
    process.exit(1);
  });
}
