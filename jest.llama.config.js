/** The tests against a real llama.cpp server (built by scripts/llamaServer.sh): `npm test` runs them after the rest, `npm run test:llama` alone. */
const { projects, ...base } = require('./jest.config');
const integration = projects.find((project) => project.displayName === 'integration');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  ...integration,
  displayName: 'llama',
  testMatch: ['<rootDir>/test/llama/**/*.test.ts'],
  testPathIgnorePatterns: [],
  // A CPU-served model answers in tens of seconds.
  testTimeout: 15 * 60_000,
  maxWorkers: 1,
};
