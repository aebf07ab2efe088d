/** The bench worker's workflow bundle: every production workflow, plus the floor benchmark's. */
export * from '../workflows';
export { floorWorkflow } from './floorWorkflow';
