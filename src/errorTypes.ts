/**
 * Names of the failure types that cross from activities to workflows. Activities throw with these names and
 * the workflows' retry policies list the same constants as non-retryable, so the two never drift apart. Pure.
 */
export const ErrorType = {
  /** Bad input to a run (unknown provider, malformed date, ...): fatal at once. */
  invalidInput: 'InvalidInput',
  /** A prompt that cannot be used (missing label, invalid file or config, refused credentials): fatal. */
  prompt: 'PromptError',
  /** The model endpoint refused the request for good (400, 404, ...): retrying cannot help. */
  llmFatal: 'LlmFatalError',
  /** The model endpoint refused the API key (401/403). */
  llmAuth: 'LlmAuthError',
  /** The conversation no longer fits the model's context window (a 400, or a 500 from some local servers): retrying cannot help. */
  llmContextLength: 'LlmContextLengthError',
  /** Network, timeout, 408/409/429/5xx: retried with back-off. */
  llmTransient: 'LlmTransientError',
} as const;
