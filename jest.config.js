/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // The tests against a real llama.cpp server need a 10-minute build: `npm run test:llama`.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/llama/'],
  globalSetup: '<rootDir>/test/support/globalSetup.ts',
  globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
  // One Temporal server for the whole run; test files share it, two at a time on 2 cores.
  maxWorkers: 2,
  // Integration tests against a real server on 2 cores, two files at a time: slow when a heavy file runs beside them.
  testTimeout: 120000,
  reporters: ['default', '<rootDir>/test/support/summaryReporter.js'],
};
