import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { countTokens } from 'gpt-tokenizer';
import { activeFaults, applyReplyFault, isTransportFault, type Fault } from './faults';
import type { ChatMessage } from '../chatTypes';
import { decideNextTurn, type AgentReply, type ToolSchemas } from './agent';
import { fromSchemaConversation } from '../jsonToolCalls';
import { createHash } from 'node:crypto';

/**
 * A loopback HTTP server speaking the OpenAI chat-completions protocol, answered by the deterministic
 * offline agent. It lets the real `openai` client path run without any LLM service. It is a stand-in,
 * not an LLM, and every place that starts it says so.
 */

const OFFLINE_MODEL_NAME = 'offline-deterministic-stand-in';
export const OFFLINE_NOTICE =
  'Using the OFFLINE stand-in model: a deterministic program on loopback that follows the prompt, not an LLM. Set OPENAI_BASE_URL to use a real model.';

export interface OfflineModelServer {
  url: string;
  /** Chat completion requests received so far (faulty answers included). */
  requests(): number;
  /** When each request arrived (ms since epoch): how tests see back-off and Retry-After at work. */
  arrivals(): number[];
  /** Switches fault modes on (or off with []); request numbering starts again. */
  setFaults(faults: Fault[]): void;
  close(): Promise<void>;
}

interface ChatRequest {
  model?: string;
  messages?: ChatMessage[];
  tools?: { function?: { name?: string; parameters?: unknown } }[];
  response_format?: { type?: string; json_schema?: { name?: string; schema?: JsonObject } };
}

type JsonObject = { [key: string]: unknown };

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function errorBody(message: string, type: string) {
  return { error: { message, type, param: null, code: null } };
}

function messageText(m: ChatMessage): string {
  return [m.content ?? '', ...(m.tool_calls ?? []).map((c) => `${c.function.name}(${c.function.arguments})`)].join(
    '\n',
  );
}

/** What a message costs as input: its role, content, tool calls and ids, plus OpenAI's few tokens of framing. */
const TOKENS_PER_MESSAGE = 3;
function inputText(m: ChatMessage): string {
  return [m.role, messageText(m), ...(m.tool_calls ?? []).map((c) => c.id), m.tool_call_id ?? ''].join('\n');
}

/**
 * A prompt cache as llama.cpp and OpenAI keep one: a request whose beginning (the tools, then whole messages)
 * was sent before is served that far from the cache, and usage.prompt_tokens_details.cached_tokens says how many
 * input tokens that was. Bounded: the oldest prefixes are forgotten first.
 */
class PrefixCache {
  private readonly seen = new Set<string>();
  /** Token counts of texts already counted (the system prompt and tools repeat in every request). */
  private readonly counted = new Map<string, number>();
  constructor(private readonly limit = 200_000) {}

  private tokens(text: string): number {
    const known = this.counted.get(text);
    if (known !== undefined) return known;
    const n = countTokens(text);
    if (this.counted.size >= 20_000) this.counted.delete(this.counted.keys().next().value!);
    this.counted.set(text, n);
    return n;
  }

  /**
   * Input tokens of a request, counted with a real tokenizer on what is actually sent (every message and the
   * tool schemas as the JSON the request carries), and how many of them a previous request had sent first.
   */
  count(messages: ChatMessage[], tools: unknown[] | undefined): { prompt: number; cached: number } {
    const hash = createHash('sha256');
    let prompt = this.tokens(JSON.stringify(tools ?? [])) + TOKENS_PER_MESSAGE;
    hash.update(JSON.stringify(tools ?? []));
    let cached = 0;
    let matching = true;
    for (const m of messages) {
      prompt += this.tokens(inputText(m)) + TOKENS_PER_MESSAGE;
      hash.update(JSON.stringify(m));
      const key = hash.copy().digest('base64');
      if (matching && this.seen.has(key)) cached = prompt;
      else {
        matching = false;
        this.remember(key);
      }
    }
    // The model always reads at least the newest token itself.
    return { prompt, cached: Math.min(cached, Math.max(0, prompt - 1)) };
  }

  private remember(key: string): void {
    this.seen.add(key);
    if (this.seen.size > this.limit) this.seen.delete(this.seen.values().next().value!);
  }
}

/** The call variants of a json_schema-mode request's schema (src/llm/jsonToolCalls.ts writes them). */
function schemaVariants(schema: JsonObject | undefined): JsonObject[] {
  const items = ((schema?.properties as JsonObject | undefined)?.tool_calls as JsonObject | undefined)?.items as
    JsonObject | undefined;
  return (items?.anyOf as JsonObject[] | undefined) ?? (items ? [items] : []);
}

const variantTool = (v: JsonObject) =>
  ((v.properties as JsonObject | undefined)?.name as { enum?: string[] } | undefined)?.enum?.[0];

/** The tools a json_schema-mode request allows. */
function toolsInSchema(schema: JsonObject | undefined): string[] {
  return [...new Set(schemaVariants(schema).flatMap((v) => variantTool(v) ?? []))];
}

/** The arguments a json_schema-mode request allows for a tool: the property names of its variant. */
function argumentsInSchema(schema: JsonObject | undefined, tool: string): string[] | undefined {
  const variant = schemaVariants(schema).find((v) => variantTool(v) === tool);
  const args = (variant?.properties as JsonObject | undefined)?.arguments as JsonObject | undefined;
  return args ? Object.keys((args.properties as JsonObject | undefined) ?? {}) : undefined;
}

/**
 * The stand-in's answer to a json_schema-mode turn, shaped as constrained decoding would shape it: the calls with
 * only the arguments the schema has (a `rationale` the schema leaves out is never written), or the summary.
 */
function schemaReply(reply: AgentReply, schema: JsonObject | undefined): string {
  if (reply.toolCalls.length === 0) {
    let summary: unknown;
    try {
      summary = JSON.parse(reply.content ?? '');
    } catch {
      return reply.content ?? '';
    }
    return JSON.stringify({ summary });
  }
  const calls = reply.toolCalls.map((c) => {
    const allowed = argumentsInSchema(schema, c.name);
    if (!allowed || typeof c.arguments === 'string') return { name: c.name, arguments: c.arguments };
    return {
      name: c.name,
      arguments: Object.fromEntries(Object.entries(c.arguments).filter(([k]) => allowed.includes(k))),
    };
  });
  return JSON.stringify({ tool_calls: calls });
}

/** Under constrained decoding a model cannot write prose or malformed calls: only these faults still show. */
const SCHEMA_MODE_FAULTS: readonly Fault['mode'][] = ['ignores_schema', 'truncated', 'false_summary', 'endless_loop'];

interface OfflineModelOptions {
  port?: number;
  host?: string;
  /** Replaces the decision procedure: tests script a misbehaving model with it, over the same protocol. */
  agent?: (messages: ChatMessage[], offered?: readonly string[], schemas?: ToolSchemas) => AgentReply;
  /** Misbehaviour to serve: see faults.ts. */
  faults?: Fault[];
  /** Simulated think time: each reply is delayed by this many milliseconds (benchmarks). */
  latencyMs?: number;
}

export async function startOfflineModel(options: OfflineModelOptions = {}): Promise<OfflineModelServer> {
  const agent = options.agent ?? decideNextTurn;
  const cache = new PrefixCache();
  let faults = options.faults ?? [];
  let count = 0;
  let faultCount = 0;
  const arrivals: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = (req.url ?? '').replace(/\?.*$/, '');
      if (faults.some((f) => f.mode === 'unauthorized')) {
        // What OpenAI answers to a wrong key, on every route.
        sendJson(res, 401, {
          error: {
            message: 'Incorrect API key provided (offline fault mode).',
            type: 'invalid_request_error',
            param: null,
            code: 'invalid_api_key',
          },
        });
        return;
      }
      if (req.method === 'GET' && /\/models$/.test(url)) {
        sendJson(res, 200, {
          object: 'list',
          data: [{ id: OFFLINE_MODEL_NAME, object: 'model', created: 0, owned_by: 'local' }],
        });
        return;
      }
      if (req.method !== 'POST' || !/\/chat\/completions$/.test(url)) {
        sendJson(res, 404, errorBody(`no route ${req.method} ${url}`, 'invalid_request_error'));
        return;
      }
      let body: ChatRequest;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest;
      } catch {
        sendJson(res, 400, errorBody('request body is not JSON', 'invalid_request_error'));
        return;
      }
      if (!Array.isArray(body.messages) || body.messages.length === 0) {
        sendJson(res, 400, errorBody('messages must be a non-empty array', 'invalid_request_error'));
        return;
      }
      count += 1;
      faultCount += 1;
      arrivals.push(Date.now());
      const active = activeFaults(faults, faultCount);
      const transport = active.find(isTransportFault);
      if (transport?.mode === 'hang') return; // never answers: the client's timeout must end it
      if (transport?.mode === 'context_overflow') {
        // The two ways servers say it: llama.cpp's 500, OpenAI's 400 with a code.
        if (transport.status === 400)
          sendJson(res, 400, {
            error: {
              message:
                "This model's maximum context length is 8192 tokens. However, your messages resulted in 9120 tokens. Please reduce the length of the messages.",
              type: 'invalid_request_error',
              param: 'messages',
              code: 'context_length_exceeded',
            },
          });
        else
          sendJson(res, 500, {
            error: { code: 500, message: 'Context size has been exceeded.', type: 'server_error' },
          });
        return;
      }
      if (transport) {
        const status = transport.mode === 'rate_limit' ? 429 : 500;
        const headers: Record<string, string> = {};
        if (transport.retry_after_s !== undefined) {
          headers['retry-after'] = String(Math.ceil(transport.retry_after_s));
          headers['retry-after-ms'] = String(Math.round(transport.retry_after_s * 1000));
        }
        const text = JSON.stringify(
          errorBody(
            status === 429
              ? 'Rate limit reached for requests (offline fault mode)'
              : 'The server had an error while processing your request (offline fault mode)',
            status === 429 ? 'rate_limit_error' : 'server_error',
          ),
        );
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          ...headers,
        });
        res.end(text);
        return;
      }
      const messages = body.messages;
      const answer = () => respond(res, { ...body, messages }, active);
      if (options.latencyMs) setTimeout(answer, options.latencyMs);
      else answer();
    });
  });
  const respond = (
    res: http.ServerResponse,
    body: ChatRequest & { messages: ChatMessage[] },
    active: Fault[],
  ): void => {
    const format = body.response_format?.type === 'json_schema' ? body.response_format.json_schema : undefined;
    let message: { role: 'assistant'; content: string | null; tool_calls?: unknown[]; refusal: string | null };
    let finishReason: string;
    if (format) {
      // json_schema mode: the conversation read back into tool calls, the answer written as the schema's object.
      const conversation = fromSchemaConversation(body.messages);
      const faults = active.filter((f) => SCHEMA_MODE_FAULTS.includes(f.mode));
      const reply = faults.reduce(
        (r, f) => applyReplyFault(f.mode, r, conversation),
        agent(conversation, toolsInSchema(format.schema)),
      );
      const asText = reply.finishReason === 'length' || faults.some((f) => f.mode === 'ignores_schema');
      message = {
        role: 'assistant',
        content: asText ? (reply.content ?? '') : schemaReply(reply, format.schema),
        refusal: null,
      };
      finishReason = reply.finishReason ?? 'stop';
    } else {
      const turn = body.messages.filter((m) => m.role === 'assistant').length;
      const offered = body.tools?.flatMap((t) => (t.function?.name ? [t.function.name] : []));
      const schemas = Object.fromEntries(
        (body.tools ?? []).flatMap((t) => (t.function?.name ? [[t.function.name, t.function.parameters]] : [])),
      );
      const reply = active.reduce(
        (r, f) => applyReplyFault(f.mode, r, body.messages),
        agent(body.messages, offered, schemas),
      );
      const toolCalls = reply.toolCalls.map((c, i) => ({
        id: `call_${turn}_${i}`,
        type: 'function' as const,
        function: {
          name: c.name,
          arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
        },
      }));
      message = {
        role: 'assistant' as const,
        content: reply.refusal ? null : reply.content,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        refusal: reply.refusal ? reply.content : null,
      };
      finishReason = reply.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop');
    }
    const { prompt: promptTokens, cached } = cache.count(body.messages, body.tools);
    const completionTokens = countTokens(messageText(message as ChatMessage));
    sendJson(res, 200, {
      id: `chatcmpl-offline-${count}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: OFFLINE_MODEL_NAME,
      system_fingerprint: 'offline-deterministic',
      choices: [
        {
          index: 0,
          message,
          logprobs: null,
          finish_reason: finishReason,
        },
      ],
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
        prompt_tokens_details: { cached_tokens: cached },
      },
    });
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests: () => count,
    arrivals: () => [...arrivals],
    setFaults: (next) => {
      faults = next;
      faultCount = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
