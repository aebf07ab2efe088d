import { DEMO_DATE, DEMO_PROVIDER_ID, DEMO_REASON } from '../../src/domain/demoData';

/** The seed's example: provider T001 off sick on 2025-11-21, with three appointments that day. */
export const seedInput = { providerId: DEMO_PROVIDER_ID, date: DEMO_DATE, reason: DEMO_REASON } as const;
