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

export interface ChatInput {
  messages: ChatMessage[];
  tools: ToolName[];
  model: string;
  temperature: number;
  maxTokens: number;
  /** The pinned orchestrator prompt, so that the trace links each generation to its version. */
  prompt?: { name: string; version: number; source: 'local' | 'langfuse'; fallback?: string };
}

export interface ChatOutput {
  message: { content: string | null; tool_calls: { id: string; name: string; arguments: string }[] };
  finish_reason: string;
  usage: { prompt_tokens: number; completion_tokens: number };
  model: string;
  offline: boolean;
  /** Which attempt of the activity answered (the ones before failed); absent in histories of earlier versions. */
  attempt?: number;
}
