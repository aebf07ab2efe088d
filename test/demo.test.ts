import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/config';
import { freePort } from '../src/temporal/devServer';
import { batchWorkflowId } from '../src/workflowIds';
import { tempDir, temporalCli, uniqueName } from './support/harness';
import { payloadEncodings, runScript } from './support/processes';

/**
 * `npm run demo` on the embedded defaults, as a newcomer runs it (no PAYLOAD_KEYS): it shows the outcome loop the
 * README shows (a decline re-offered, the outcome report), encrypts by default, creating its key file once, and
 * prints the codec server's address beside the Web UI's. It runs on the test
 * run's Temporal server (so it starts none), with its own task queue, database, key file and ports.
 */

describe('npm run demo', () => {
  test('shows the outcome loop and encrypts by default: it creates its key file (0600, said once, never the key), its runs hold only ciphertext under that key, and it prints the codec server next to the Web UI', async () => {
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
    });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });

    // The outcome loop as the README shows it: simulated patients (said so), A001 declines P001 and is re-offered
    // the next best (P004), which she accepts; A002 accepts; both visits scored; the run's outcome figures.
    expect(r.stdout).toMatch(/Patients answer their new slots \(simulated patients: .*not real patients\)/);
    expect(r.stdout).toMatch(/^ {2}A001: offer 1 \(P001, excellent\) declined → the slot is released and re-offered$/m);
    const reoffer = /^ {2}A001: re-offered P004 \(score \d+, excellent\) by (follow-up-A001-\S+)$/m.exec(r.stdout);
    expect(reoffer).not.toBeNull();
    expect(r.stdout).toMatch(/^ {2}A001: offer 2 \(P004, excellent\) accepted → the visit stands$/m);
    expect(r.stdout).toMatch(/^ {2}A002: offer 1 \(P001, good\) accepted → the visit stands$/m);
    expect(r.stdout).toMatch(/^ {2}A001: the visit with P004 scored [1-5]\/5$/m);
    expect(r.stdout).toMatch(
      /^ {4}offers 3 to 2 patients · accepted 2\/3 = 67% \(95% interval \d+%–\d+%, a small sample\)$/m,
    );
    expect(r.stdout).toMatch(
      /^ {4}satisfaction \d\.\d\/5 \(n=2\) · escalations \d+ · offers per offered patient 1\.50$/m,
    );
    expect(r.stdout).toMatch(/Prompt-driven and code-driven agree on every appointment/);

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
    const runs = [promptRun!, batchWorkflowId(promptRun!, 1), codeRun, batchWorkflowId(codeRun, 1), reoffer![1]!];
    for (const id of runs) {
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
  }, 240_000);
});
