/**
 * Two projects. `unit`: the test files that need no Temporal server (no global setup), `npm run test:unit` runs
 * them alone in seconds. `integration`: every other test file, against one real Temporal dev server started by
 * the global setup. `npm test` runs both.
 */
const unitTests = [
  'docs',
  'compose',
  'domain',
  'lint',
  'mcpSource',
  'outcomeFigures',
  'patientSimulator',
  'settings',
  'payloadCodec',
  'toolCalling',
  'workflowPieces',
];

const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: unitTests.map((name) => `<rootDir>/test/${name}.test.ts`),
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      // The tests against a real llama.cpp server run apart, after the rest (scripts/test.ts): they need both cores.
      testPathIgnorePatterns: [
        '/node_modules/',
        '<rootDir>/test/llama/',
        `<rootDir>/test/(${unitTests.join('|')})\\.test\\.ts$`,
      ],
      globalSetup: '<rootDir>/test/support/globalSetup.ts',
      globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
    },
  ],
  // One Temporal server for the whole run; test files share it, two at a time on 2 cores.
  maxWorkers: 2,
  // Integration tests against a real server on 2 cores, two files at a time: slow when a heavy file runs beside them.
  testTimeout: 120000,
  reporters: ['default', '<rootDir>/test/support/summaryReporter.js'],
};
