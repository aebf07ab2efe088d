/** The workflow bundle's entry point: every workflow type the worker registers. */
export { promptDrivenReassignment, codeDrivenReassignment, reassignment } from './run/reassignment';
export { promptDrivenBatch } from './batch/promptDrivenBatch';
export { codeDrivenBatch } from './batch/codeDrivenBatch';
export { shadowBatch } from './batch/shadowBatch';
export { rollbackGuard } from './guard/rollbackGuard';
export { patientFollowUp } from './outcomes/patientFollowUp';
export { adaptationPolicy } from './adapt/adaptationPolicy';
export { previewReassignment } from './preview/previewReassignment';
