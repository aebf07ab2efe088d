import type { ReassignmentClient } from '../client';
import type { AppConfig } from '../config';
import type { ApiKeys } from './auth';
import type { ListCache } from './listCache';
import type { LiveDecisions } from './liveProgress';
import type { SchedulerViews } from './schedulerViews';
import type { StartDedup } from './startDedup';

/** What the API's routes need: the configuration, the product's client (src/client.ts), and the keys (when auth is on). */
export interface ApiDeps {
  config: AppConfig;
  client: ReassignmentClient;
  /** Absent: no authentication, one implicit operator (the server then listens on loopback only). */
  keys?: ApiKeys;
  /** Decisions as the scheduling database holds them, for live progress (built by buildApiServer). */
  live?: LiveDecisions;
  /** One run per request (Idempotency-Key, identical concurrent starts); built by buildApiServer. */
  dedup?: StartDedup;
  /** The lists consoles poll, reused for API_LIST_CACHE_MS; built by buildApiServer. */
  lists?: ListCache<unknown>;
  /** Approvals explained, needs attention, previews; built by buildApiServer. */
  views?: SchedulerViews;
}
