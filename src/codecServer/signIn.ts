import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeys, Principal } from '../api/auth';

/**
 * Signing in to the codec server from a browser. The Temporal Web UI sends no key of its own: it passes its
 * users' OIDC access token (only when the UI itself has sign-in), or, with "include cross-origin credentials"
 * in its codec server settings, the browser's cookies for the codec server. So a person opens
 * `<codec server>/sign-in`, gives their API key once, and gets a session cookie (HttpOnly, SameSite=Strict,
 * 8 hours); the Web UI's decode requests then carry it, and decode as that person, with that person's role.
 * The key itself never goes into the cookie, and sessions live in this process only.
 */

export const SESSION_COOKIE = 'codec_session';
const SESSION_TTL_MS = 8 * 60 * 60 * 1000;

export class CodecSessions {
  private readonly sessions = new Map<string, { principal: Principal; expires: number }>();
  constructor(private readonly now: () => number = Date.now) {}

  open(principal: Principal): string {
    // Sessions nobody used again until they expired go now, so the map does not grow with every sign-in.
    for (const [t, s] of this.sessions) if (s.expires <= this.now()) this.sessions.delete(t);
    const token = randomBytes(32).toString('base64url');
    this.sessions.set(token, { principal, expires: this.now() + SESSION_TTL_MS });
    return token;
  }

  /** The person a request's session cookie belongs to, while the session lasts. */
  principalOf(request: FastifyRequest): Principal | undefined {
    const token = sessionToken(request);
    if (!token) return undefined;
    const s = this.sessions.get(token);
    if (!s) return undefined;
    if (s.expires <= this.now()) {
      this.sessions.delete(token);
      return undefined;
    }
    return s.principal;
  }

  close(request: FastifyRequest): void {
    const token = sessionToken(request);
    if (token) this.sessions.delete(token);
  }
}

function sessionToken(request: FastifyRequest): string | undefined {
  const cookies = request.headers.cookie ?? '';
  for (const part of cookies.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return value.join('=');
  }
  return undefined;
}

/** Secure when the browser reached us over HTTPS (here, or at the TLS proxy in front). */
function cookie(request: FastifyRequest, value: string, maxAgeSeconds: number): string {
  const https = request.protocol === 'https' || request.headers['x-forwarded-proto'] === 'https';
  return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}${https ? '; Secure' : ''}`;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', "default-src 'none'; form-action 'self'")
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Codec server</title></head><body>${body}</body></html>`,
    );
}

const FORM = `<h1>Codec server: sign in</h1>
<p>Your API key lets the Temporal Web UI decode payloads in this browser (tick "include cross-origin credentials" in the Web UI's codec server settings).</p>
<form method="post" action="/sign-in"><label>API key <input type="password" name="key" autocomplete="off" required></label>
<button type="submit">Sign in</button></form>`;

export function addSignInRoutes(
  app: FastifyInstance,
  deps: { keys?: ApiKeys; sessions: CodecSessions; log: (line: string) => void },
): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );
  app.get('/sign-in', async (request, reply) => {
    if (!deps.keys) return page(reply, 200, '<p>No API keys are configured: no sign-in is needed.</p>');
    const who = deps.sessions.principalOf(request);
    return page(
      reply,
      200,
      who ? `<p data-testid="signed-in">Signed in as ${escapeHtml(who.name)} (${who.role}).</p>${FORM}` : FORM,
    );
  });
  app.post('/sign-in', async (request, reply) => {
    if (!deps.keys) return page(reply, 200, '<p>No API keys are configured: no sign-in is needed.</p>');
    const key = (request.body as { key?: unknown } | undefined)?.key;
    const principal = typeof key === 'string' ? deps.keys.identify(key) : undefined;
    if (!principal) {
      deps.log('codec server: sign-in refused: unknown API key');
      return page(reply, 401, `<p data-testid="refused">Unknown API key.</p>${FORM}`);
    }
    reply.header('set-cookie', cookie(request, deps.sessions.open(principal), SESSION_TTL_MS / 1000));
    deps.log(`codec server: sign-in by ${principal.name} (${principal.role})`);
    return page(
      reply,
      200,
      `<p data-testid="signed-in">Signed in as ${escapeHtml(principal.name)} (${principal.role}) for 8 hours.</p>`,
    );
  });
  app.post('/sign-out', async (request, reply) => {
    deps.sessions.close(request);
    reply.header('set-cookie', cookie(request, '', 0));
    return page(reply, 200, '<p data-testid="signed-out">Signed out.</p>');
  });
}
