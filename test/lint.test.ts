import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { ESLint } from 'eslint';
import ts from 'typescript';
import { projectRoot } from '../src/config';

/**
 * The lint rule that keeps workflow code deterministic is an allow-list: workflow code may import, for their
 * values, only these packages, workflow modules and these pure modules of src/ (no fs, database, network, clock
 * or randomness). Every other module of src/ is discovered from the tree, so a new one is refused until it is
 * checked and added here and in eslint.config.mjs.
 */
const allowedPackages = ['@temporalio/workflow', '@temporalio/common', 'zod'];
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
/** Modules of src/ that do I/O: the rule must refuse them whatever else changes. */
const ioModules = ['domain/database', 'domain/store', 'domain/reads', 'client', 'temporal/devServer', 'config'];

const srcDir = path.join(projectRoot, 'src');
/** Every module of src/ as a path from src/ without `.ts`; `x/index` is imported as `x`. */
const srcModules = (function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return walk(full);
    if (!entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) return [];
    const module = path.relative(srcDir, full).split(path.sep).join('/').replace(/\.ts$/, '');
    return [module.replace(/\/index$/, '')];
  });
})(srcDir).sort();
const isWorkflowModule = (module: string) =>
  module === 'workflows' ||
  module.startsWith('workflows/') ||
  module === 'bench/floorWorkflow' ||
  module === 'bench/workflows';
const refusedModules = srcModules.filter((module) => !isWorkflowModule(module) && !pureModules.includes(module));
const refusedPackages = [
  ...Object.keys(
    (JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { dependencies: object })
      .dependencies,
  ).filter((name) => !allowedPackages.includes(name)),
  ...builtinModules
    .filter((name) => !name.startsWith('_'))
    .flatMap((name) => (name.startsWith('node:') ? [name] : [name, `node:${name}`])),
];

/** Workflow files in two folders: the import paths differ, the rule must not. */
const workflowFiles = ['src/workflows/run/reassignment.ts', 'src/bench/floorWorkflow.ts'];
const specifierFrom = (file: string, module: string) => {
  const relative = path.posix.relative(path.posix.dirname(file.replace(/^src\//, '')), module);
  return relative === '' ? '.' : relative.startsWith('..') ? relative : `./${relative}`;
};

/** The project's config, running only the import rule (and without the type-aware parse the rule does not need). */
const eslint = new ESLint({
  cwd: projectRoot,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
  ruleFilter: ({ ruleId }) => ruleId === '@typescript-eslint/no-restricted-imports',
});
/** Lints `imports` (one per line) as the body of `file`: the lines whose import the rule refuses. */
async function refused(file: string, imports: string[]): Promise<Set<string>> {
  const [result] = await eslint.lintText(`${imports.join('\n')}\n`, { filePath: path.join(projectRoot, file) });
  const fatal = result!.messages.find((m) => m.fatal);
  if (fatal) throw new Error(`${file}: ${fatal.message}`);
  return new Set(result!.messages.map((m) => imports[m.line - 1]!));
}
const valueImport = (specifier: string) => `import * as m from '${specifier}'; export { m };`;
const typeImport = (specifier: string) => `import type * as t from '${specifier}'; export type { t };`;

const moduleOf = (file: string) => file.replace(/^src\//, '').replace(/\.ts$/, '');
/** What each workflow file may not import, from one lint of every import the tests below ask about. */
const refusedIn = new Map<string, Set<string>>();
beforeAll(async () => {
  for (const file of workflowFiles) {
    const allowedModules = [...pureModules, ...srcModules.filter(isWorkflowModule)].filter((m) => m !== moduleOf(file));
    const specifiers = (modules: string[]) => modules.map((module) => specifierFrom(file, module));
    const imports = [
      ...[...specifiers(refusedModules), ...refusedPackages].flatMap((s) => [valueImport(s), typeImport(s)]),
      ...[...allowedPackages, ...specifiers(allowedModules)].map(valueImport),
    ];
    refusedIn.set(file, await refused(file, imports));
  }
});

describe('workflow import rule', () => {
  it('knows the modules of src/ that do I/O', () => {
    expect(refusedModules).toEqual(expect.arrayContaining(ioModules));
    expect(srcModules).toEqual(expect.arrayContaining(pureModules));
  });

  describe.each(workflowFiles)('in %s', (file) => {
    const isRefused = (line: string) => refusedIn.get(file)!.has(line);

    it.each(refusedModules)('refuses a value import of src/%s', (module) => {
      expect(isRefused(valueImport(specifierFrom(file, module)))).toBe(true);
    });

    it('refuses a value import of every package but @temporalio/workflow, @temporalio/common and zod, and of every Node built-in', () => {
      expect(refusedPackages.filter((name) => !isRefused(valueImport(name)))).toEqual([]);
    });

    it('allows the pure modules, the workflow modules and the allowed packages', () => {
      const allowedModules = [...pureModules, ...srcModules.filter(isWorkflowModule)].filter(
        (m) => m !== moduleOf(file),
      );
      const allowed = [...allowedPackages, ...allowedModules.map((module) => specifierFrom(file, module))];
      expect(allowed.filter((specifier) => isRefused(valueImport(specifier)))).toEqual([]);
    });

    it('allows type-only imports from anywhere', () => {
      const anywhere = [...refusedModules.map((module) => specifierFrom(file, module)), ...refusedPackages];
      expect(anywhere.filter((specifier) => isRefused(typeImport(specifier)))).toEqual([]);
    });
  });

  it('allows any import outside workflow code', async () => {
    const imports = [...refusedPackages, ...refusedModules.map((module) => specifierFrom('src/worker.ts', module))];
    expect([...(await refused('src/worker.ts', imports.map(valueImport)))]).toEqual([]);
  });

  /** The rule checks a workflow file's own imports; the allowed modules must not reach I/O through theirs. */
  it.each(pureModules)('src/%s imports, for their values, only allowed packages and pure modules', (module) => {
    const file = path.join(srcDir, `${module}.ts`);
    const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
    const valueImports = source.statements.flatMap((node) => {
      if (!(ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) || !node.moduleSpecifier) return [];
      const clause = ts.isImportDeclaration(node) ? node.importClause : undefined;
      const typeOnly = ts.isImportDeclaration(node)
        ? !!clause &&
          (clause.isTypeOnly ||
            (!clause.name &&
              !!clause.namedBindings &&
              ts.isNamedImports(clause.namedBindings) &&
              clause.namedBindings.elements.every((element) => element.isTypeOnly)))
        : node.isTypeOnly;
      const specifier = (node.moduleSpecifier as ts.StringLiteral).text;
      if (typeOnly) return [];
      return [specifier.startsWith('.') ? path.posix.join(path.posix.dirname(module), specifier) : specifier];
    });
    expect(valueImports.filter((name) => !allowedPackages.includes(name) && !pureModules.includes(name))).toEqual([]);
  });
});
