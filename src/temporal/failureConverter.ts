import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Failure messages and stack traces go into an encoded payload (so the codec encrypts them) instead of plain
 * fields of the history: an error can quote what it was working on. Loaded in the workflow sandbox too (the
 * bundle names this file), so it stays deterministic. Failures recorded before this still decode.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
