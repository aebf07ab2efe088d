/**
 * The domain, tool, workflow and crash suites a second time, with every scheduling store on PostgreSQL
 * (TEST_STORE=postgres: test/support/testStore.ts). `npm test` runs them after the first run (scripts/test.ts);
 * alone: `TEST_STORE=postgres node --experimental-vm-modules node_modules/jest/bin/jest.js -c jest.postgres.config.js`.
 * The global setup starts the PostgreSQL cluster either way (the multi-worker trial and test/storeConcurrency.test.ts
 * need it in the first run too).
 */
const { projects, ...base } = require('./jest.config');
const integration = projects.find((project) => project.displayName === 'integration');

const suites = [
  'domain',
  'reassignment',
  'approvals',
  'approvalsAcrossRuns',
  'concurrency',
  'cancelWhileFinishing',
  'crash',
  'crashCancel',
  'dateRange',
  'durability',
  'faults',
  'outcomes',
  'preview',
  'toolCallingModes',
];

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  ...integration,
  displayName: 'postgres',
  testMatch: suites.map((name) => `<rootDir>/test/${name}.test.ts`),
  testPathIgnorePatterns: ['/node_modules/'],
};
