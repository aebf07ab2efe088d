import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Principal } from '../api/auth';
import type { ApiDeps } from '../api/deps';
import { describeError } from '../errors';
import { describeZodError } from '../zodIssue';
import { mayCall, mcpTools, type McpContext } from './tools';

/**
 * The product as an MCP server (the official SDK's low-level Server): the tool list generated from the tools' zod
 * schemas, and each call checked, authorised and run as the caller. An unknown tool or arguments that do not
 * validate are a protocol error (-32602) in one line, before anything runs; a refusal of the operation itself
 * (a decision already made, an unknown run, the wrong role) is a tool error (isError) with the one-line reason.
 * Used over stdio (`npm run mcp`) and over streamable HTTP (`/mcp` on the API server, one server per request).
 */

export const MCP_SERVER_NAME = 'prompt-driven-reassignment';
const MCP_SERVER_VERSION = '1.0.0';

const jsonSchemaOf = (schema: z.ZodType) => {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return json as { type: 'object'; [key: string]: unknown };
};

const toolList = mcpTools.map((t) => ({
  name: t.name,
  description: `${t.description}${t.role === 'operator' ? ' (operator role)' : ''}`,
  inputSchema: jsonSchemaOf(t.input),
  annotations: { readOnlyHint: t.readOnly, destructiveHint: false, openWorldHint: false },
}));

export function createMcpServer(
  deps: () => Promise<ApiDeps>,
  principal: Principal,
  hooks: Pick<McpContext, 'viewedPatientData'> = {},
): Server {
  const server = new Server(
    { name: MCP_SERVER_NAME, version: MCP_SERVER_VERSION },
    {
      capabilities: { tools: {} },
      instructions:
        'Reassign the appointments of an unavailable healthcare provider: start_reassignment, follow it with ' +
        'get_reassignment, see what waits for a human with list_approvals and decide it with decide_approval.',
    },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: toolList }));
  server.setRequestHandler(CallToolRequestSchema, async (request): Promise<CallToolResult> => {
    const { name } = request.params;
    const tool = mcpTools.find((t) => t.name === name);
    if (!tool) throw new InvalidCall(`unknown tool ${name}: use one of ${mcpTools.map((t) => t.name).join(', ')}`);
    const args = tool.input.safeParse(request.params.arguments ?? {});
    if (!args.success)
      throw new InvalidCall(`invalid arguments for ${name}: ${describeZodError(args.error, '(arguments)')}`);
    const refused = mayCall(tool, principal);
    if (refused) return toolError(refused);
    try {
      const result = (await tool.run(args.data as never, { deps: await deps(), principal, ...hooks })) as Record<
        string,
        unknown
      >;
      return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
    } catch (err) {
      return toolError(describeError(err));
    }
  });
  return server;
}

/**
 * A call refused before it runs: answered as the JSON-RPC error -32602 with this one line (the SDK's McpError would
 * put its own "MCP error -32602:" in the line, and the client adds it again).
 */
class InvalidCall extends Error {
  readonly code = ErrorCode.InvalidParams;
}

function toolError(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message.split('\n')[0]! }], isError: true };
}
