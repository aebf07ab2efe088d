import type { z } from 'zod';

/**
 * The first problem zod found in a value, for a one-line message: where (a dotted path, or `whole` when the
 * value itself is wrong) and what. Pure: workflow code uses it too.
 */
export function firstZodIssue(error: z.ZodError, whole: string): { where: string; message: string } {
  const issue = error.issues[0];
  if (!issue) return { where: whole, message: 'is invalid' };
  return { where: issue.path.map(String).join('.') || whole, message: issue.message };
}

/** `<where> <message>`, e.g. "date dates are written YYYY-MM-DD". */
export function describeZodError(error: z.ZodError, whole: string): string {
  const { where, message } = firstZodIssue(error, whole);
  return `${where} ${message}`;
}
