import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * At most 10 Keyword attributes fit a namespace of the dev server (SQLite visibility): a routed run's path is
 * its ReassignMode (routed runs are the `reassignment` workflow type's), its rollout bucket is in the memo.
 */
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
  /** A shadow run's verdict: agree (every appointment) or disagree. */
  shadowAgreement: defineSearchAttributeKey('ShadowAgreement', SearchAttributeType.KEYWORD),
} as const;
