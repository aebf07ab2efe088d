import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

/** The operator console: one page and its script and styles, served as they are (no build step). */

const files: Record<string, string> = {
  '/': 'index.html',
  '/console.js': 'console.js',
  '/console.css': 'console.css',
};
const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export function registerConsole(app: FastifyInstance): void {
  const dir = path.join(__dirname, 'console');
  for (const [route, file] of Object.entries(files)) {
    const body = fs.readFileSync(path.join(dir, file), 'utf8');
    app.get(route, { schema: { hide: true } }, (_request, reply) =>
      reply.header('content-type', types[path.extname(file)]!).header('cache-control', 'no-store').send(body),
    );
  }
}
