import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Activities } from '../src/activities';
import type { ToolCallInput } from '../src/activities/tools';
import { projectRoot } from '../src/config';
import type { ChatInput, ChatOutput } from '../src/llm/chatTypes';
import { decideNextTurn } from '../src/llm/offline/agent';
import { LocalPromptRegistry, resolvePromptBundle } from '../src/prompts/registry';
import type { ToolOutcome } from '../src/tools/catalog';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { reassignmentWorkflowId } from '../src/workflowIds';
import { installQuietRuntime, testDataConverter, uniqueName } from './support/harness';

/**
 * The workflow code alone: the real workflows on the real Temporal server, with every activity replaced by a
 * small in-test stub. No SQLite, no model server: what the parent and its batches do with the answers they get.
 */

const appointmentIds = (n: number) => Array.from({ length: n }, (_, i) => `A${String(i + 1).padStart(3, '0')}`);
/** The stubbed world: even appointments have a free excellent match, odd ones nobody. */
const candidatesOf = (id: string) =>
  Number(id.slice(1)) % 2 === 0
    ? [{ provider_id: 'P001', score: 180, band: 'excellent', approval_required: false }]
    : [];

/** A chat completion as the workflow sees it; each test says where the model's turns come from. */
type Chat = (input: ChatInput) => Promise<ChatOutput>;

/** The offline agent's decision procedure, called in-process: a model that follows the prompt, without a server. */
const offlineAgentChat: Chat = async (input) => {
  const reply = decideNextTurn(input.messages);
  const turn = input.messages.filter((m) => m.role === 'assistant').length;
  return {
    message: {
      content: reply.content,
      tool_calls: reply.toolCalls.map((c, i) => ({
        id: `c${turn}-${i}`,
        name: c.name,
        arguments: JSON.stringify(c.arguments),
      })),
    },
    finish_reason: reply.toolCalls.length > 0 ? 'tool_calls' : 'stop',
    usage: { prompt_tokens: 100, completion_tokens: 10 },
    model: 'stub-model',
    offline: true,
  };
};

/** A model that says exactly the turns it is given, one per call, whatever the conversation so far. */
function scriptedChat(turns: { calls?: [name: string, args: object][]; content?: string }[]): Chat {
  return async (input) => {
    const turn = input.messages.filter((m) => m.role === 'assistant').length;
    const next = turns[turn];
    if (!next) throw new Error(`the script has no turn ${turn + 1}`);
    const calls = (next.calls ?? []).map(([name, args], i) => ({
      id: `t${turn}-${i}`,
      name,
      arguments: JSON.stringify(args),
    }));
    return {
      message: { content: next.content ?? null, tool_calls: calls },
      finish_reason: calls.length > 0 ? 'tool_calls' : 'stop',
      usage: { prompt_tokens: 100, completion_tokens: 10 },
      model: 'scripted-model',
      offline: true,
    };
  };
}

function stubActivities(ids: string[], chat: Chat, calls: ToolCallInput[]): Activities {
  const tool = (input: ToolCallInput): ToolOutcome => {
    const args = input.args as Record<string, string>;
    switch (input.name) {
      case 'get_affected_appointments':
        return {
          ok: true,
          result: {
            provider_id: 'T001',
            date: '2025-11-21',
            count: ids.length,
            appointments: ids.map((id) => ({
              appointment_id: id,
              patient_id: `PAT${id}`,
              time: '09:00',
              specialty: 'ortho',
            })),
          },
        };
      case 'find_candidates':
        return {
          ok: true,
          result: {
            appointment_id: args.appointment_id,
            patient_id: 'PAT',
            time: '09:00',
            considered: 1,
            candidates: candidatesOf(args.appointment_id!),
          },
        };
      case 'assign_appointment':
        return {
          ok: true,
          result: {
            appointment_id: args.appointment_id,
            from_provider_id: 'T001',
            new_provider_id: args.new_provider_id,
            date: '2025-11-21',
            time: '09:00',
            score: 180,
            band: 'excellent',
            approved_by: null,
          },
        };
      case 'add_to_waitlist':
        return {
          ok: true,
          result: { appointment_id: args.appointment_id, patient_id: 'PAT', reason: args.reason, best_score: null },
        };
      case 'notify_patient':
        return {
          ok: true,
          result: { appointment_id: args.appointment_id, patient_id: 'PAT', kind: args.kind, channel: 'sms' },
        };
      default:
        return { ok: false, code: 'unknown_tool', error: `no stub for ${input.name}` };
    }
  };
  const stubs = {
    resolvePrompts: ({ label }: { label: string }) =>
      resolvePromptBundle(new LocalPromptRegistry(path.join(projectRoot, 'prompts')), label),
    checkModel: async () => ({ reachable: true, detail: 'stub' }),
    markProviderUnavailable: async () => ({
      provider_id: 'T001',
      date: '2025-11-21',
      reason: 'sick',
      newly_recorded: true,
    }),
    callTool: async (input: ToolCallInput) => {
      calls.push(input);
      return tool(input);
    },
    callTools: async ({ calls: batch }: { calls: ToolCallInput[] }) => {
      calls.push(...batch);
      return Promise.all(batch.map(tool));
    },
    chatCompletion: chat,
    recordApproval: async () => ({ recorded: true }),
    recordRunSummary: async () => undefined,
  };
  return stubs as unknown as Activities;
}

describe('the reassignment workflows with stubbed activities', () => {
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    installQuietRuntime();
    connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
    client = new Client({ connection, dataConverter: testDataConverter() });
  });
  afterAll(() => connection.close());

  /** Runs one prompt-driven reassignment of T001 on 2025-11-21 on a worker of its own, with these activities. */
  async function reassignWith(activities: Activities): Promise<ReassignmentResult> {
    const taskQueue = uniqueName('stubbed');
    const native = await NativeConnection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
    const worker = await Worker.create({
      connection: native,
      taskQueue,
      workflowBundle: { code: fs.readFileSync(process.env.TEST_WORKFLOW_BUNDLE!, 'utf8') },
      activities,
      dataConverter: testDataConverter(),
    });
    try {
      return await worker.runUntil(
        client.workflow.execute('promptDrivenReassignment', {
          taskQueue,
          workflowId: reassignmentWorkflowId({
            providerId: 'T001',
            date: '2025-11-21',
            tag: 'stubbed',
            stamp: uniqueName('t'),
          }),
          args: [{ providerId: 'T001', date: '2025-11-21', reason: 'sick', promptLabel: 'staging' }],
        }) as Promise<ReassignmentResult>,
      );
    } finally {
      await native.close();
    }
  }

  test('the parent cuts 12 appointments into batches of 10 and reports what the tools recorded', async () => {
    const ids = appointmentIds(12);
    const calls: ToolCallInput[] = [];
    const result = await reassignWith(stubActivities(ids, offlineAgentChat, calls));

    expect(result.status).toBe('completed');
    expect(result.batches).toBe(2);
    expect(result.assignments.map((a) => a.appointment_id)).toEqual(ids.filter((id) => Number(id.slice(1)) % 2 === 0));
    expect(result.waitlisted.map((w) => w.appointment_id)).toEqual(ids.filter((id) => Number(id.slice(1)) % 2 === 1));
    expect(result.llm).toMatchObject({ model: 'stub-model', calls: 8, prompt_tokens: 800 });
    // Each batch asks for candidates, decides and notifies every one of its appointments, in parallel calls.
    const byTool = (name: string) => calls.filter((c) => c.name === name).length;
    expect([byTool('get_affected_appointments'), byTool('find_candidates'), byTool('notify_patient')]).toEqual([
      1, 12, 12,
    ]);
    // Writes carry keys fixed by the workflow (run id, tool, appointment), never by the model.
    const keys = calls.filter((c) => c.name === 'assign_appointment').map((c) => c.idempotencyKey);
    expect(keys.every((k) => k?.startsWith(`${result.workflow_id}:assign_appointment:A0`))).toBe(true);
  });

  test('the result is what the tools recorded, and a model summary that disagrees is listed as a discrepancy', async () => {
    const calls: ToolCallInput[] = [];
    // A001 has no candidate and A002 one (P001); the model does the right thing, then claims both were reassigned.
    const model = scriptedChat([
      {
        calls: [
          ['find_candidates', { appointment_id: 'A001' }],
          ['find_candidates', { appointment_id: 'A002' }],
        ],
      },
      {
        calls: [
          ['assign_appointment', { appointment_id: 'A002', new_provider_id: 'P001' }],
          ['add_to_waitlist', { appointment_id: 'A001', reason: 'no candidate' }],
        ],
      },
      {
        calls: [
          ['notify_patient', { appointment_id: 'A002', kind: 'reassigned' }],
          ['notify_patient', { appointment_id: 'A001', kind: 'waitlisted' }],
        ],
      },
      {
        content: JSON.stringify({
          total_affected: 2,
          successful_assignments: 2,
          waitlist_entries: 0,
          assignments: [
            { appointment_id: 'A001', new_provider_id: 'P001' },
            { appointment_id: 'A002', new_provider_id: 'P001' },
          ],
          waitlisted: [],
        }),
      },
    ]);

    const result = await reassignWith(stubActivities(appointmentIds(2), model, calls));

    expect(result.status).toBe('completed_with_issues');
    expect(result.assignments.map((a) => [a.appointment_id, a.new_provider_id])).toEqual([['A002', 'P001']]);
    expect(result.waitlisted.map((w) => w.appointment_id)).toEqual(['A001']);
    expect(result.discrepancies).toEqual([
      'batch 1: the model reported A001 → P001, the tools record no assignment',
      'batch 1: the model left out the waitlist entry A001',
      'batch 1: the model counted 2 assignments, the tools record 1',
      'batch 1: the model counted 0 waitlist entries, the tools record 1',
    ]);
    expect(result.llm).toMatchObject({ model: 'scripted-model', calls: 4 });
  });
  test("an MCP tool the prompt config names: offered beside the catalog's, arguments checked against the pinned schema before anything is sent, a write keyed and a read not", async () => {
    const schema = {
      type: 'object',
      properties: {
        appointment_id: { type: 'string', pattern: '^A\\d+$' },
        outcome: { type: 'string', enum: ['reassigned', 'waitlisted'] },
        provider_id: { type: 'string' },
      },
      required: ['appointment_id', 'outcome'],
      additionalProperties: false,
    };
    const pinned = [
      {
        server: 'ehr',
        tool: 'record_outcome',
        name: 'ehr__record_outcome',
        description: 'Record how an appointment ended.',
        input_schema: schema,
        read_only: false,
      },
      {
        server: 'ehr',
        tool: 'chart',
        name: 'ehr__chart',
        description: 'Read a chart.',
        input_schema: { type: 'object', properties: { appointment_id: { type: 'string' } } },
        read_only: true,
      },
    ];
    const sent: { tool: string; args: Record<string, unknown>; idempotencyKey?: string }[] = [];
    const asked: ChatInput[] = [];
    const script = scriptedChat([
      {
        calls: [
          ['find_candidates', { appointment_id: 'A001' }],
          ['find_candidates', { appointment_id: 'A002' }],
        ],
      },
      {
        calls: [
          ['assign_appointment', { appointment_id: 'A002', new_provider_id: 'P001' }],
          ['add_to_waitlist', { appointment_id: 'A001', reason: 'no candidate' }],
        ],
      },
      {
        calls: [
          ['notify_patient', { appointment_id: 'A002', kind: 'reassigned' }],
          ['notify_patient', { appointment_id: 'A001', kind: 'waitlisted' }],
        ],
      },
      {
        calls: [
          ['ehr__record_outcome', { appointment_id: 'A002', outcome: 'lost' }],
          ['ehr__record_outcome', { appointment_id: 'A002', outcome: 'reassigned', provider_id: 'P001' }],
          ['ehr__chart', { appointment_id: 'A002' }],
        ],
      },
      {
        content: JSON.stringify({
          total_affected: 2,
          successful_assignments: 1,
          waitlist_entries: 1,
          assignments: [{ appointment_id: 'A002', new_provider_id: 'P001' }],
          waitlisted: [{ appointment_id: 'A001' }],
        }),
      },
    ]);
    const stubs = stubActivities(appointmentIds(2), (input) => (asked.push(input), script(input)), []);
    const activities = {
      ...stubs,
      resolvePrompts: async ({ label }: { label: string }) => {
        const bundle = await resolvePromptBundle(new LocalPromptRegistry(path.join(projectRoot, 'prompts')), label);
        bundle.config.mcp_servers = [
          { name: 'ehr', url: 'http://127.0.0.1:9/mcp', tools: ['record_outcome', 'chart'] },
        ];
        return bundle;
      },
      listMcpTools: async () => pinned,
      callMcpTool: async (input: { tool: string; args: Record<string, unknown>; idempotencyKey?: string }) => {
        sent.push({
          tool: input.tool,
          args: input.args,
          ...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : {}),
        });
        return { ok: true, result: { recorded: true } };
      },
    } as unknown as Activities;

    const result = await reassignWith(activities);

    expect(result.status).toBe('completed');
    // Offered to the model after the catalog's tools, with the server's own description and schema.
    expect(asked[0]!.tools).toContain('find_candidates');
    expect(asked[0]!.externalTools).toEqual([
      { name: 'ehr__record_outcome', description: 'Record how an appointment ended.', parameters: schema },
      { name: 'ehr__chart', description: 'Read a chart.', parameters: pinned[1]!.input_schema },
    ]);
    // The call whose arguments do not fit the pinned schema never reached the server: the model read why.
    sent.sort((a, b) => a.tool.localeCompare(b.tool)); // the two calls of one turn run side by side
    expect(sent.map((c) => [c.tool, c.args])).toEqual([
      ['chart', { appointment_id: 'A002' }],
      ['record_outcome', { appointment_id: 'A002', outcome: 'reassigned', provider_id: 'P001' }],
    ]);
    const answers = asked[4]!.messages.filter((m) => m.role === 'tool').slice(-3);
    expect(JSON.parse(answers[0]!.content as string)).toMatchObject({
      ok: false,
      code: 'invalid_arguments',
      error: expect.stringMatching(/^invalid arguments for ehr__record_outcome: outcome /),
    });
    expect(result.llm.invalid_tool_calls).toBe(1);
    // The write carries a key made by the workflow from the run and the arguments; the read carries none.
    expect(sent[1]!.idempotencyKey).toMatch(new RegExp(`^${result.workflow_id}:mcp:ehr:record_outcome:[0-9a-f]{16}$`));
    expect(sent[0]!.idempotencyKey).toBeUndefined();
  });
});
