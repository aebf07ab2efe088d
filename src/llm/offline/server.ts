import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { countTokens } from 'gpt-tokenizer';
import { activeFaults, applyReplyFault, isTransportFault, type Fault } from './faults';
import type { ChatMessage } from '../chatTypes';
import { decideNextTurn, type AgentReply } from './agent';

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
  tools?: unknown[];
}

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
 * Input tokens of a request, counted with a real tokenizer on what is actually sent: every message and the
 * tool schemas (as the JSON the request carries, which is a little more than the model's own rendering).
 */
function countInputTokens(messages: ChatMessage[], tools: unknown[] | undefined): number {
  return (
    countTokens(messages.map(inputText).join('\n') + JSON.stringify(tools ?? [])) +
    TOKENS_PER_MESSAGE * (messages.length + 1)
  );
}

interface OfflineModelOptions {
  port?: number;
  host?: string;
  /** Replaces the decision procedure: tests script a misbehaving model with it, over the same protocol. */
  agent?: (messages: ChatMessage[]) => AgentReply;
  /** Misbehaviour to serve: see faults.ts. */
  faults?: Fault[];
  /** Simulated think time: each reply is delayed by this many milliseconds (benchmarks). */
  latencyMs?: number;
}

export async function startOfflineModel(options: OfflineModelOptions = {}): Promise<OfflineModelServer> {
  const agent = options.agent ?? decideNextTurn;
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
    const turn = body.messages.filter((m) => m.role === 'assistant').length;
    const reply = active.reduce((r, f) => applyReplyFault(f.mode, r, body.messages), agent(body.messages));
    const toolCalls = reply.toolCalls.map((c, i) => ({
      id: `call_${turn}_${i}`,
      type: 'function' as const,
      function: {
        name: c.name,
        arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
      },
    }));
    const message = {
      role: 'assistant' as const,
      content: reply.refusal ? null : reply.content,
      ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      refusal: reply.refusal ? reply.content : null,
    };
    const promptTokens = countInputTokens(body.messages, body.tools);
    const completionTokens = countTokens(messageText(message));
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
          finish_reason: reply.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'),
        },
      ],
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
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
