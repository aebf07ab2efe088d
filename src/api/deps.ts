import type { ReassignmentClient } from '../client';
import type { AppConfig } from '../config';
import type { ApiKeys } from './auth';

/** What the API's routes need: the configuration, the product's client (src/client.ts), and the keys (when auth is on). */
export interface ApiDeps {
  config: AppConfig;
  client: ReassignmentClient;
  /** Absent: no authentication, one implicit operator (the server then listens on loopback only). */
  keys?: ApiKeys;
}
