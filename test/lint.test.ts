import { ESLint } from 'eslint';
import { projectRoot } from '../src/config';

/** The lint rule that keeps workflow code deterministic: no Node built-ins or I/O modules under src/workflows. */
describe('workflow import rule', () => {
  const eslint = new ESLint({ cwd: projectRoot });
  const lint = async (file: string, code: string) => {
    const [result] = await eslint.lintText(code, { filePath: `${projectRoot}/${file}` });
    return result!.messages
      .filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')
      .map((m) => m.message);
  };

  it('refuses Node built-ins and modules that do I/O in workflow code', async () => {
    const messages = await lint(
      'src/workflows/reassignment.ts',
      "import fs from 'node:fs';\nimport OpenAI from 'openai';\nimport { SchedulingStore } from '../domain/store';\nexport const all = [fs, OpenAI, SchedulingStore];\n",
    );
    expect(messages.join('\n')).toMatch(/'node:fs'/);
    expect(messages.join('\n')).toMatch(/'openai'/);
    expect(messages.join('\n')).toMatch(/'..\/domain\/store'/);
  });

  it('allows type-only imports and pure modules there, and any import elsewhere', async () => {
    expect(
      await lint(
        'src/workflows/reassignment.ts',
        "import type { Activities } from '../activities';\nimport { bandOf } from '../domain/policy';\nexport const f = (a: Activities) => [a, bandOf];\n",
      ),
    ).toEqual([]);
    expect(await lint('src/worker.ts', "import fs from 'node:fs';\nexport const f = fs;\n")).toEqual([]);
  });
});
