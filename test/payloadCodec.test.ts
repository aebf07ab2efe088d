import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { FastifyRequest } from 'fastify';
import { ApiKeys } from '../src/api/auth';
import { buildCodecServer } from '../src/codecServer/server';
import { CodecSessions, SESSION_COOKIE } from '../src/codecServer/signIn';
import { ConfigError } from '../src/config';
import { loadPseudonymKey, PatientPseudonyms, pseudonymsFor } from '../src/langfuse/patientPseudonyms';
import { EncryptionCodec, KEY_ID_METADATA, keyIdOf } from '../src/temporal/codec/encryptionCodec';
import { Keyring, loadKeyring } from '../src/temporal/codec/keyring';
import { codecFor, dataConverterFor } from '../src/temporal/dataConverter';

/**
 * The payload codec without Temporal: AES-256-GCM with the key id in the metadata, rotation, a missing key, the
 * keyring's configuration and its default file, and the codec server's CORS, authentication and roles; and the
 * other key, that of the patient id pseudonyms in traces.
 */

const key = () => randomBytes(32).toString('base64');
const ring = (current: string, keys: Record<string, string>) =>
  Keyring.parse(JSON.stringify({ current, keys }), 'test');
const patient = { name: 'Maria Lopez', notes: 'Knee follow-up after surgery.', patient_id: 'PAT001' };
const plain = () => defaultPayloadConverter.toPayload(patient);
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'codec-unit-'));

describe('the encryption codec', () => {
  const k1 = key();
  const k2 = key();

  test('encrypts each payload under the current key id, with a fresh nonce, and decrypts it back', async () => {
    const codec = new EncryptionCodec(ring('k1', { k1 }));
    const [a, b] = await codec.encode([plain(), plain()]);
    for (const p of [a!, b!]) {
      expect(keyIdOf(p)).toBe('k1');
      expect(Buffer.from(p.data!).toString('latin1')).not.toMatch(/Maria|Knee|PAT001|json/);
    }
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
    const [back] = await codec.decode([a!]);
    expect(defaultPayloadConverter.fromPayload(back!)).toEqual(patient);
  });

  test('passes through payloads recorded without encryption (old histories, a CLI signal)', async () => {
    const codec = new EncryptionCodec(ring('k1', { k1 }));
    const p = plain();
    expect(await codec.decode([p])).toEqual([p]);
  });

  test('after rotation, the old key still decrypts what it wrote and the new key encrypts', async () => {
    const [old] = await new EncryptionCodec(ring('k1', { k1 })).encode([plain()]);
    const rotated = new EncryptionCodec(ring('k2', { k1, k2 }));
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!)).toEqual(patient);
    expect(keyIdOf((await rotated.encode([plain()]))[0]!)).toBe('k2');
  });

  test('a missing key fails with the key id named, told once per key id, without payload data', async () => {
    const [sealed] = await new EncryptionCodec(ring('k2', { k2 })).encode([plain()]);
    const told: string[] = [];
    const codec = new EncryptionCodec(ring('k1', { k1 }), { onMissingKey: (l) => told.push(l) });
    const context = { type: 'workflow' as const, namespace: 'default', workflowId: 'reassign-T001-x' };
    await expect(codec.decode([sealed!], context)).rejects.toThrow(/key id "k2", which is not in the keyring/);
    await expect(codec.decode([sealed!], context)).rejects.toThrow(/"k2"/);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/reassign-T001-x.*"k2"/);
    expect(told[0]).not.toMatch(/Maria|PAT001/);
  });

  test('a payload altered in storage, or a different key under the same id, does not decrypt', async () => {
    const [sealed] = await new EncryptionCodec(ring('k1', { k1 })).encode([plain()]);
    const altered: Payload = { ...sealed!, data: Buffer.from(sealed!.data!).fill(7, 20, 21) };
    const codec = new EncryptionCodec(ring('k1', { k1 }));
    await expect(codec.decode([altered])).rejects.toThrow(/does not decrypt/);
    await expect(new EncryptionCodec(ring('k1', { k1: k2 })).decode([sealed!])).rejects.toThrow(/does not decrypt/);
    // The key id is authenticated too: relabelling a payload with another id does not pass.
    const relabelled = { ...sealed!, metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
    await expect(new EncryptionCodec(ring('k1', { k1, k2: k1 })).decode([relabelled])).rejects.toThrow(
      /does not decrypt/,
    );
  });
});

describe('the keyring configuration', () => {
  const settings = (PAYLOAD_KEYS?: string, file = path.join(tmp(), 'keys.json')) => ({
    PAYLOAD_KEYS,
    PAYLOAD_KEY_FILE: file,
  });

  test.each([
    ['not JSON', 'nope', /PAYLOAD_KEYS is not JSON/],
    ['an unknown current key id', JSON.stringify({ current: 'k9', keys: { k1: key() } }), /current key id is not one/],
    ['a short key', JSON.stringify({ current: 'k1', keys: { k1: 'c2hvcnQ=' } }), /32 bytes in base64/],
    ['a bad key id', JSON.stringify({ current: 'a b', keys: { 'a b': key() } }), /key ids are/],
    ['an unreadable file', '@/nonexistent/keys.json', /PAYLOAD_KEYS file \/nonexistent\/keys.json cannot be read/],
  ])('%s is one ConfigError line that names PAYLOAD_KEYS and never the key', (_, raw, pattern) => {
    let error: unknown;
    try {
      loadKeyring(settings(raw));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(pattern);
    expect((error as Error).message).toMatch(/^invalid configuration: PAYLOAD_KEYS/);
    expect((error as Error).message.split('\n')).toHaveLength(1);
  });

  test('PAYLOAD_KEYS may name a file with @', () => {
    const file = path.join(tmp(), 'ring.json');
    fs.writeFileSync(file, JSON.stringify({ current: 'k1', keys: { k1: key() } }));
    expect(loadKeyring(settings(`@${file}`)).keyring.currentId).toBe('k1');
  });

  test('without PAYLOAD_KEYS, a local key file is created once with mode 0600, said once, never showing the key', () => {
    const file = path.join(tmp(), 'data', 'payload-keys.json');
    const said: string[] = [];
    const config = { PAYLOAD_ENCRYPTION: 'on' as const, PAYLOAD_KEYS: undefined, PAYLOAD_KEY_FILE: file };
    dataConverterFor(config, { say: (l) => said.push(l) });
    dataConverterFor(config, { say: (l) => said.push(l) });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { current: string; keys: Record<string, string> };
    expect(Buffer.from(doc.keys[doc.current]!, 'base64')).toHaveLength(32);
    expect(said).toEqual([expect.stringContaining(`created a payload encryption key in ${file}`)]);
    expect(said.join('')).not.toContain(doc.keys[doc.current]);
    // A second process (a fresh load) reads the same key and says nothing.
    const again = loadKeyring({ PAYLOAD_KEY_FILE: file });
    expect(again.created).toBeUndefined();
    expect(again.keyring.currentId).toBe(doc.current);
  });

  // Before the next test: the warning is said once per process.
  test('PAYLOAD_ENCRYPTION=off without any keyring: no codec, and a warning', () => {
    const said: string[] = [];
    const off = {
      PAYLOAD_ENCRYPTION: 'off' as const,
      PAYLOAD_KEYS: undefined,
      PAYLOAD_KEY_FILE: path.join(tmp(), 'never.json'),
    };
    expect(codecFor(off, { say: (l) => said.push(l) })).toBeUndefined();
    expect(dataConverterFor(off).payloadCodecs).toEqual([]);
    expect(said).toEqual([expect.stringMatching(/^warning: PAYLOAD_ENCRYPTION=off/)]);
    expect(fs.existsSync(off.PAYLOAD_KEY_FILE)).toBe(false);
  });

  test('PAYLOAD_ENCRYPTION=off with a keyring: nothing new is encrypted, what was encrypted is still read', async () => {
    const settings = {
      PAYLOAD_KEYS: JSON.stringify({ current: 'k1', keys: { k1: key() } }),
      PAYLOAD_KEY_FILE: '/nonexistent/keys.json',
    };
    const on = codecFor({ ...settings, PAYLOAD_ENCRYPTION: 'on' })!;
    const off = codecFor({ ...settings, PAYLOAD_ENCRYPTION: 'off' }, { say: () => undefined })!;
    const [sealed] = await on.encode([plain()]);
    expect(defaultPayloadConverter.fromPayload((await off.decode([sealed!]))[0]!)).toEqual(patient);
    expect(await off.encode([plain()])).toEqual([plain()]);
  });
});

describe('the codec server', () => {
  const k1 = key();
  const UI = 'http://localhost:8233';
  const VIEWER = 'viewer-key-0123456789';
  const OPERATOR = 'operator-key-0123456789';
  const AUDITOR = 'auditor-key-0123456789';
  const GATEWAY = 'gateway-key-0123456789';
  const keys = ApiKeys.fromSetting(
    JSON.stringify([
      { name: 'vera', key: VIEWER, role: 'viewer' },
      { name: 'otto', key: OPERATOR, role: 'operator' },
      { name: 'aude', key: AUDITOR, role: 'auditor' },
      { name: 'gate', key: GATEWAY, role: 'gateway' },
    ]),
  );
  const logged: string[] = [];
  const server = () =>
    buildCodecServer({
      codec: new EncryptionCodec(ring('k1', { k1 })),
      keys,
      allowedOrigins: [UI],
      log: (l) => logged.push(l),
    });
  const asJson = (p: Payload) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
    data: Buffer.from(p.data!).toString('base64'),
  });

  test('decodes what the codec encoded, for an operator, and logs who asked but not what', async () => {
    const app = await server();
    const [sealed] = await new EncryptionCodec(ring('k1', { k1 })).encode([plain()]);
    const r = await app.inject({
      method: 'POST',
      url: '/decode',
      headers: { authorization: `Bearer ${OPERATOR}`, 'x-namespace': 'default', origin: UI },
      payload: { payloads: [asJson(sealed!)] },
    });
    expect(r.statusCode).toBe(200);
    expect(r.headers['access-control-allow-origin']).toBe(UI);
    const out = (r.json() as { payloads: { data: string }[] }).payloads[0]!;
    expect(JSON.parse(Buffer.from(out.data, 'base64').toString('utf8'))).toEqual(patient);
    expect(logged.at(-1)).toBe('codec server: decode by otto (operator): 1 payload(s), namespace default');
    await app.close();
  });

  test('decode and encode need an operator (a viewer, an auditor or a gateway sees no patient data); no key or an unknown key is a 401', async () => {
    const app = await server();
    const payload = { payloads: [asJson(plain())] };
    const post = (headers: Record<string, string>, url = '/encode') =>
      app.inject({ method: 'POST', url, headers, payload });
    for (const [role, key] of [
      ['viewer', VIEWER],
      ['auditor', AUDITOR],
      ['gateway', GATEWAY],
    ])
      for (const url of ['/encode', '/decode']) {
        const r = await post({ authorization: `Bearer ${key}` }, url);
        expect({ role, url, status: r.statusCode }).toEqual({ role, url, status: 403 });
        expect((r.json() as { error: string }).error).toBe(
          `the ${role} role may not do this: it needs the operator role`,
        );
      }
    expect(logged.filter((l) => /decode by (vera|aude|gate)/.test(l))).toEqual([]);
    expect((await post({})).statusCode).toBe(401);
    expect((await post({}, '/decode')).statusCode).toBe(401);
    expect((await post({ authorization: 'Bearer not-a-known-key-at-all' })).statusCode).toBe(401);
    const ok = await post({ 'x-api-key': OPERATOR });
    expect(ok.statusCode).toBe(200);
    const enc = (ok.json() as { payloads: { metadata: Record<string, string> }[] }).payloads[0]!;
    expect(Buffer.from(enc.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
    await app.close();
  });

  test('CORS: the Web UI origin gets its preflight answered, any other origin is refused', async () => {
    const app = await server();
    const preflight = (origin: string) =>
      app.inject({
        method: 'OPTIONS',
        url: '/decode',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-namespace' },
      });
    const ok = await preflight(UI);
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe(UI);
    expect(String(ok.headers['access-control-allow-headers'])).toContain('x-namespace');
    const evil = await preflight('https://evil.example');
    expect(evil.statusCode).toBe(403);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const post = await app.inject({
      method: 'POST',
      url: '/decode',
      headers: { origin: 'https://evil.example', authorization: `Bearer ${OPERATOR}` },
      payload: { payloads: [] },
    });
    expect(post.statusCode).toBe(403);
    await app.close();
  });

  test('a browser signs in with its API key and decodes with the session cookie, as that person and role; sign-out ends it', async () => {
    const app = await server();
    const [sealed] = await new EncryptionCodec(ring('k1', { k1 })).encode([plain()]);
    const signIn = (key: string, origin = 'http://localhost:8089') =>
      app.inject({
        method: 'POST',
        url: '/sign-in',
        headers: { host: 'localhost:8089', origin, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ key }).toString(),
      });
    const decode = (cookie?: string) =>
      app.inject({
        method: 'POST',
        url: '/decode?preserveStorageRefs=true',
        headers: { origin: UI, ...(cookie ? { cookie } : {}) },
        payload: { payloads: [asJson(sealed!)] },
      });
    const cookieOf = (r: { headers: Record<string, unknown> }) => String(r.headers['set-cookie']).split(';')[0]!;

    const form = await app.inject({ method: 'GET', url: '/sign-in' });
    expect(form.headers['content-type']).toMatch(/text\/html/);
    expect(form.body).toContain('name="key"');
    const refused = await signIn('not-a-known-key-at-all');
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['set-cookie']).toBeUndefined();
    expect((await signIn(OPERATOR, 'https://evil.example')).statusCode).toBe(403);

    const otto = await signIn(OPERATOR);
    expect(otto.statusCode).toBe(200);
    expect(String(otto.headers['set-cookie'])).toMatch(
      /^codec_session=[\w-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=28800$/,
    );
    expect(String(otto.headers['set-cookie'])).not.toContain(OPERATOR);
    expect(logged.at(-1)).toBe('codec server: sign-in by otto (operator)');
    const decoded = await decode(cookieOf(otto));
    expect(decoded.statusCode).toBe(200);
    expect(decoded.headers['access-control-allow-credentials']).toBe('true');
    const out = (decoded.json() as { payloads: { data: string }[] }).payloads[0]!;
    expect(JSON.parse(Buffer.from(out.data, 'base64').toString('utf8'))).toEqual(patient);
    expect(logged.at(-1)).toBe('codec server: decode by otto (operator): 1 payload(s), namespace -');

    expect((await decode(cookieOf(await signIn(VIEWER)))).statusCode).toBe(403);
    expect((await decode()).statusCode).toBe(401);
    expect((await decode('codec_session=forged-token')).statusCode).toBe(401);
    await app.inject({ method: 'POST', url: '/sign-out', headers: { cookie: cookieOf(otto) } });
    expect((await decode(cookieOf(otto))).statusCode).toBe(401);
    await app.close();
  });

  test('a session ends after 8 hours', () => {
    let now = 0;
    const sessions = new CodecSessions(() => now);
    const token = sessions.open({ name: 'otto', role: 'operator' });
    const request = { headers: { cookie: `theme=dark; ${SESSION_COOKIE}=${token}` } } as unknown as FastifyRequest;
    now = 8 * 3_600_000 - 1;
    expect(sessions.principalOf(request)).toEqual({ name: 'otto', role: 'operator' });
    now = 8 * 3_600_000;
    expect(sessions.principalOf(request)).toBeUndefined();
  });

  test('a payload under a key it does not hold is a one-line 400 naming the key id', async () => {
    const app = await server();
    const [sealed] = await new EncryptionCodec(ring('k7', { k7: key() })).encode([plain()]);
    const r = await app.inject({
      method: 'POST',
      url: '/decode',
      headers: { authorization: `Bearer ${OPERATOR}` },
      payload: { payloads: [asJson(sealed!)] },
    });
    expect(r.statusCode).toBe(400);
    expect((r.json() as { error: string }).error).toMatch(/key id "k7"/);
    const bad = await app.inject({
      method: 'POST',
      url: '/decode',
      headers: { authorization: `Bearer ${OPERATOR}` },
      payload: { nope: 1 },
    });
    expect(bad.statusCode).toBe(400);
    // Protobuf's JSON for no payloads at all, as the Temporal CLI sends it.
    const none = await app.inject({
      method: 'POST',
      url: '/decode',
      headers: { authorization: `Bearer ${OPERATOR}` },
      payload: {},
    });
    expect(none.json()).toEqual({ payloads: [] });
    await app.close();
  });

  test('a malformed body (not JSON, empty, not a list of payloads, data not base64) is a 400 with one line', async () => {
    const app = await server();
    const bodies = ['{"payloads": [', '', '[1]', '{"payloads":[{"data":"not base64!"}]}', '{"payloads":"x"}'];
    for (const body of bodies) {
      const r = await app.inject({
        method: 'POST',
        url: '/decode',
        headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
        payload: body,
      });
      expect({ body, status: r.statusCode }).toEqual({ body, status: 400 });
      expect(Object.keys(r.json() as object)).toEqual(['error']);
      const { error } = r.json() as { error: string };
      expect(error).toMatch(/^invalid body: .*expected \{"payloads":/);
      expect(error.split('\n')).toHaveLength(1);
      // Who asks is checked before the body is read: without a key, or with a viewer's, the same body is a 401 or 403.
      for (const [headers, status] of [
        [{}, 401],
        [{ authorization: `Bearer ${VIEWER}` }, 403],
      ] as const) {
        const refused = await app.inject({
          method: 'POST',
          url: '/decode',
          headers: { ...headers, 'content-type': 'application/json' },
          payload: body,
        });
        expect({ body, status: refused.statusCode }).toEqual({ body, status });
      }
    }
    await app.close();
  });
});

describe('the patient id pseudonym key', () => {
  test('the same id, the same pseudonym (letters only, 64 bits); another id or another key, another one', () => {
    const k = Buffer.from(key(), 'base64');
    const a = new PatientPseudonyms(k);
    expect(a.of('PAT001')).toMatch(/^pt_[a-p]{16}$/);
    expect(new PatientPseudonyms(k).of('PAT001')).toBe(a.of('PAT001'));
    expect(a.of('PAT002')).not.toBe(a.of('PAT001'));
    expect(new PatientPseudonyms(Buffer.from(key(), 'base64')).of('PAT001')).not.toBe(a.of('PAT001'));
  });

  test('without PATIENT_ID_HMAC_KEY, a local key file is created once with mode 0600, said once, never showing the key', () => {
    const file = path.join(tmp(), 'data', 'patient-id-key');
    const said: string[] = [];
    const first = pseudonymsFor({ PATIENT_ID_KEY_FILE: file }, (l) => said.push(l));
    const second = pseudonymsFor({ PATIENT_ID_KEY_FILE: file }, (l) => said.push(l));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const material = fs.readFileSync(file, 'utf8').trim();
    expect(Buffer.from(material, 'base64')).toHaveLength(32);
    expect(said).toEqual([expect.stringContaining(`created a patient id pseudonym key in ${file} (mode 0600)`)]);
    expect(said.join('')).not.toContain(material);
    expect(second.of('PAT001')).toBe(first.of('PAT001'));
    // The same key given in the environment, or from a file with @, gives the same pseudonyms.
    expect(
      pseudonymsFor({ PATIENT_ID_HMAC_KEY: material, PATIENT_ID_KEY_FILE: '/nonexistent' }, () => undefined).of(
        'PAT001',
      ),
    ).toBe(first.of('PAT001'));
    expect(
      loadPseudonymKey({ PATIENT_ID_HMAC_KEY: `@${file}`, PATIENT_ID_KEY_FILE: '/nonexistent' }).key.toString('base64'),
    ).toBe(material);
  });

  test('a bad key is one line naming the variable, without the key', () => {
    const short = randomBytes(16).toString('base64');
    const bad = () => loadPseudonymKey({ PATIENT_ID_HMAC_KEY: short, PATIENT_ID_KEY_FILE: '/nonexistent' });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(
      /^invalid configuration: PATIENT_ID_HMAC_KEY must be 32 bytes in base64 \(openssl rand -base64 32\)$/,
    );
    expect(() => loadPseudonymKey({ PATIENT_ID_HMAC_KEY: '@/nonexistent/key', PATIENT_ID_KEY_FILE: '/x' })).toThrow(
      /^invalid configuration: PATIENT_ID_HMAC_KEY file \/nonexistent\/key cannot be read$/,
    );
  });
});
