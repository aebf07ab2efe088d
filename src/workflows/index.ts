/** The workflow bundle's entry point: every workflow type the worker registers. */
export { promptDrivenReassignment, codeDrivenReassignment, reassignment } from './reassignment';
export { promptDrivenBatch } from './promptDrivenBatch';
export { codeDrivenBatch } from './codeDrivenBatch';
export { shadowBatch } from './shadowBatch';
export { rollbackGuard } from './rollbackGuard';
