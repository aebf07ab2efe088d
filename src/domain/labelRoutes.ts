import { RunRecords } from './runRecords';

/**
 * Label routes: a label of a prompt that resolves as another label (production follows conservative), moved by
 * the adaptation policy or pinned by a person, every move recorded.
 */
export class LabelRouteRecords extends RunRecords {}
