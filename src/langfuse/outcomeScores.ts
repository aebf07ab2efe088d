import { createTraceId } from '@langfuse/tracing';
import type { LangfuseClient } from '@langfuse/client';
import { describeLangfuseError } from './client';

/**
 * Outcomes as Langfuse scores on the trace of the run that decided them, so Langfuse's UI compares prompt
 * versions and A/B arms on what happened to patients. Each score kind has a score config (created once, found by
 * name after that); each score's id derives from the appointment, the kind and the offer, and Langfuse upserts by
 * id, so a retried activity changes nothing. Errors are thrown: the activity is retried by Temporal.
 */

export type OutcomeScoreKind = 'offer_answer' | 'satisfaction' | 'escalated';

interface ScoreConfigSpec {
  name: string;
  dataType: 'NUMERIC' | 'CATEGORICAL' | 'BOOLEAN';
  description: string;
  minValue?: number;
  maxValue?: number;
  categories?: { label: string; value: number }[];
}

export const OUTCOME_SCORE_CONFIGS: Record<OutcomeScoreKind, ScoreConfigSpec> = {
  offer_answer: {
    name: 'patient_answer',
    dataType: 'CATEGORICAL',
    description: "The patient's answer to the slot a run offered: accept, decline, or none by the deadline.",
    categories: [
      { label: 'accept', value: 1 },
      { label: 'decline', value: 0 },
      { label: 'none', value: -1 },
    ],
  },
  satisfaction: {
    name: 'patient_satisfaction',
    dataType: 'NUMERIC',
    description: "The patient's score of the visit the run's decision produced, 1 (poor) to 5 (excellent).",
    minValue: 1,
    maxValue: 5,
  },
  escalated: {
    name: 'escalated',
    dataType: 'BOOLEAN',
    description: 'A decision of the run went up to the head of department (rejected approval, repeated declines, ...).',
  },
};

export interface OutcomeScore {
  /** The run (reassignment workflow id) whose trace the score belongs to. */
  runId: string;
  appointmentId: string;
  kind: OutcomeScoreKind;
  /** Which offer (answers), or the escalation's kind: part of the score's id. */
  ref: string;
  /** accept|decline|none for answers; 1-5 for satisfaction; 1 for an escalation. */
  value: string | number;
  comment?: string;
}

/** The score's id: the same outcome always has the same id, so Langfuse keeps one. */
export function outcomeScoreId(s: Pick<OutcomeScore, 'appointmentId' | 'kind' | 'ref'>): string {
  return `outcome-${s.appointmentId}-${s.kind}-${s.ref}`;
}

export class OutcomeScorer {
  private configIds: Promise<Map<string, string>> | undefined;

  constructor(private readonly langfuse: LangfuseClient) {}

  /** Finds the score configs by name, creating the missing ones (once per process; a failure is retried next time). */
  private ensureConfigs(): Promise<Map<string, string>> {
    this.configIds ??= (async () => {
      const found = new Map<string, string>();
      for (let page = 1; ; page++) {
        const res = await this.langfuse.api.scoreConfigs.get({ page, limit: 100 });
        for (const c of res.data) found.set(c.name, c.id);
        if (page >= (res.meta.totalPages ?? 1)) break;
      }
      for (const spec of Object.values(OUTCOME_SCORE_CONFIGS)) {
        if (found.has(spec.name)) continue;
        const created = await this.langfuse.api.scoreConfigs.create({
          name: spec.name,
          dataType: spec.dataType,
          description: spec.description,
          ...(spec.minValue !== undefined ? { minValue: spec.minValue } : {}),
          ...(spec.maxValue !== undefined ? { maxValue: spec.maxValue } : {}),
          ...(spec.categories ? { categories: spec.categories } : {}),
        });
        found.set(spec.name, created.id);
      }
      return found;
    })().catch((err: unknown) => {
      this.configIds = undefined;
      throw new Error(`Langfuse score configs: ${describeLangfuseError(err)}`, { cause: err });
    });
    return this.configIds;
  }

  async send(s: OutcomeScore): Promise<{ id: string; traceId: string }> {
    const spec = OUTCOME_SCORE_CONFIGS[s.kind];
    const configId = (await this.ensureConfigs()).get(spec.name);
    const traceId = await createTraceId(s.runId);
    const id = outcomeScoreId(s);
    try {
      await this.langfuse.api.scores.create({
        id,
        traceId,
        name: spec.name,
        value: s.value,
        dataType: spec.dataType,
        ...(configId ? { configId } : {}),
        ...(s.comment ? { comment: s.comment } : {}),
      });
    } catch (err) {
      throw new Error(`Langfuse score ${id}: ${describeLangfuseError(err)}`, { cause: err });
    }
    return { id, traceId };
  }
}
