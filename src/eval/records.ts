import fs from 'node:fs';
import path from 'node:path';
import type { EvalReport } from './runner';

/**
 * Eval reports on disk (EVAL_DIR): one JSON file per eval, named by the orchestrator prompt's name, version and
 * hash. The hash is the same for a local version and its copy in Langfuse, so `prompts promote` finds the last
 * eval of the exact text and config it is about to promote, whatever its version number there.
 */

export function writeEvalReport(dir: string, report: EvalReport): string {
  fs.mkdirSync(dir, { recursive: true });
  const p = report.prompt.orchestrator;
  const file = path.join(
    dir,
    `${p.name}-v${p.version}-${p.hash}-${report.at.replace(/[-:.TZ]/g, '').slice(0, 17)}.json`,
  );
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  return file;
}

/**
 * The newest eval of a prompt version's content (by hash: the orchestrator's, or the scoring prompt's); with
 * `model`, the newest one run with that model (its name as the endpoint gave it, matched without case).
 */
export function lastEvalOf(
  dir: string,
  name: string,
  hash: string,
  model?: string,
): { report: EvalReport; file: string } | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const found: { report: EvalReport; file: string }[] = [];
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    try {
      const report = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as EvalReport;
      const p = [report.prompt?.orchestrator, report.prompt?.scoring].find((x) => x?.name === name);
      const sameModel = model === undefined || (report.model ?? '').toLowerCase().includes(model.toLowerCase());
      if (p?.hash === hash && sameModel) found.push({ report, file: path.join(dir, f) });
    } catch {
      // not an eval report
    }
  }
  return found.sort((a, b) => b.report.at.localeCompare(a.report.at))[0];
}
