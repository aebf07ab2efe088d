import type { PromptDoc } from './harness';

/**
 * The production prompt, made to read each patient's details (notes included) before deciding: the way patient
 * notes reach the model, its conversation and so Temporal's payloads and the traces (for the tests that look
 * for patient data where it must not be).
 */
export function readsPatientDetails(files: { orchestrator: PromptDoc }): void {
  const production = files.orchestrator.versions.find((v) => v.labels.includes('production'))!;
  production.config.tools = [...(production.config.tools as string[]), 'get_patient_details'];
  production.prompt = production.prompt.replace(
    '1. Apply the DECISION CRITERIA',
    "1. Call get_patient_details for each appointment's patient_id, then apply the DECISION CRITERIA",
  );
}
