// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node built-ins and libraries that do I/O: never imported by workflow code (it must replay deterministically). */
const nodeBuiltins = [
  'assert',
  'buffer',
  'child_process',
  'cluster',
  'crypto',
  'dgram',
  'dns',
  'events',
  'fs',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'path',
  'perf_hooks',
  'process',
  'readline',
  'stream',
  'timers',
  'tls',
  'url',
  'util',
  'v8',
  'vm',
  'worker_threads',
  'zlib',
];
const ioLibraries = [
  'better-sqlite3',
  'openai',
  'yaml',
  'commander',
  'fastify',
  '@langfuse/*',
  '@opentelemetry/*',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/testing',
  'gpt-tokenizer',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'data/**',
      '.cache/**',
      'coverage/**',
      'test-results/**',
      'test/fixtures/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'inline-type-imports' },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    // Workflow code is replayed: no I/O, no clock or randomness but Temporal's, and nothing imported that does either.
    files: ['src/workflows/**/*.ts', 'src/bench/floorWorkflow.ts', 'src/bench/workflows.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.flatMap((name) => [
            { name, message: 'workflow code must not do I/O: move this to an activity', allowTypeImports: true },
            {
              name: `node:${name}`,
              message: 'workflow code must not do I/O: move this to an activity',
              allowTypeImports: true,
            },
          ]),
          patterns: [
            {
              group: ['node:*'],
              message: 'workflow code must not do I/O: move this to an activity',
              allowTypeImports: true,
            },
            {
              group: ioLibraries,
              message: 'workflow code must not import I/O libraries: use an activity',
              allowTypeImports: true,
            },
            {
              group: [
                '**/activities/*',
                '!**/activities/types',
                '**/domain/store*',
                '**/domain/db*',
                '**/llm/chatClient',
                '**/llm/offline*',
                '**/langfuse/*',
                '**/prompts/registry',
                '**/prompts/langfuse*',
                '**/config',
              ],
              message: 'workflow code must not import modules that do I/O',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
