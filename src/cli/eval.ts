import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { Command } from 'commander';
import { loadConfig, type AppConfig } from '../config';
import { writeEvalReport } from '../eval/records';
import { runEval, type EvalReport } from '../eval/runner';
import { outcomeScenarios, scenarioNamed, scenarios as allScenarios, type Scenario } from '../eval/scenarios';
import { createLangfuseClient, configureLangfuseLogging } from '../langfuse/client';
import { recordEvalInLangfuse } from '../langfuse/evalDataset';
import { PromptError, resolvePromptBundle } from '../prompts/registry';
import { promptRegistryFor } from '../prompts/registryFromConfig';
import { labelSchema } from '../prompts/schema';
import { freePort, isListening, startDevServer, type DevServer } from '../temporal/devServer';
import { ensureSearchAttributes } from '../temporal/searchAttributeSetup';
import { dataConverterFor } from '../temporal/dataConverter';
import { bundleWorkflows } from '../temporal/workflowBundle';
import { parseWith, print, UserError } from './session';

/** `eval`: is a prompt label safe to promote, with this model? Scenario by scenario, against the code-driven oracle. */

export function addEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('run the eval suite: the prompt-driven path with a label (and model) against the code-driven oracle')
    .option(
      '-l, --label <label>',
      'the prompt label under test (default: PROMPT_LABEL)',
      parseWith(labelSchema, 'label'),
    )
    .option('--model <name>', "model name for the prompt-driven runs (default: LLM_MODEL, or the prompt config's)")
    .option(
      '--scenario <names...>',
      `only these scenarios (${[...allScenarios, ...outcomeScenarios].map((s) => s.name).join(', ')})`,
    )
    .option('--outcomes', 'add the scenarios where simulated patients answer their slots (docs/outcomes.md)')
    .option('--out <file>', 'also write the JSON report here (it always goes into EVAL_DIR)')
    .option('--check', 'exit with 1 when the agreement is below the promotion bar')
    .option('--json', 'print the JSON report')
    .action(
      async (opts: {
        label?: string;
        model?: string;
        scenario?: string[];
        outcomes?: boolean;
        out?: string;
        check?: boolean;
        json?: boolean;
      }) => {
        const config = loadConfig();
        const label = opts.label ?? config.PROMPT_LABEL;
        const chosen = [...pickScenarios(opts.scenario), ...(opts.outcomes ? outcomeScenarios : [])];
        const say = opts.json ? () => undefined : (line: string) => console.log(line);
        await checkLabel(config, label);
        const report = await withTemporal(config, say, async (client, connection) => {
          say('eval: bundling the workflow code …');
          const bundle = await bundleWorkflows(require.resolve('../workflows'));
          return runEval({
            config,
            client,
            connection,
            bundle,
            label,
            ...(opts.model ? { model: opts.model } : {}),
            scenarios: chosen,
            say,
          });
        });
        const file = writeEvalReport(config.EVAL_DIR, report);
        if (opts.out) fs.writeFileSync(opts.out, JSON.stringify(report, null, 2) + '\n');
        let langfuseRun: string | undefined;
        if (config.langfuse) {
          configureLangfuseLogging('ERROR');
          langfuseRun = (await recordEvalInLangfuse(createLangfuseClient(config.langfuse), report)).runName;
        }
        print(report, !!opts.json, () =>
          [
            formatEval(report),
            `report: ${path.relative(process.cwd(), file)}`,
            ...(langfuseRun ? [`Langfuse dataset run: ${langfuseRun}`] : []),
          ].join('\n'),
        );
        if (opts.check && !report.promotable) process.exitCode = 1;
      },
    );
}

function pickScenarios(names: string[] | undefined): Scenario[] {
  if (!names) return allScenarios;
  return names.map((n) => {
    const s = scenarioNamed(n);
    if (!s)
      throw new UserError(
        `unknown scenario "${n}" (known: ${[...allScenarios, ...outcomeScenarios].map((x) => x.name).join(', ')})`,
      );
    return s;
  });
}

/** The label must resolve (from the configured registry) before anything starts. */
async function checkLabel(config: AppConfig, label: string): Promise<void> {
  try {
    await resolvePromptBundle(promptRegistryFor(config), label);
  } catch (err) {
    if (err instanceof PromptError) throw new UserError(err.message);
    throw err;
  }
}

/** The Temporal server at TEMPORAL_ADDRESS, or, when none answers there, a dev server of its own for this eval. */
async function withTemporal<T>(
  config: AppConfig,
  say: (l: string) => void,
  fn: (client: Client, connection: NativeConnection) => Promise<T>,
): Promise<T> {
  const dataConverter = dataConverterFor(config);
  try {
    Runtime.install({
      logger: new DefaultLogger('WARN'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'WARN' } } },
    });
  } catch {
    // already installed
  }
  const [host, port] = config.TEMPORAL_ADDRESS.split(':') as [string, string];
  let server: DevServer | undefined;
  let address = config.TEMPORAL_ADDRESS;
  if (!(await isListening(host, Number(port)))) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reassign-eval-temporal-'));
    say(`eval: no Temporal server at ${address}; starting a dev server of its own …`);
    server = await startDevServer({ dbFile: path.join(dir, 'temporal.db'), port: await freePort() });
    address = server.address;
  }
  const connection = await Connection.connect({ address });
  const native = await NativeConnection.connect({ address });
  try {
    await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE);
    return await fn(new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter }), native);
  } finally {
    await native.close();
    await connection.close();
    await server?.stop();
  }
}

const pct = (x: number) => `${(Math.round(x * 1000) / 10).toFixed(1)}%`;

function formatEval(r: EvalReport): string {
  const header = [
    'scenario',
    'appts',
    'agreed',
    'agreement',
    'refused',
    'invalid',
    'fallbacks',
    'llm calls',
    'tokens in+out',
    'cached',
    'cost',
    'time s',
  ];
  const row = (name: string, x: EvalReport['total']) => [
    name,
    String(x.appointments),
    String(x.agreed),
    pct(x.agreement),
    String(x.refused_calls),
    String(x.invalid_calls),
    String(x.fallbacks),
    String(x.llm_calls),
    `${x.input_tokens}+${x.output_tokens}`,
    String(x.cached_tokens ?? 0),
    x.cost === null ? '-' : x.cost.toFixed(4),
    x.time_s.toFixed(1),
  ];
  const rows = [...r.scenarios.map((s) => row(s.name, { ...s, scenarios: 1 })), row('total', r.total)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  const o = r.prompt.orchestrator;
  const disagreements = r.scenarios.flatMap((s) =>
    s.disagreements.map((d) => `  ✗ ${s.name} ${d.appointment_id}: oracle ${d.oracle}, model ${d.candidate}`),
  );
  return [
    `eval of label ${r.label}: ${o.name} v${o.version} (${o.source}, ${o.hash}) · ${r.prompt.scoring.name} v${r.prompt.scoring.version} · model ${r.model}${r.offline ? ' (offline stand-in, not an LLM)' : ''}`,
    line(header),
    ...rows.map(line),
    ...disagreements,
    `${o.name} v${o.version} agrees with the code-driven oracle on ${pct(r.total.agreement)} of ${r.total.appointments} appointments: ` +
      (r.promotable
        ? `may be promoted (bar ${pct(r.min_agreement)})`
        : `below the bar of ${pct(r.min_agreement)}: prompts promote would refuse it`),
  ].join('\n');
}
