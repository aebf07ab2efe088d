import { z } from 'zod';
import type OpenAI from 'openai';
import { tools, type ToolName } from '../tools/catalog';

/** The model's tool list, generated from the catalog's zod schemas (never written by hand). */
export function openAiTools(names: readonly ToolName[]): OpenAI.Chat.Completions.ChatCompletionFunctionTool[] {
  return names.map((name) => {
    const def = tools[name];
    const { $schema: _ignored, ...parameters } = z.toJSONSchema(def.input, {
      io: 'input',
      unrepresentable: 'any',
    }) as Record<string, unknown>;
    return { type: 'function', function: { name, description: def.description, parameters } };
  });
}
