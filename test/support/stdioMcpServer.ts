import fs from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

/**
 * A small MCP server on stdio, built with the official SDK, for test/mcpToolSource.test.ts: a prompt config names it
 * by `command` and `args`; its one tool appends each call (arguments and idempotency key) as a line of JSON to the
 * file given as its first argument.
 */

const log = process.argv[2];
if (!log) throw new Error('usage: stdioMcpServer.ts <log file>');

const server = new McpServer({ name: 'test-stdio-ehr', version: '1.0.0' });
server.registerTool(
  'record_outcome',
  {
    description: 'Record in the EHR how a reassigned appointment ended.',
    inputSchema: { appointment_id: z.string(), outcome: z.enum(['reassigned', 'waitlisted']) },
  },
  (args, extra) => {
    fs.appendFileSync(log, `${JSON.stringify({ ...args, key: extra._meta?.idempotency_key })}\n`);
    return { content: [{ type: 'text', text: `recorded ${args.appointment_id}` }] };
  },
);
void server.connect(new StdioServerTransport());
