/** The workflow bundle's entry point: every workflow type the worker registers. */
export { promptDrivenReassignment, codeDrivenReassignment } from './reassignment';
export { promptDrivenBatch } from './promptDrivenBatch';
export { codeDrivenBatch } from './codeDrivenBatch';
