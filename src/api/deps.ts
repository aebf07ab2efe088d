import type { Client } from '@temporalio/client';
import type { AppConfig } from '../config';
import type { ApiKeys } from './auth';

/** What the API's routes need: the configuration, a Temporal client, and the keys (when auth is on). */
export interface ApiDeps {
  config: AppConfig;
  client: Client;
  /** Absent: no authentication, one implicit operator (the server then listens on loopback only). */
  keys?: ApiKeys;
}
