import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/config';
import { freePort } from '../src/temporal/devServer';
import { batchWorkflowId } from '../src/workflowIds';
import { tempDir, temporalCli, uniqueName } from './support/harness';
import { payloadEncodings, runScript } from './support/processes';

/**
 * `npm run demo` on the embedded defaults, as a newcomer runs it (no PAYLOAD_KEYS): it encrypts by default,
 * creating its key file once, and prints the codec server's address beside the Web UI's. It runs on the test
 * run's Temporal server (so it starts none), with its own task queue, database, key file and ports.
 */

describe('npm run demo', () => {
  test('encrypts by default: it creates its key file (0600, said once, never the key), its runs hold only ciphertext under that key, and it prints the codec server next to the Web UI', async () => {
    const dir = tempDir('demo');
    const keyFile = path.join(dir, 'payload-keys.json');
    const codecPort = await freePort();
    const r = await runScript(path.join(projectRoot, 'scripts', 'demo.ts'), [], {
      TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS!,
      TASK_QUEUE: uniqueName('demo'),
      DB_PATH: path.join(dir, 'demo.db'),
      API_PORT: '0',
      CODEC_PORT: String(codecPort),
      // The defaults: no keyring configured (the test run's is unset here), a key file of its own.
      PAYLOAD_KEYS: '',
      PAYLOAD_KEY_FILE: keyFile,
      // The patients' answers are the outcome tests' subject; the demo's runs end at the notification.
      PATIENT_FOLLOW_UP: 'off',
    });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });

    // The key file, made once, owner-only, announced once by its path, its key never printed.
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    const ring = JSON.parse(fs.readFileSync(keyFile, 'utf8')) as { current: string; keys: Record<string, string> };
    const said = `${r.stdout}\n${r.stderr}`;
    expect(said.split(`created a payload encryption key in ${keyFile} (mode 0600)`)).toHaveLength(2);
    for (const key of Object.values(ring.keys)) expect(said).not.toContain(key);
    expect(said).not.toContain('PAYLOAD_ENCRYPTION=off');

    // The codec server's address on the line after the Web UI's.
    const lines = r.stdout.split('\n');
    const ui = lines.findIndex((l) => l.startsWith('Temporal Web UI: http://'));
    expect(ui).toBeGreaterThanOrEqual(0);
    expect(lines[ui + 1]).toMatch(new RegExp(`^Codec server: +http://127\\.0\\.0\\.1:${codecPort} `));

    // Both runs (and their batches) as the Temporal server stores them: every payload encrypted, under that key.
    const promptRun = /\/workflows\/(reassign-\S+-prompt-\S+)/.exec(r.stdout)?.[1];
    expect(promptRun).toBeDefined();
    const codeRun = promptRun!.replace('-prompt-', '-code-');
    for (const id of [promptRun!, batchWorkflowId(promptRun!, 1), codeRun, batchWorkflowId(codeRun, 1)]) {
      const shown = await temporalCli(process.env.TEST_TEMPORAL_ADDRESS!, [
        'workflow',
        'show',
        '--workflow-id',
        id,
        '--output',
        'json',
      ]);
      expect(shown.code).toBe(0);
      const encodings = payloadEncodings(shown.stdout);
      expect(encodings.length).toBeGreaterThan(5);
      expect(new Set(encodings)).toEqual(new Set(['binary/encrypted']));
      expect(shown.stdout).toContain(Buffer.from(ring.current).toString('base64'));
      expect(shown.stdout).not.toMatch(/Maria Lopez|PAT00\d/);
    }
  }, 120_000);
});
