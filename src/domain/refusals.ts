/**
 * Why the domain refused a change: the code the model (and the code-driven path) reads in `{ok: false, code}`.
 * A refusal is a result to recover from, never a crash. Pure.
 */
export const domainRefusalCodes = [
  'unknown_provider',
  'unknown_appointment',
  'unknown_patient',
  'not_affected',
  'already_decided',
  'wrong_specialty',
  'provider_unavailable',
  'no_slot',
  'slot_taken',
  'below_threshold',
  'approval_required',
  'nothing_to_notify',
  'already_notified',
  'key_reused',
  'approval_pending_elsewhere',
  'declined_by_patient',
  'no_open_offer',
  'offer_closed',
  'no_accepted_offer',
  'already_rated',
  'unknown_escalation',
  'escalation_closed',
] as const;
export type DomainRefusalCode = (typeof domainRefusalCodes)[number];

/** A call the domain refuses: returned to the model as the tool's result, never a crash. */
export class DomainRefusal extends Error {
  constructor(
    message: string,
    readonly code: DomainRefusalCode,
  ) {
    super(message);
    this.name = 'DomainRefusal';
  }
}
