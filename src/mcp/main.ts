import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { ApiDeps } from '../api/deps';
import { ReassignmentClient } from '../client';
import { loadConfig } from '../config';
import { describeError } from '../errors';
import { createMcpServer } from './server';

/**
 * `npm run mcp`: the MCP server over stdio, for an assistant on this machine (Claude Desktop, an IDE). The person
 * who starts it is an operator, as with our CLI; decisions are recorded under MCP_OPERATOR_NAME (or $USER).
 * Nothing but the protocol goes to stdout. Temporal is reached on the first call, so the assistant hears a
 * server that is down as a tool error in one line, not as a dead MCP server.
 */

async function main(): Promise<void> {
  const config = loadConfig();
  let connecting: Promise<ApiDeps> | undefined;
  const deps = () => {
    connecting ??= ReassignmentClient.connect(config).then(
      (client) => ({ config, client }),
      (err: unknown) => {
        connecting = undefined; // the next call tries again
        throw err;
      },
    );
    return connecting;
  };
  const name = `${process.env.MCP_OPERATOR_NAME ?? process.env.USER ?? 'local operator'} (MCP)`;
  const server = createMcpServer(deps, { name, role: 'operator' });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve;
    process.stdin.once('end', resolve);
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.connect(transport);
  await closed;
  await server.close().catch(() => undefined);
  if (connecting) await (await connecting.catch(() => undefined))?.client.close();
}

main().catch((err) => {
  process.stderr.write(`mcp: ${describeError(err)}\n`);
  process.exit(1);
});
