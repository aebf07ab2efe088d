import { ActivityFailure, CancellationScope } from '@temporalio/workflow';
import type { ToolOutcome } from '../../tools/catalog';
import { invalidMcpArguments, mcpIdempotencyKey, type PinnedMcpTool } from '../../tools/mcpSource';
import { mcpProxy } from '../activityProxies';
import type { BatchSession } from './batchSession';

/**
 * One call of a pinned MCP tool, as the model asked for it: the arguments checked against the pinned schema before
 * anything is sent (a mismatch is an invalid call the model reads), then one activity, retried; a write-like tool
 * carries an idempotency key derived from the run and the arguments. A server still down after the retries is
 * answered `server_unavailable`, and the batch hands what is left to the code-driven steps.
 */
export async function callPinnedMcpTool(
  session: BatchSession,
  tool: PinnedMcpTool,
  args: unknown,
): Promise<ToolOutcome> {
  const invalid = invalidMcpArguments(tool, args);
  if (invalid) {
    session.outcome.llm.invalid_tool_calls += 1;
    return { ok: false, code: 'invalid_arguments', error: invalid };
  }
  const server = session.input.bundle.config.mcp_servers?.find((s) => s.name === tool.server);
  if (!server) return { ok: false, code: 'unknown_tool', error: `there is no tool named ${tool.name}` };
  session.outcome.tool_calls += 1;
  const idempotencyKey = mcpIdempotencyKey(session.workflowId, tool, args);
  try {
    // Side effects always finish once started: cancellation stops the run after the step in flight.
    return await CancellationScope.nonCancellable(() =>
      mcpProxy.callMcpTool.executeWithOptions({ summary: `${tool.name} (MCP) · batch ${session.input.batch}` }, [
        {
          server,
          tool: tool.tool,
          args: args as Record<string, unknown>,
          ...(idempotencyKey ? { idempotencyKey } : {}),
          runId: session.workflowId,
        },
      ]),
    );
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const why = (err.cause?.message ?? err.message).slice(0, 300);
    return { ok: false, code: 'server_unavailable', error: `MCP server ${tool.server} is unavailable: ${why}` };
  }
}
