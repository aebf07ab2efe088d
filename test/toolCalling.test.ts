import Ajv from 'ajv';
import {
  fromSchemaConversation,
  readSchemaReply,
  recoverTextToolCalls,
  toSchemaConversation,
  turnSchema,
} from '../src/llm/jsonToolCalls';
import type { ChatMessage, TurnConstraints } from '../src/llm/chatTypes';
import { LlmRateLimiter } from '../src/llm/rateLimit';
import { orchestratorConfigSchema } from '../src/prompts/schema';
import type { ToolName } from '../src/tools/catalog';

/**
 * The pure pieces of the tool-call modes: the per-turn JSON schema (checked with a real JSON Schema validator,
 * ajv, as an endpoint's constrained decoding would apply it), the conversation as a model without tool support
 * reads it, the recovery of tool calls written as text, and the rate limiter on a fake clock.
 */

const ajv = new Ajv({ strict: false });
const tools: ToolName[] = [
  'find_candidates',
  'request_approval',
  'assign_appointment',
  'add_to_waitlist',
  'notify_patient',
];

const constraints = (over: Partial<TurnConstraints> = {}): TurnConstraints => ({
  appointments: ['A001', 'A002'],
  candidates: { A001: ['P001', 'P004'] },
  toNotify: ['A003'],
  patients: ['PT001', 'PT002', 'PT003'],
  batch: ['A001', 'A002', 'A003'],
  summary: false,
  ...over,
});

const accepts = (c: TurnConstraints, reply: unknown) => ajv.validate(turnSchema(c, tools).schema, reply);
const call = (name: string, args: Record<string, unknown>) => ({ tool_calls: [{ name, arguments: args }] });

describe('json_schema mode: the schema of a turn', () => {
  test('allows the calls the turn can make, with the ids the tools returned', () => {
    const c = constraints();
    expect(accepts(c, call('assign_appointment', { appointment_id: 'A001', new_provider_id: 'P004' }))).toBe(true);
    expect(accepts(c, call('find_candidates', { appointment_id: 'A002' }))).toBe(true);
    expect(accepts(c, call('add_to_waitlist', { appointment_id: 'A002', reason: 'no match' }))).toBe(true);
    expect(accepts(c, call('notify_patient', { appointment_id: 'A003', kind: 'waitlisted' }))).toBe(true);
    expect(accepts(c, call('request_approval', { appointment_id: 'A001', provider_id: 'P001' }))).toBe(true);
  });

  test('refuses an id that does not exist, a provider not proposed, a decided appointment, an unknown tool', () => {
    const c = constraints();
    expect(accepts(c, call('assign_appointment', { appointment_id: 'A999', new_provider_id: 'P001' }))).toBe(false);
    expect(accepts(c, call('assign_appointment', { appointment_id: 'A001', new_provider_id: 'P999' }))).toBe(false);
    // A002 has no candidates yet: it cannot be assigned, only looked up or waitlisted.
    expect(accepts(c, call('assign_appointment', { appointment_id: 'A002', new_provider_id: 'P001' }))).toBe(false);
    // A003 is decided: not a subject of a decision any more.
    expect(accepts(c, call('add_to_waitlist', { appointment_id: 'A003', reason: 'x' }))).toBe(false);
    expect(accepts(c, call('cancel_all_appointments', {}))).toBe(false);
    expect(accepts(c, call('find_candidates', { appointment_id: 'A001', extra: 1 }))).toBe(false);
    expect(accepts(c, { tool_calls: [] })).toBe(false);
    expect(accepts(c, { summary: {} })).toBe(false);
  });

  test('a person already asked about an appointment is not asked again; the calls are bounded by what is left', () => {
    const c = constraints({ asked: ['A001'] });
    expect(accepts(c, call('request_approval', { appointment_id: 'A001', provider_id: 'P001' }))).toBe(false);
    expect(accepts(c, call('assign_appointment', { appointment_id: 'A001', new_provider_id: 'P001' }))).toBe(true);
    // Two undecided and one to tell: at most three calls in a turn.
    const four = { tool_calls: Array(4).fill({ name: 'find_candidates', arguments: { appointment_id: 'A002' } }) };
    expect(accepts(c, four)).toBe(false);
    expect(accepts(c, { tool_calls: four.tool_calls.slice(0, 3) })).toBe(true);
  });

  test('where the candidates say so: assign only what needs no approval (or has it), ask only about the rest', () => {
    const c = constraints({
      candidates: { A001: ['P001', 'P004'], A002: ['P002'] },
      choices: { A001: { assign: [], ask: ['P001'] }, A002: { assign: ['P002'], ask: [] } },
    });
    expect(accepts(c, call('assign_appointment', { appointment_id: 'A001', new_provider_id: 'P001' }))).toBe(false);
    expect(accepts(c, call('request_approval', { appointment_id: 'A001', provider_id: 'P001' }))).toBe(true);
    expect(accepts(c, call('request_approval', { appointment_id: 'A001', provider_id: 'P004' }))).toBe(false);
    expect(accepts(c, call('assign_appointment', { appointment_id: 'A002', new_provider_id: 'P002' }))).toBe(true);
    expect(accepts(c, call('request_approval', { appointment_id: 'A002', provider_id: 'P002' }))).toBe(false);
    // Waitlisting stays open for every undecided appointment.
    expect(accepts(c, call('add_to_waitlist', { appointment_id: 'A001', reason: 'only a good match' }))).toBe(true);
  });

  test('asks for the summary, and only the summary, once nothing is left', () => {
    const c = constraints({ appointments: [], candidates: {}, toNotify: [], summary: true });
    const { allows, schema } = turnSchema(c, tools);
    expect(allows).toBe('summary');
    const summary = {
      total_affected: 3,
      successful_assignments: 1,
      waitlist_entries: 2,
      assignments: [{ appointment_id: 'A001', new_provider_id: 'P001', score: 170 }],
      waitlisted: [
        { appointment_id: 'A002', reason: 'no match' },
        { appointment_id: 'A003', reason: 'no match' },
      ],
    };
    expect(ajv.validate(schema, { summary })).toBe(true);
    expect(ajv.validate(schema, call('find_candidates', { appointment_id: 'A001' }))).toBe(false);
    expect(ajv.validate(schema, { summary: { ...summary, assignments: [{ appointment_id: 'A9' }] } })).toBe(false);
  });

  test('strict-mode safe: every object closed and listing all its properties as required', () => {
    const walk = (node: unknown): void => {
      if (!node || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      if (o.type === 'object') {
        expect(o.additionalProperties).toBe(false);
        expect([...(o.required as string[])].sort()).toEqual(Object.keys(o.properties as object).sort());
      }
      Object.values(o).forEach(walk);
    };
    walk(turnSchema(constraints(), tools).schema);
    walk(turnSchema(constraints({ summary: true }), tools).schema);
  });
});

describe('json_schema mode: the reply', () => {
  test('tool calls become ordinary calls with ids unique in the conversation', () => {
    const read = readSchemaReply(
      JSON.stringify(call('assign_appointment', { appointment_id: 'A001', new_provider_id: 'P001' })),
      3,
    );
    expect(read.format_error).toBeUndefined();
    expect(read.tool_calls).toEqual([
      { id: 'schema_3_0', name: 'assign_appointment', arguments: '{"appointment_id":"A001","new_provider_id":"P001"}' },
    ]);
  });

  test('the summary becomes the content; anything else is a format error, not a silent nothing', () => {
    expect(readSchemaReply('{"summary": {"total_affected": 0}}', 2)).toEqual({
      content: '{"total_affected":0}',
      tool_calls: [],
    });
    expect(readSchemaReply('Sure, I will do that.', 1).format_error).toMatch(/not the JSON object the schema asks for/);
    expect(readSchemaReply('{"tool_calls": []}', 1).format_error).toBeDefined();
  });

  test('the conversation written for a model without tool support reads back into the same tool calls', () => {
    const native: ChatMessage[] = [
      { role: 'system', content: 'You are the orchestrator.' },
      { role: 'user', content: 'Reassign this batch: {"appointments": [{"appointment_id": "A001"}]}' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'find_candidates', arguments: '{"appointment_id":"A001"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: '{"ok":true,"result":{"candidates":[]}}' },
    ];
    const written = toSchemaConversation(native, tools);
    expect(written.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(written[0]!.content).toMatch(/REPLY FORMAT[\s\S]*- assign_appointment\(appointment_id, new_provider_id\)/);
    expect(written.some((m) => m.tool_calls !== undefined || m.role === 'tool')).toBe(false);
    const back = fromSchemaConversation(written);
    expect(back[2]!.tool_calls![0]!.function).toEqual(native[2]!.tool_calls![0]!.function);
    expect(back[3]).toMatchObject({ role: 'tool', tool_call_id: back[2]!.tool_calls![0]!.id });
    expect(JSON.parse(back[3]!.content!)).toEqual({ ok: true, result: { candidates: [] } });
  });
});

describe('native mode: tool calls written as text are recovered', () => {
  test('<tool_call> blocks, one or several', () => {
    const text =
      '<tool_call>\n{"name": "find_candidates", "arguments": {"appointment_id": "A001"}}\n</tool_call>\n' +
      '<tool_call>{"name": "add_to_waitlist", "arguments": {"appointment_id": "A002", "reason": "none"}}</tool_call>';
    expect(recoverTextToolCalls(text)).toEqual([
      { name: 'find_candidates', arguments: '{"appointment_id":"A001"}' },
      { name: 'add_to_waitlist', arguments: '{"appointment_id":"A002","reason":"none"}' },
    ]);
  });

  test('a fenced JSON block with a call, a list of calls, or "parameters" for arguments', () => {
    expect(
      recoverTextToolCalls('```json\n{"name": "find_candidates", "parameters": {"appointment_id": "A1"}}\n```'),
    ).toEqual([{ name: 'find_candidates', arguments: '{"appointment_id":"A1"}' }]);
    expect(
      recoverTextToolCalls('Calls:\n```\n[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}]\n```'),
    ).toHaveLength(2);
  });

  test('prose, or a summary in a fenced block, is not a tool call', () => {
    expect(recoverTextToolCalls('I will reassign A001 now.')).toBeUndefined();
    expect(recoverTextToolCalls('```json\n{"total_affected": 3, "assignments": []}\n```')).toBeUndefined();
    expect(recoverTextToolCalls(null)).toBeUndefined();
  });
});

describe('prompt config: the tool-call settings', () => {
  const base = {
    model: { name: 'm' },
    thresholds: { excellent: 150, good: 120 },
    approval: { bands: [], timeout: '24h', on_timeout: 'waitlist' },
  };
  test('defaults: native, no prefetch, the model notifies', () => {
    const c = orchestratorConfigSchema.parse(base);
    expect(c).toMatchObject({ tool_calling: 'native', notify: 'model' });
    expect(c.prefetch).toBeUndefined();
  });
  test('an unknown mode, an unknown prefetch tool, notify_patient offered to the model and sent by the workflow', () => {
    expect(orchestratorConfigSchema.safeParse({ ...base, tool_calling: 'xml' }).success).toBe(false);
    expect(orchestratorConfigSchema.safeParse({ ...base, prefetch: ['assign_appointment'] }).success).toBe(false);
    const both = orchestratorConfigSchema.safeParse({ ...base, notify: 'after_decision', tools: ['notify_patient'] });
    expect(both.success).toBe(false);
    expect(JSON.stringify(both.error?.issues)).toMatch(/notify_patient is sent by the workflow/);
  });
});

describe('LLM_MAX_RPM / LLM_MAX_TPM: the rate limiter', () => {
  /** A fake clock: sleeping moves it forward. */
  const clock = () => {
    let t = 0;
    return { now: () => t, sleep: async (ms: number) => void (t += ms), at: () => t };
  };

  test('requests per minute: the third call of a 2-per-minute budget waits for the first to slide out', async () => {
    const c = clock();
    const limiter = new LlmRateLimiter({ requestsPerMinute: 2 }, c.now, c.sleep);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      await limiter.admit(10);
      times.push(c.at());
    }
    expect(times).toEqual([0, 0, 60_000, 60_000, 120_000]);
  });

  test('tokens per minute: calls wait until their tokens fit; the reported usage replaces the estimate', async () => {
    const c = clock();
    const limiter = new LlmRateLimiter({ tokensPerMinute: 1000 }, c.now, c.sleep);
    const settle = await limiter.admit(400);
    settle(900); // the endpoint counted more than estimated
    await limiter.admit(400); // 900 + 400 > 1000: waits for the first to slide out
    expect(c.at()).toBe(60_000);
    // A call larger than the whole budget still goes, alone in its window.
    await limiter.admit(5000);
    expect(c.at()).toBe(120_000);
  });

  test('no budget: never waits', async () => {
    const c = clock();
    const limiter = new LlmRateLimiter({}, c.now, c.sleep);
    expect(limiter.active).toBe(false);
    for (let i = 0; i < 100; i++) await limiter.admit(1_000_000);
    expect(c.at()).toBe(0);
  });
});
