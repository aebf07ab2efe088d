import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { z } from 'zod';
import { MCP_RESULT_MAX_CHARS, mcpActivities } from '../src/activities/mcp';
import { parse as parseYaml } from 'yaml';
import { projectRoot } from '../src/config';
import { decideNextTurn } from '../src/llm/offline/agent';
import type { ChatMessage } from '../src/llm/chatTypes';
import { ErrorType } from '../src/errorTypes';
import { orchestratorConfigSchema } from '../src/prompts/schema';
import type { ToolOutcome } from '../src/tools/catalog';
import {
  invalidMcpArguments,
  mcpIdempotencyKey,
  mcpServerConfigSchema,
  type PinnedMcpTool,
} from '../src/tools/mcpSource';

/**
 * (unit) MCP servers as a tool source: the prompt config, the pinned schema's check, the keys, the offline agent, and
 * the call activity against a server built with the SDK (on a local port): results bounded, errors as results.
 */

const recordOutcome: PinnedMcpTool = {
  server: 'ehr',
  tool: 'record_outcome',
  name: 'ehr__record_outcome',
  description: 'Record how an appointment ended.',
  input_schema: {
    type: 'object',
    properties: {
      appointment_id: { type: 'string', pattern: '^A\\d+$' },
      outcome: { type: 'string', enum: ['reassigned', 'waitlisted'] },
      provider_id: { type: 'string' },
    },
    required: ['appointment_id', 'outcome'],
    additionalProperties: false,
  },
  read_only: false,
};

describe('MCP servers in the prompt config', () => {
  const production = () => {
    const file = parseYaml(
      fs.readFileSync(path.join(projectRoot, 'prompts', 'healthcare-orchestrator.yaml'), 'utf8'),
    ) as { versions: { labels: string[]; config: Record<string, unknown> }[] };
    return file.versions.find((v) => v.labels.includes('production'))!.config;
  };

  test('a server is named with a url or a command and the tools to offer', () => {
    const config = orchestratorConfigSchema.parse({
      ...production(),
      mcp_servers: [
        { name: 'ehr', url: 'https://ehr.example.org/mcp', tools: ['record_outcome'] },
        { name: 'sms', command: '/usr/local/bin/sms-mcp', args: ['--stdio'], tools: ['send_text'] },
      ],
    });
    expect(config.mcp_servers?.map((s) => s.name)).toEqual(['ehr', 'sms']);
  });

  test('both a url and a command, neither, no tools, a bad name or a name used twice are refused', () => {
    const bad = (server: Record<string, unknown>) => mcpServerConfigSchema.safeParse(server).success;
    expect(bad({ name: 'ehr', url: 'https://e/mcp', command: 'x', tools: ['t'] })).toBe(false);
    expect(bad({ name: 'ehr', tools: ['t'] })).toBe(false);
    expect(bad({ name: 'ehr', url: 'https://e/mcp', tools: [] })).toBe(false);
    expect(bad({ name: 'EHR server', url: 'https://e/mcp', tools: ['t'] })).toBe(false);
    expect(bad({ name: 'ehr', url: 'ftp://e/mcp', tools: ['t'] })).toBe(false);
    const twice = orchestratorConfigSchema.safeParse({
      ...production(),
      mcp_servers: [
        { name: 'ehr', url: 'https://a/mcp', tools: ['t'] },
        { name: 'ehr', url: 'https://b/mcp', tools: ['t'] },
      ],
    });
    expect(twice.error?.issues[0]?.message).toBe('each server needs its own name');
  });
});

describe('a pinned MCP tool', () => {
  test('arguments are checked against the pinned JSON Schema, in one line', () => {
    expect(invalidMcpArguments(recordOutcome, { appointment_id: 'A001', outcome: 'reassigned' })).toBeUndefined();
    expect(invalidMcpArguments(recordOutcome, { appointment_id: 'A001', outcome: 'lost' })).toMatch(
      /^invalid arguments for ehr__record_outcome: outcome /,
    );
    expect(invalidMcpArguments(recordOutcome, { outcome: 'reassigned' })).toMatch(/appointment_id/);
    expect(invalidMcpArguments(recordOutcome, { appointment_id: 'A1', outcome: 'waitlisted', extra: 1 })).toMatch(
      /^invalid arguments/,
    );
    expect(invalidMcpArguments(recordOutcome, 'A001')).toMatch(/^invalid arguments/);
  });

  test("a write-like call's key comes from the run and the arguments, whatever their order; a read gets none", () => {
    const a = mcpIdempotencyKey('reassign-T001-x', recordOutcome, { appointment_id: 'A001', outcome: 'reassigned' });
    const b = mcpIdempotencyKey('reassign-T001-x', recordOutcome, { outcome: 'reassigned', appointment_id: 'A001' });
    expect(a).toMatch(/^reassign-T001-x:mcp:ehr:record_outcome:[0-9a-f]{16}$/);
    expect(b).toBe(a);
    expect(
      mcpIdempotencyKey('reassign-T001-y', recordOutcome, { appointment_id: 'A001', outcome: 'reassigned' }),
    ).not.toBe(a);
    expect(
      mcpIdempotencyKey('reassign-T001-x', recordOutcome, { appointment_id: 'A002', outcome: 'reassigned' }),
    ).not.toBe(a);
    expect(mcpIdempotencyKey('reassign-T001-x', { ...recordOutcome, read_only: true }, {})).toBeUndefined();
  });
});

describe('the offline stand-in and a tool from outside the catalog', () => {
  const system = (step: string) =>
    `WORKFLOW STEPS\n1. Call find_candidates for each appointment.\n2. Decide.\n${step}\n\nDECISION CRITERIA: Score >= 150: excellent. Score >= 120 and below: good.`;
  const decided: ChatMessage[] = [
    { role: 'user', content: 'batch: {"appointments":[{"appointment_id":"A001","patient_id":"PT1"}]}' },
    {
      role: 'assistant',
      tool_calls: [
        {
          id: 'c1',
          type: 'function',
          function: { name: 'assign_appointment', arguments: '{"appointment_id":"A001","new_provider_id":"P001"}' },
        },
      ],
    },
    {
      role: 'tool',
      tool_call_id: 'c1',
      content: JSON.stringify({ ok: true, result: { appointment_id: 'A001', new_provider_id: 'P001', score: 180 } }),
    },
  ];
  const offered = ['find_candidates', 'assign_appointment', 'add_to_waitlist', 'ehr__record_outcome'];
  const schemas = { ehr__record_outcome: recordOutcome.input_schema };

  test('calls it once per decided appointment when the steps name it, with the arguments its schema asks for', () => {
    const messages = [{ role: 'system' as const, content: system('3. Then call ehr__record_outcome.') }, ...decided];
    expect(decideNextTurn(messages, offered, schemas).toolCalls).toEqual([
      {
        name: 'ehr__record_outcome',
        arguments: { appointment_id: 'A001', outcome: 'reassigned', provider_id: 'P001' },
      },
    ]);
    const answered: ChatMessage[] = [
      ...messages,
      {
        role: 'assistant',
        tool_calls: [
          {
            id: 'c2',
            type: 'function',
            function: { name: 'ehr__record_outcome', arguments: '{"appointment_id":"A001","outcome":"reassigned"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'c2', content: '{"ok":true,"result":{}}' },
    ];
    const next = decideNextTurn(answered, offered, schemas);
    expect(next.toolCalls).toEqual([]);
    expect(JSON.parse(next.content!)).toMatchObject({ successful_assignments: 1 });
  });

  test('leaves it alone when the steps do not name it', () => {
    const messages = [{ role: 'system' as const, content: system('3. Reply with the summary.') }, ...decided];
    expect(decideNextTurn(messages, offered, schemas).toolCalls).toEqual([]);
  });
});

describe('the MCP call activity', () => {
  const long = 'x'.repeat(3 * MCP_RESULT_MAX_CHARS);
  let server: http.Server;
  let url: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const mcp = new McpServer({ name: 'test-big', version: '1.0.0' });
        mcp.registerTool('long_text', { description: 'a long text' }, () => ({
          content: [{ type: 'text', text: long }],
        }));
        mcp.registerTool('long_json', { description: 'a long structured result' }, () => ({
          content: [{ type: 'text', text: 'see structuredContent' }],
          structuredContent: { rows: long },
        }));
        mcp.registerTool('short_json', { description: 'a short structured result' }, () => ({
          content: [{ type: 'text', text: 'ok' }],
          structuredContent: { free: 3 },
        }));
        mcp.registerTool('refuses', { description: 'an error result' }, () => ({
          content: [{ type: 'text', text: 'no such patient' }],
          isError: true,
        }));
        mcp.registerTool(
          'lookup',
          { description: 'a read', inputSchema: { id: z.string() }, annotations: { readOnlyHint: true } },
          ({ id }) => ({ content: [{ type: 'text', text: id }] }),
        );
        mcp.registerTool('typed', { description: 'typed', inputSchema: { n: z.number() } }, ({ n }) => ({
          content: [{ type: 'text', text: String(n) }],
        }));
        const transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: undefined,
          enableJsonResponse: true,
        });
        res.on('close', () => void mcp.close());
        void mcp
          .connect(transport)
          .then(() =>
            transport.handleRequest(
              req,
              res,
              chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown) : undefined,
            ),
          );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const call = (tool: string, args: Record<string, unknown> = {}): Promise<ToolOutcome> =>
    new MockActivityEnvironment().run(mcpActivities(async () => undefined).callMcpTool, {
      server: { name: 'big', url, tools: [tool] },
      tool,
      args,
      runId: 'reassign-T001-unit',
    });

  const list = (tools: string[]): Promise<PinnedMcpTool[]> =>
    new MockActivityEnvironment().run(mcpActivities(async () => undefined).listMcpTools, {
      server: { name: 'big', url, tools },
    });

  test('listing pins the named tools: name for the model, description, input schema, whether it only reads', async () => {
    const pinned = await list(['typed', 'lookup']);
    expect(pinned.map((t) => [t.name, t.tool, t.description, t.read_only])).toEqual([
      ['big__typed', 'typed', 'typed', false],
      ['big__lookup', 'lookup', 'a read', true],
    ]);
    expect(pinned[0]!.input_schema).toMatchObject({ type: 'object', properties: { n: { type: 'number' } } });
  });

  test('a tool the config names that the server does not have is refused for good, in one line', async () => {
    const refused = await list(['typed', 'record_outcome']).catch((err: unknown) => err as ApplicationFailure);
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect(refused).toMatchObject({ nonRetryable: true, type: ErrorType.invalidInput });
    expect((refused as ApplicationFailure).message).toMatch(/^MCP server big has no tool record_outcome \(it has: /);
  });

  test(`a result is cut to ${MCP_RESULT_MAX_CHARS} characters before it enters the history, text or structured`, async () => {
    const text = await call('long_text');
    expect(text.ok).toBe(true);
    const cut = (text as { result: { text: string } }).result.text;
    expect(cut.startsWith('x'.repeat(MCP_RESULT_MAX_CHARS))).toBe(true);
    expect(cut.length).toBeLessThan(MCP_RESULT_MAX_CHARS + 100);
    expect(cut).toMatch(/\(cut: 24000 characters, at most 8000\)$/);
    const structured = await call('long_json');
    expect(JSON.stringify(structured).length).toBeLessThan(MCP_RESULT_MAX_CHARS + 200);
    expect(await call('short_json')).toEqual({ ok: true, result: { free: 3 } });
  });

  test("a tool's error and arguments the server refuses are results the model reads, not failures to retry", async () => {
    expect(await call('refuses')).toEqual({ ok: false, code: 'tool_error', error: 'no such patient' });
    // The SDK's McpServer answers arguments that do not fit, and a tool it does not have, as an error result.
    expect(await call('typed', { n: 'three' })).toEqual({
      ok: false,
      code: 'tool_error',
      error: expect.stringContaining('Invalid arguments for tool typed'),
    });
    expect(await call('nope')).toMatchObject({ ok: false, error: expect.stringContaining('nope') });
  });
});
