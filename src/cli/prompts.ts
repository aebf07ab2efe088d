import type { Command } from 'commander';
import { loadConfig, type AppConfig } from '../config';
import { configureLangfuseLogging, createLangfuseClient } from '../langfuse/client';
import { promotionGate } from '../eval/gate';
import { PromptOps } from '../langfuse/promptOps';
import { print, UserError } from './session';
import { labelRouteLines, localVersionRows } from './promptRoutes';

/** Prompt operations need Langfuse; the embedded default has nothing to push to. */
async function withPromptOps<T>(fn: (ops: PromptOps, config: AppConfig) => Promise<T>): Promise<T> {
  const config = loadConfig();
  if (!config.langfuse)
    throw new UserError(
      'prompt operations need Langfuse: set LANGFUSE_BASE_URL, LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY',
    );
  // Our one-line error says what failed; the SDK's own error log would add a stack trace on stderr.
  configureLangfuseLogging('ERROR');
  const langfuse = createLangfuseClient(config.langfuse);
  return fn(new PromptOps(langfuse), config);
}

export function addPromptCommands(program: Command): void {
  const prompts = program
    .command('prompts')
    .description('prompt versions and labels in Langfuse: push, list, promote, rollback, diff');
  prompts
    .command('push')
    .description(
      'push each local prompt version that Langfuse lacks (compared by hash) as a new version, with its labels',
    )
    .option('--dir <path>', 'prompt files (default: PROMPTS_DIR)')
    .option('--json', 'print JSON')
    .action(async (opts: { dir?: string; json?: boolean }) => {
      await withPromptOps(async (ops, config) => {
        const pushed = await ops.push(opts.dir ?? config.PROMPTS_DIR);
        print(pushed, !!opts.json, () =>
          pushed.length === 0
            ? 'Langfuse already has every local version'
            : pushed
                .map(
                  (p) => `pushed ${p.name} local v${p.localVersion} → Langfuse v${p.version} [${p.labels.join(', ')}]`,
                )
                .join('\n'),
        );
      });
    });
  prompts
    .command('list')
    .description(
      'versions, labels and hashes in Langfuse (or in the local files without Langfuse), and the label routes',
    )
    .argument('[name]')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, opts: { json?: boolean }) => {
      const config = loadConfig();
      const rows = config.langfuse ? await withPromptOps((ops) => ops.list(name)) : localVersionRows(config, name);
      const routes = await labelRouteLines(config, name);
      print(rows, !!opts.json, () =>
        [
          rows
            .map((r) =>
              `${r.name}  v${r.version}  [${r.labels.join(', ')}]  ${r.hash}  ${r.commitMessage ?? ''}`.trimEnd(),
            )
            .join('\n') || (config.langfuse ? 'no prompts in Langfuse' : 'no prompt files'),
          ...routes,
        ].join('\n'),
      );
    });
  prompts
    .command('promote')
    .description(
      'move a label to a version; runs started afterwards use it, running ones keep theirs. Refused unless the last eval of that version passed the bar (EVAL_MIN_AGREEMENT)',
    )
    .argument('<name>')
    .argument('<version>')
    .argument('<label>')
    .option('--force', 'promote even without a passing eval')
    .option('--model <name>', 'the model the eval must have passed with (its newest eval with that model decides)')
    .action(async (name: string, version: string, label: string, opts: { force?: boolean; model?: string }) => {
      await withPromptOps(async (ops, config) => {
        const { target } = await ops.promotion(name, version, label);
        const gate = await promotionGate({
          name: target.name,
          version: target.version,
          hash: target.hash,
          evalDir: config.EVAL_DIR,
          minAgreement: config.EVAL_MIN_AGREEMENT,
          langfuse: ops.langfuse,
          ...(opts.model ? { model: opts.model } : {}),
        });
        if (!gate.pass && !opts.force) throw new UserError(gate.detail);
        if (!gate.pass) console.log(`warning: promoted with --force: ${gate.detail}`);
        const r = await ops.promote(name, version, label);
        console.log(`${r.name}: ${r.label} → v${r.version}${r.from !== undefined ? ` (was v${r.from})` : ''}`);
      });
    });
  prompts
    .command('rollback')
    .description('move a label back to the version below the one it is on, or to --to')
    .argument('<name>')
    .argument('<label>')
    .option('--to <version>', 'the version to move the label to')
    .action(async (name: string, label: string, opts: { to?: string }) => {
      await withPromptOps(async (ops) => {
        const r = await ops.rollback(name, label, opts.to);
        console.log(`${r.name}: ${r.label} rolled back v${r.from} → v${r.version}`);
      });
    });
  prompts
    .command('diff')
    .description('line diff of two versions (text and config)')
    .argument('<name>')
    .argument('<v1>')
    .argument('<v2>')
    .action(async (name: string, v1: string, v2: string) => {
      await withPromptOps(async (ops) => console.log(await ops.diff(name, v1, v2)));
    });
}
