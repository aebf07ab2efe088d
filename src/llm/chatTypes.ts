import type { ToolName } from '../tools/catalog';

/**
 * The messages of a conversation and one chat completion's input and output, as the workflow, the chat
 * activity and the offline stand-in model all see them (the OpenAI chat-completions shapes we use). Pure types.
 */

interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  /** Absent or null in an assistant message that only calls tools. */
  content?: string | null;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
}

/** How the model is asked for tool calls: OpenAI `tools`, or one JSON object under a response_format schema. */
export type ToolCallingMode = 'native' | 'json_schema';

/**
 * What a json_schema-mode turn may name (src/llm/jsonToolCalls.ts builds the schema from it): the workflow knows
 * which appointments are undecided and which providers the tools proposed.
 */
export interface TurnConstraints {
  /** The batch's appointments still undecided. */
  appointments: string[];
  /** Per appointment, the providers the tools returned as candidates. */
  candidates: Record<string, string[]>;
  /**
   * Per appointment, what the candidates allow now (when known): `assign`, the providers it may be assigned to
   * (not poor, approved where approval is required); `ask`, those a person may still be asked about.
   */
  choices?: Record<string, { assign: string[]; ask: string[] }>;
  /** Decided and not yet told (notify_patient). */
  toNotify: string[];
  /** Appointments a person was already asked about in this batch: request_approval is not offered for them again. */
  asked?: string[];
  /** The batch's patients (get_patient_details). */
  patients: string[];
  /** Every appointment of the batch (the summary names them). */
  batch: string[];
  /** Nothing left to decide: the turn asks for the summary. */
  summary: boolean;
}

export interface ChatInput {
  messages: ChatMessage[];
  tools: ToolName[];
  /** Absent in histories of earlier versions: native. */
  toolCalling?: ToolCallingMode;
  /** json_schema mode: what this turn's schema allows. */
  constraints?: TurnConstraints;
  /** Tools from outside the catalog (the prompt's MCP servers, as pinned), offered beside it in native mode. */
  externalTools?: { name: string; description: string; parameters: Record<string, unknown> }[];
  model: string;
  temperature: number;
  maxTokens: number;
  /** The pinned orchestrator prompt, so that the trace links each generation to its version. */
  prompt?: { name: string; version: number; source: 'local' | 'langfuse'; fallback?: string };
}

export interface ChatOutput {
  message: { content: string | null; tool_calls: { id: string; name: string; arguments: string }[] };
  finish_reason: string;
  /** cached_tokens: input tokens the endpoint served from its prompt cache (absent when it does not say). */
  usage: { prompt_tokens: number; completion_tokens: number; cached_tokens?: number };
  model: string;
  offline: boolean;
  /** Which attempt of the activity answered (the ones before failed); absent in histories of earlier versions. */
  attempt?: number;
  /** How the turn was asked (absent in histories of earlier versions: native). */
  mode?: ToolCallingMode;
  /** Native mode: tool calls the model wrote as text, recovered into tool_calls. */
  recovered_tool_calls?: number;
  /** json_schema mode: the reply did not parse as the schema's object (the endpoint did not enforce it). */
  format_error?: string;
}
