import { ApiKeys } from '../api/auth';
import { loadConfig, type AppConfig } from '../config';
import { describeError } from '../errors';
import { codecFor, describeEncryption } from '../temporal/dataConverter';
import { buildCodecServer, webUiOrigins } from './server';

/**
 * `npm run codec-server`: the codec server for the Temporal Web UI (`npm run server` points the UI at it) and the
 * Temporal CLI (`--codec-endpoint`). Without API_KEYS there is no authentication, so it listens on loopback only.
 */

export interface RunningCodecServer {
  url: string;
  close(): Promise<void>;
}

export async function startCodecServer(
  config: AppConfig,
  log: (line: string) => void = console.log,
): Promise<RunningCodecServer> {
  const keys = ApiKeys.fromSetting(config.API_KEYS);
  const codec = codecFor(config, { say: log });
  const app = await buildCodecServer({
    ...(codec ? { codec } : {}),
    ...(keys ? { keys } : {}),
    allowedOrigins: webUiOrigins(config),
    log,
  });
  const host = keys ? config.CODEC_HOST : '127.0.0.1';
  if (!keys && config.CODEC_HOST !== '127.0.0.1')
    log('no API_KEYS configured: no authentication, so the codec server listens on 127.0.0.1 only');
  await app.listen({ host, port: config.CODEC_PORT });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.CODEC_PORT;
  return {
    url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}`,
    close: () => app.close(),
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const server = await startCodecServer(config);
  console.log(
    `codec server on ${server.url} (${describeEncryption(config)}; browsers allowed from ${webUiOrigins(config).join(', ')}); Ctrl-C stops it`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`codec-server: ${describeError(err)}`);
    process.exit(1);
  });
}
