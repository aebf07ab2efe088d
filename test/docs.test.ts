import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/config';
import { renderPerformanceDoc, type BenchResults } from '../scripts/performanceDoc';

/** The docs say what the code and the last benchmark say: generated figures match, and every link resolves. */
describe('docs', () => {
  it('docs/performance.md is the rendering of bench/results.json', () => {
    const results = JSON.parse(
      fs.readFileSync(path.join(projectRoot, 'bench', 'results.json'), 'utf8'),
    ) as BenchResults;
    const committed = fs.readFileSync(path.join(projectRoot, 'docs', 'performance.md'), 'utf8');
    expect(committed).toBe(renderPerformanceDoc(results));
  });

  it('every relative link in README.md and docs/ points to a file that exists', () => {
    const pages = ['README.md', ...fs.readdirSync(path.join(projectRoot, 'docs')).map((f) => path.join('docs', f))];
    const broken: string[] = [];
    for (const page of pages.filter((p) => p.endsWith('.md'))) {
      const text = fs.readFileSync(path.join(projectRoot, page), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue;
        if (!fs.existsSync(path.join(projectRoot, path.dirname(page), target!))) broken.push(`${page} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
