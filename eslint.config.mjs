// @ts-check
import path from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Workflow code is replayed, so it must not do I/O, read the clock or draw random numbers but through Temporal, and
 * nothing it imports may either. An allow-list rather than a deny-list: a new module under src/ is refused to
 * workflow code until someone checks it is pure and names it here (test/lint.test.ts holds the same list).
 */
const workflowPackages = ['@temporalio/workflow', '@temporalio/common', 'zod'];
/** Pure modules of src/ (paths from src/, no extension): no fs, database, network, clock or randomness. */
const pureModules = [
  'domain/model',
  'domain/policy',
  'domain/refusals',
  'domain/results',
  'domain/scoring',
  'errorTypes',
  'prompts/schema',
  'temporal/payloadConverter',
  'tools/catalog',
  'tools/mcpSource',
  'workflowIds',
  'zodIssue',
];
/** Workflow modules outside src/workflows/: the benchmark's workflow bundle and its floor workflow. */
const benchWorkflows = ['bench/floorWorkflow', 'bench/workflows'];

/** @param {string} text */
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** One or more path segments, with no `.` or `..` among them. */
const segments = '[\\w-]+(?:/[\\w-]+)*';
/**
 * An import path from `dir` (relative to src/) to the module `target` (relative to src/).
 * @param {string} dir
 * @param {string} target
 */
const specifier = (dir, target) => {
  const relative = path.posix.relative(dir, target);
  return relative.startsWith('..') ? relative : `./${relative}`;
};

/**
 * The `no-restricted-imports` options for workflow files in `dir` (relative to src/; `*` stands for any one folder).
 * A value import is refused unless its specifier is one of the packages, a pure module, a bench workflow, or a path
 * into src/workflows/. Type-only imports are erased at build time, so they may come from anywhere.
 * @param {string} dir
 * @returns {import('eslint').Linter.RuleEntry}
 */
function workflowImports(dir) {
  const intoWorkflows = path.posix.relative(dir, 'workflows');
  const allowed = [
    ...workflowPackages.map(escape),
    ...[...pureModules, ...benchWorkflows].map((target) => escape(specifier(dir, target))),
    intoWorkflows === '' ? `\\.(?:/${segments})?` : `${escape(intoWorkflows)}(?:/${segments})?`,
    // Within src/workflows/, any path down from the file's own folder stays there.
    ...(dir.startsWith('workflows') && dir !== 'workflows' ? [`\\./${segments}`] : []),
  ];
  return [
    'error',
    {
      patterns: [
        {
          regex: `^(?!(?:${allowed.join('|')})$)`,
          caseSensitive: true,
          allowTypeImports: true,
          message:
            'workflow code may import only @temporalio/workflow, @temporalio/common, zod, workflow modules and the pure modules listed in eslint.config.mjs: do I/O in an activity, or check the module is pure and add it there',
        },
      ],
    },
  ];
}
/** Files in deeper folders of src/workflows/ get the rule of the deepest configured level: strict, never lax. */
const workflowFolders = [
  { files: ['src/workflows/*.ts'], dir: 'workflows' },
  { files: ['src/workflows/*/*.ts'], dir: 'workflows/*' },
  { files: ['src/workflows/*/*/**/*.ts'], dir: 'workflows/*/*' },
  { files: benchWorkflows.map((module) => `src/${module}.ts`), dir: 'bench' },
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
  ...workflowFolders.map(({ files, dir }) => ({
    files,
    rules: { '@typescript-eslint/no-restricted-imports': workflowImports(dir) },
  })),
);
