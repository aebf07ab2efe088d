import { ReassignmentClient } from '../client';
import fs from 'node:fs';
import { ConfigError, loadConfig, type AppConfig } from '../config';
import { describeError } from '../errors';
import { ApiKeys } from './auth';
import { buildApiServer } from './server';
import { abortableRetryInterceptor } from './temporalWatch';

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
  const https = tlsFiles(config);
  const client = await ReassignmentClient.connect(config, { interceptors: [abortableRetryInterceptor()] });
  const app = await buildApiServer({ config, client, ...(keys ? { keys } : {}) }, https ? { https } : {});
  const host = keys ? config.API_HOST : '127.0.0.1';
  if (!keys && config.API_HOST !== '127.0.0.1')
    say(
      'no API_KEYS configured: no authentication, so the API listens on 127.0.0.1 only (set API_KEYS to serve others)',
    );
  await app.listen({ host, port: config.API_PORT });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.API_PORT;
  const url = `${https ? 'https' : 'http'}://${host === '0.0.0.0' ? 'localhost' : host}:${port}`;
  return {
    url,
    async close() {
      await app.close();
      await client.close();
    },
  };
}

/** API_TLS_CERT and API_TLS_KEY (PEM files), both or neither; a missing or unreadable one stops the start in one line. */
function tlsFiles(config: AppConfig): { cert: Buffer; key: Buffer } | undefined {
  const { API_TLS_CERT: cert, API_TLS_KEY: key } = config;
  if (!cert && !key) return undefined;
  if (!cert || !key)
    throw new ConfigError('invalid configuration: API_TLS_CERT and API_TLS_KEY go together: set both, or neither');
  const read = (file: string, name: string) => {
    try {
      return fs.readFileSync(file);
    } catch {
      throw new ConfigError(`invalid configuration: ${name} cannot be read`);
    }
  };
  return { cert: read(cert, 'API_TLS_CERT'), key: read(key, 'API_TLS_KEY') };
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
