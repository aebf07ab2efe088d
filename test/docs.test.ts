import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/config';
import { renderPerformanceDoc, type BenchResults } from '../scripts/performanceDoc';

/** README.md and every page of docs/, with their text. */
const pages = ['README.md', ...fs.readdirSync(path.join(projectRoot, 'docs')).map((f) => path.join('docs', f))]
  .filter((page) => page.endsWith('.md'))
  .map((page) => ({ page, text: fs.readFileSync(path.join(projectRoot, page), 'utf8') }));

/**
 * The docs say what the code and the last benchmark say: generated figures match, every link resolves, and every
 * file or folder of the source they name exists.
 */
describe('docs', () => {
  it('docs/performance.md is the rendering of bench/results.json', () => {
    const results = JSON.parse(
      fs.readFileSync(path.join(projectRoot, 'bench', 'results.json'), 'utf8'),
    ) as BenchResults;
    const committed = fs.readFileSync(path.join(projectRoot, 'docs', 'performance.md'), 'utf8');
    expect(committed).toBe(renderPerformanceDoc(results));
  });

  it('every relative link in README.md and docs/ points to a file that exists', () => {
    const broken: string[] = [];
    for (const { page, text } of pages) {
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue;
        if (!fs.existsSync(path.join(projectRoot, path.dirname(page), target!))) broken.push(`${page} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every src/, test/ and scripts/ path named in README.md and docs/ exists', () => {
    const missing: string[] = [];
    for (const { page, text } of pages) {
      // In prose, backticks, links and diagrams alike; a module may be named without its `.ts`.
      for (const [named] of text.matchAll(/(?<![\w./-])(?:src|test|scripts)\/[\w./-]*/g)) {
        const file = named.replace(/\.+$/, '');
        if (![file, `${file}.ts`].some((p) => fs.existsSync(path.join(projectRoot, p))))
          missing.push(`${page} → ${file}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
