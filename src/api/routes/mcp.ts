import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyInstance } from 'fastify';
import { createMcpServer } from '../../mcp/server';
import type { ApiDeps } from '../deps';

/**
 * `/mcp`: the MCP server over streamable HTTP, stateless: a server and a transport per request (a transport reused
 * across requests answers an empty 500, modelcontextprotocol/typescript-sdk#1994). The API's keys apply: any key
 * may list and read, the operator role may start, decide and cancel, and decisions carry the key's name.
 */
export function registerMcpRoute(app: FastifyInstance, deps: ApiDeps): void {
  app.post('/mcp', { config: { role: 'viewer' }, schema: { hide: true } }, async (request, reply) => {
    // A patient-data view through MCP goes into the access log like one through the API.
    const server = createMcpServer(() => Promise.resolve(deps), request.principal, {
      viewedPatientData: () => (request.patientData = true),
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    reply.hijack();
    reply.raw.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(request.raw, reply.raw, request.body);
  });
}
