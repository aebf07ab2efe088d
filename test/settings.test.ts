import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiKeys } from '../src/api/auth';
import { ConfigError, loadConfig } from '../src/config';

/** Settings that hold JSON or `@file` (API_KEYS, PROMPT_EXPERIMENT): one line naming the setting on every mistake. */

const operatorKey = { name: 'alice', key: 'k'.repeat(20), role: 'operator' };

test('API_KEYS: JSON inline or from a file gives the principals; the key identifies its owner only', () => {
  const inline = ApiKeys.fromSetting(JSON.stringify([operatorKey]))!;
  expect(inline.identify('k'.repeat(20))).toEqual({ name: 'alice', role: 'operator' });
  expect(inline.identify('x'.repeat(20))).toBeUndefined();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settings-'));
  try {
    const file = path.join(dir, 'keys.json');
    fs.writeFileSync(file, JSON.stringify([{ ...operatorKey, role: 'viewer' }]));
    expect(ApiKeys.fromSetting(`@${file}`)!.identify('k'.repeat(20))).toEqual({ name: 'alice', role: 'viewer' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  expect(ApiKeys.fromSetting(undefined)).toBeUndefined();
});

test.each([
  ['not JSON', '{nope', /^invalid configuration: API_KEYS is not JSON, e\.g\. \[/],
  [
    'an unreadable file',
    '@/nonexistent/keys.json',
    /^invalid configuration: API_KEYS file \/nonexistent\/keys\.json cannot be read$/,
  ],
  [
    'a short key',
    JSON.stringify([{ ...operatorKey, key: 'short' }]),
    /^invalid configuration: API_KEYS .*at least 16 characters/,
  ],
  ['an unknown role', JSON.stringify([{ ...operatorKey, role: 'root' }]), /^invalid configuration: API_KEYS .*role/],
])('API_KEYS with %s is one line naming the setting', (_what, raw, message) => {
  let thrown: unknown;
  try {
    ApiKeys.fromSetting(raw);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  expect((thrown as Error).message).toMatch(message);
  expect((thrown as Error).message).not.toContain('\n');
});

test('PROMPT_EXPERIMENT goes through the same reader: not JSON is one line with an example', () => {
  expect(() => loadConfig({ PROMPT_EXPERIMENT: '{nope' })).toThrow(
    /^invalid configuration: PROMPT_EXPERIMENT is not JSON, e\.g\. \{"name":"exp1"/,
  );
});
