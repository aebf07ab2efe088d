import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes: list runs by provider, date, prompt version, mode and status in the UI/CLI. */
export const searchAttributes = {
  providerId: defineSearchAttributeKey('ProviderId', SearchAttributeType.KEYWORD),
  date: defineSearchAttributeKey('ReassignDate', SearchAttributeType.KEYWORD),
  mode: defineSearchAttributeKey('ReassignMode', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('ReassignStatus', SearchAttributeType.KEYWORD),
  promptName: defineSearchAttributeKey('PromptName', SearchAttributeType.KEYWORD),
  promptLabel: defineSearchAttributeKey('PromptLabel', SearchAttributeType.KEYWORD),
  promptVersion: defineSearchAttributeKey('PromptVersion', SearchAttributeType.INT),
  promptSource: defineSearchAttributeKey('PromptSource', SearchAttributeType.KEYWORD),
  experiment: defineSearchAttributeKey('Experiment', SearchAttributeType.KEYWORD),
  promptArm: defineSearchAttributeKey('PromptArm', SearchAttributeType.KEYWORD),
} as const;
