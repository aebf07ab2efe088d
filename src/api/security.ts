import http from 'node:http';
import type { Socket } from 'node:net';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../config';

/**
 * The API's protections that are not about who the caller is: security headers (a console that no other origin
 * may frame), the Host allow-list (DNS rebinding), a rate limit per caller, and a lockout after repeated failed
 * authentications. Each refusal is a one-line JSON error like every other.
 */

/**
 * The names the server answers to: the loopback names always (a rebinding attack needs a name of its own), API_HOST
 * when it names one, and API_ALLOWED_HOSTS; `*` there turns the check off.
 */
export function allowedHosts(config: AppConfig): Set<string> | 'any' {
  if (config.API_ALLOWED_HOSTS?.trim() === '*') return 'any';
  const names = [
    'localhost',
    '127.0.0.1',
    '::1',
    ...(['0.0.0.0', '::'].includes(config.API_HOST) ? [] : [config.API_HOST]),
    ...(config.API_ALLOWED_HOSTS?.split(',') ?? []),
  ];
  return new Set(
    names
      .map((n) =>
        n
          .trim()
          .toLowerCase()
          .replace(/^\[|\]$/g, ''),
      )
      .filter(Boolean),
  );
}

/** The host name a Host header names, without its port (and without the brackets of an IPv6 address). */
export function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  return h.split(':')[0];
}

export async function registerSecurity(app: FastifyInstance, config: AppConfig, tls: boolean): Promise<void> {
  const hosts = allowedHosts(config);
  // The headers first, so that every answer carries them, the Host check's refusals too.
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        objectSrc: ["'none'"],
        // Over plain HTTP (loopback) this would send the console's requests to an https:// that is not there.
        upgradeInsecureRequests: tls ? [] : null,
      },
    },
    frameguard: { action: 'deny' },
    strictTransportSecurity: tls ? { maxAge: 15_552_000, includeSubDomains: false } : false,
    referrerPolicy: { policy: 'no-referrer' },
  });

  app.addHook('onRequest', async (request, reply) => {
    if (hosts === 'any') return;
    const name = hostName(request.headers.host);
    if (!name || !hosts.has(name))
      return reply.code(421).send({
        error: `this server does not answer to the host name ${JSON.stringify((name ?? '').slice(0, 100))} (API_ALLOWED_HOSTS)`,
      });
  });

  if (config.API_RATE_LIMIT > 0)
    await app.register(fastifyRateLimit, {
      max: config.API_RATE_LIMIT,
      timeWindow: 60_000,
      // After authentication, so that the limit is per key; callers without one are counted by address.
      hook: 'preHandler',
      keyGenerator: (request) => (request.principal ? `key:${request.principal.name}` : `ip:${request.ip}`),
      errorResponseBuilder: (_request, context) =>
        Object.assign(
          new Error(
            `too many requests: at most ${context.max} a minute for each caller; try again in ${context.after}`,
          ),
          { statusCode: 429 },
        ),
    });
}

/** Failed authentications per address: after `limit` in the window, that address is refused until the window passes. */
export class AuthLockout {
  private readonly failures = new Map<string, { count: number; until: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs = 15 * 60_000,
  ) {}

  /** Seconds the address must still wait, or 0. */
  lockedFor(address: string): number {
    const f = this.failures.get(address);
    if (!f) return 0;
    if (Date.now() >= f.until) {
      this.failures.delete(address);
      return 0;
    }
    return f.count >= this.limit ? Math.ceil((f.until - Date.now()) / 1000) : 0;
  }

  fail(address: string): void {
    const f = this.failures.get(address);
    if (f && Date.now() < f.until) f.count += 1;
    else this.failures.set(address, { count: 1, until: Date.now() + this.windowMs });
  }
}

const oneLine = (status: number, error: string) => {
  const body = JSON.stringify({ error });
  return { status, body };
};

/**
 * Errors Node or Fastify answer before any route runs: too long a path parameter (414), bad URL encoding (400),
 * and, from Node's parser, too large headers (431) or a malformed request (400). In the one-line format, never
 * echoing the URL.
 */
export function frameworkErrors(err: { code?: string }, _request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? oneLine(414, 'the URL is too long')
      : oneLine(400, 'the URL is not valid (bad percent-encoding)');
  void reply.code(status).header('content-type', 'application/json; charset=utf-8').send(body);
}

export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, body } =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? oneLine(431, 'the request headers are too large')
      : err.code === 'HPE_URI_TOO_LONG' || err.code === 'HPE_HEADER_OVERFLOW_URL'
        ? oneLine(414, 'the URL is too long')
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? oneLine(408, 'the request took too long to arrive')
          : oneLine(400, 'the request is not valid HTTP');
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy(err);
}
