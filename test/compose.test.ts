import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../src/config';

/**
 * docker-compose.yml as a security review reads it (docs/compose.md, docs/security.md): every secret comes from
 * .env with no default, only the API and console is published on the network (everything else on loopback or not
 * at all), every image is pinned to a version or a digest, and Langfuse's telemetry is off.
 */

interface Service {
  image?: string;
  build?: unknown;
  ports?: (string | { published?: string | number; host_ip?: string })[];
  environment?: Record<string, unknown> | string[];
  command?: string | string[];
}

const file = fs.readFileSync(path.join(projectRoot, 'docker-compose.yml'), 'utf8');
const compose = parse(file, { merge: true }) as { services: Record<string, Service> } & Record<string, unknown>;
const services = Object.entries(compose.services);

/** A variable that holds a secret: a password, a key, a salt, a token. */
const SECRET = /PASSWORD|PASSWD|PWD|SECRET|SALT|ENCRYPTION_KEY|(^|_)AUTH$|API_KEYS|TOKEN/;
/** Secrets that may be empty: the model's key (no model server, the offline model) and keyrings made on first use. */
const OPTIONAL_SECRETS = new Set(['OPENAI_API_KEY', 'PAYLOAD_KEYS', 'PATIENT_ID_HMAC_KEY']);

/** Every `${NAME…}` in the file: its name and what follows the name (`:?message`, `:-default`, or nothing). */
const references = [...file.matchAll(/\$\{([A-Z0-9_]+)([^}]*)\}/g)].map(([, name, rest]) => ({
  name: name!,
  rest: rest!,
}));

describe('docker-compose.yml', () => {
  test('every secret is required from .env: no default, no value written in the file', () => {
    const secrets = references.filter((r) => SECRET.test(r.name) && !OPTIONAL_SECRETS.has(r.name));
    // The premise: the file does take its secrets from variables.
    expect(new Set(secrets.map((r) => r.name)).size).toBeGreaterThanOrEqual(10);
    const withDefault = secrets.filter((r) => !r.rest.startsWith(':?')).map((r) => `${r.name}${r.rest}`);
    expect(withDefault).toEqual([]);
    // No secret written out: an environment entry named like a secret takes its value from a variable.
    const written: string[] = [];
    const anchors = Object.entries(compose).filter(([k]) => k.startsWith('x-'));
    const environments = [
      ...services.map(([name, s]) => [name, s.environment] as const),
      ...anchors.map(([name, v]) => [name, v] as const),
    ];
    for (const [where, env] of environments) {
      if (!env || typeof env !== 'object' || Array.isArray(env)) continue;
      for (const [k, v] of Object.entries(env as Record<string, unknown>))
        if (SECRET.test(k) && !/TELEMETRY/.test(k) && typeof v === 'string' && v !== '' && !v.includes('${'))
          written.push(`${where}: ${k}=${v}`);
    }
    expect(written).toEqual([]);
  });

  test('.env.example gives no working value for any secret', () => {
    const example = fs.readFileSync(path.join(projectRoot, '.env.example'), 'utf8');
    const lines = example.split('\n').filter((l) => /^[A-Z0-9_]+=/.test(l));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const [name, value] = [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)];
      if (!SECRET.test(name)) continue;
      // API_KEYS shows its shape with an empty key, which the API refuses (keys are 16 characters or more).
      if (name === 'API_KEYS') expect(value).not.toMatch(/"key":"[^"]/);
      else expect(`${name}=${value}`).toBe(`${name}=`);
    }
  });

  test('only the API and console is published on the network; every other published port is on loopback', () => {
    const published = services.flatMap(([name, s]) =>
      (s.ports ?? []).map((p) => ({
        name,
        host: typeof p === 'string' ? p.split(':').slice(0, -2).join(':') : p.host_ip,
      })),
    );
    expect(published.filter((p) => p.host !== '127.0.0.1').map((p) => p.name)).toEqual(['api']);
    // The premise: the other consoles are there, on loopback.
    expect(published.map((p) => p.name)).toEqual(expect.arrayContaining(['temporal', 'temporal-ui', 'langfuse-web']));
  });

  test('every image is pinned to a version (or a digest), never latest or a bare name', () => {
    const floating: string[] = [];
    for (const [name, s] of services) {
      if (!s.image) {
        expect(s.build).toBeDefined(); // ours, built from the Dockerfile
        continue;
      }
      // A tag from a variable must default to a version: `temporalio/server:${TEMPORAL_VERSION:-1.31.2}`.
      const image = s.image.replace(/\$\{[A-Z_]+:-([^}]+)\}/g, '$1');
      const digest = /@sha256:[0-9a-f]{64}$/.test(image);
      const tag = /:([^/:@]+)$/.exec(image)?.[1];
      if (!digest && !(tag && /^v?\d+(\.\d+)+/.test(tag))) floating.push(`${name}: ${s.image}`);
    }
    expect(floating).toEqual([]);
  });

  test("Langfuse's telemetry is off", () => {
    const langfuse = services.filter(([, s]) => s.image?.startsWith('langfuse/'));
    expect(langfuse.length).toBe(2);
    // Each service's own environment, with the shared x-langfuse-env merged in.
    for (const [, s] of langfuse)
      expect(s.environment).toMatchObject({ TELEMETRY_ENABLED: 'false', NEXT_TELEMETRY_DISABLED: '1' });
  });
});
