import fs from 'node:fs';
import path from 'node:path';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { SchedulingStore } from '../src/domain/store';
import { startOfflineModel } from '../src/llm/offline/server';
import { progressQuery } from '../src/workflows/contract/signals';
import {
  promptsCopy,
  startHarness,
  storeEnv,
  tempDir,
  untilVisible,
  waitForProgress,
  type Harness,
} from './support/harness';
import { cliJson, expectOneLineError, runCli, runScript, scripts, type ProcessResult } from './support/processes';

/** Our CLI as a user runs it, and prompts as data: a file edit changes the next run, not a code change. */

/** The environment that points the CLI at a harness's Temporal server, task queue and database. */
function env(h: Harness | undefined): Record<string, string> {
  return h ? { TEMPORAL_ADDRESS: h.address, TASK_QUEUE: h.taskQueue, ...storeEnv(h.store) } : {};
}

function cli(h: Harness | undefined, args: string[], more: Record<string, string> = {}): Promise<ProcessResult> {
  return runCli(args, { ...env(h), ...more });
}

describe('the client CLI', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => h.reload());

  test('start --wait runs a reassignment and prints the summary', async () => {
    const r = await cli(h, [
      'start',
      '--provider',
      'T001',
      '--date',
      '2025-11-21',
      '--reason',
      'sick',
      '--label',
      'staging',
      '--wait',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as ReassignmentResult;
    expect(result).toMatchObject({
      status: 'completed',
      total_affected: 3,
      successful_assignments: 2,
      waitlist_entries: 1,
    });
    expect(result.workflow_id).toMatch(/^reassign-T001-2025-11-21-/);
  });

  test('start --until covers every day of the range', async () => {
    // T001 has three appointments on 2025-11-21 and one on 2025-11-22.
    const r = await cli(h, [
      'start',
      '-p',
      'T001',
      '-d',
      '2025-11-21',
      '--until',
      '2025-11-22',
      '--label',
      'staging',
      '--mode',
      'code',
      '--wait',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as ReassignmentResult;
    expect(result).toMatchObject({ status: 'completed', until: '2025-11-22', total_affected: 4 });
    expect([...result.assignments, ...result.waitlisted].map((d) => d.appointment_id).sort()).toEqual([
      'A001',
      'A002',
      'A003',
      'A011',
    ]);
  });

  /** Starts the seed example (prompt-driven, production prompt) from the CLI; returns once A002 awaits approval. */
  async function startSeedExample(name: string): Promise<string> {
    const id = `cli-${name}-${Date.now()}`;
    const started = await cli(h, ['start', '-p', 'T001', '-d', '2025-11-21', '--id', id]);
    expect(started.code).toBe(0);
    await waitForProgress(h.client.workflow.getHandle(id), (p) => p.pending_approvals.length > 0);
    return id;
  }

  test('list shows a started run, one line with its status, provider, date and prompt version', async () => {
    const id = await startSeedExample('list');
    const line = (r: ProcessResult) => r.stdout.split('\n').find((l) => l.startsWith(id));
    const listed = await untilVisible(
      () => cli(h, ['list']),
      (r) => !!line(r),
    );
    expect(listed.code).toBe(0);
    expect(line(listed)).toMatch(/^\S+ {2}running {2}T001 {2}2025-11-21 {2}prompt v3 {2}started \d{4}-\d{2}-\d{2}T/);
    await cli(h, ['cancel', id]);
  });

  test('list honours its filters, as the API does: provider, status, and --json', async () => {
    const id = await startSeedExample('list-filter');
    const ids = async (args: string[]) =>
      (await cliJson<{ workflow_id: string }[]>(['list', ...args], env(h))).map((r) => r.workflow_id);
    expect(
      await untilVisible(
        () => ids(['--provider', 'T001', '--status', 'running']),
        (l) => l.includes(id),
      ),
    ).toContain(id);
    expect(await ids(['--provider', 'T002'])).not.toContain(id);
    expect(await ids(['--status', 'completed'])).not.toContain(id);
    await cli(h, ['cancel', id]);
  });

  test('approve through the Update completes the seed example with A002 → P001, approved by the --by name', async () => {
    const id = await startSeedExample('approve');
    const status = await cli(h, ['status', id]);
    expect(status.stdout).toMatch(/awaiting approval: A002→P001 \(score 129\)/);
    const approved = await cli(h, ['approve', id, 'A002', '--by', 'nurse-jo']);
    expect(approved.code).toBe(0);
    expect(approved.stdout.trim()).toBe(`approved A002 → P001 in ${id} (by nurse-jo)`);
    const result = await cliJson<ReassignmentResult>(['result', id], env(h));
    expect(result.status).toBe('completed');
    expect(result.assignments.find((a) => a.appointment_id === 'A002')).toMatchObject({
      new_provider_id: 'P001',
      approved_by: 'nurse-jo',
    });
  });

  test('approve of an appointment that awaits nothing: the Update refuses in one line, exit 1, nothing decided', async () => {
    const id = await startSeedExample('approve-nothing');
    expectOneLineError(
      await cli(h, ['approve', id, 'A003']),
      new RegExp(`^error: A003 is not awaiting approval in ${id} \\(awaiting: A002\\)$`),
    );
    const progress = await h.client.workflow.getHandle(id).query(progressQuery);
    expect(progress.pending_approvals.map((p) => p.appointment_id)).toEqual(['A002']);
    await cli(h, ['cancel', id]);
  });

  test('approve twice: the second is refused in one line, exit 1, and the first decision stands', async () => {
    const id = await startSeedExample('approve-twice');
    expect((await cli(h, ['approve', id, 'A002', '--by', 'nurse-jo'])).code).toBe(0);
    await h.client.workflow.getHandle(id).result();
    expectOneLineError(
      await cli(h, ['reject', id, 'A002', '--by', 'someone-else']),
      new RegExp(`^error: ${id} has finished: it awaits no decision$`),
    );
    expect((await h.store.appointmentRecord('A002')).approvals).toEqual([
      expect.objectContaining({ decision: 'approved', decided_by: 'nurse-jo' }),
    ]);
  });

  test('cancel stops a running reassignment', async () => {
    const id = `cli-cancel-${Date.now()}`;
    await cli(h, ['start', '-p', 'T001', '-d', '2025-11-21', '--id', id]);
    await waitForProgress(h.client.workflow.getHandle(id), (p) => p.pending_approvals.length > 0);
    expect((await cli(h, ['cancel', id])).code).toBe(0);
    const result = JSON.parse((await cli(h, ['result', id, '--json'])).stdout) as ReassignmentResult;
    expect(result.status).toBe('cancelled');
  });

  test.each([
    ['a malformed date', ['start', '-p', 'T001', '-d', '2025-02-30'], /date "2025-02-30": not a calendar date/],
    ['a malformed provider id', ['start', '-p', 'nobody', '-d', '2025-11-21'], /provider "nobody"/],
    ['an unknown provider', ['start', '-p', 'T999', '-d', '2025-11-21'], /unknown provider T999/],
    ['a date with no appointments', ['start', '-p', 'T001', '-d', '2026-01-05'], /no appointments on 2026-01-05/],
    ['an unknown workflow', ['result', 'no-such-run'], /no reassignment with that workflow id/],
    ['approving in an unknown workflow', ['approve', 'no-such-run', 'A002'], /no reassignment with that workflow id/],
    ['list with an unknown status', ['list', '--status', 'done'], /status "done": Invalid option: expected one of/],
    ['list with a malformed date', ['list', '--date', '2025-02-30'], /date "2025-02-30": not a calendar date/],
    ['list with a malformed provider id', ['list', '--provider', 'nobody'], /provider "nobody"/],
    ['list with a limit out of range', ['list', '--limit', '0'], /limit "0"/],
    ['an unknown mode', ['start', '-p', 'T001', '-d', '2025-11-21', '--mode', 'magic'], /magic/],
    [
      'a range that ends before it starts',
      ['start', '-p', 'T001', '-d', '2025-11-21', '--until', '2025-11-20'],
      /--until 2025-11-20 must be on or after --date 2025-11-21/,
    ],
    [
      'a range over 31 days',
      ['start', '-p', 'T001', '-d', '2025-11-21', '--until', '2026-01-21'],
      /--until 2026-01-21 must be at most 31 days from --date 2025-11-21/,
    ],
  ])('%s: one clear line and a non-zero exit', async (_name, args, message) => {
    expectOneLineError(await cli(h, args as string[]), message as RegExp);
  });

  test('audit: exit 0 on a sound database, non-zero listing each violation after tampering', async () => {
    await h.run('codeDrivenReassignment', { providerId: 'T001', date: '2025-11-21', promptLabel: 'staging' });
    const clean = await cli(h, ['audit']);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/2 assignments, 1 waitlisted, 3 notifications; 0 violation\(s\)/);
    await h.store.unsafeExecute("UPDATE appointments SET provider_id = 'T001' WHERE id = 'A001'");
    const broken = await cli(h, ['audit']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/violation: assignment not reflected in the appointment: .*A001/);
  });

  test('audit: a run recorded as running whose workflow was terminated is a violation naming it, exit 1', async () => {
    const id = await startSeedExample('audit-terminated');
    await h.client.workflow.getHandle(id).terminate('test: the workflow dies without recording its outcome');
    const r = await cli(h, ['audit']);
    expect(r.code).toBe(1);
    const line = r.stdout
      .split('\n')
      .find((l) => l.startsWith('violation: run recorded as running without a live workflow: '));
    expect(line).toContain(`"run_id":"${id}"`);
    expect(line).toContain('"workflow":"terminated"');
  });

  test('audit: a run recorded as running whose workflow still runs (awaiting approval) is not flagged', async () => {
    const id = await startSeedExample('audit-live');
    expect((await h.store.runsMarkedRunning()).map((run) => run.run_id)).toEqual([id]);
    const r = await cli(h, ['audit']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/^violation:/m);
    expect(r.stdout).toMatch(/; 0 violation\(s\)/);
    await cli(h, ['cancel', id]);
  });

  test('audit without a reachable Temporal server: a note that running runs went unchecked; the exit code judges the database alone', async () => {
    await h.store.recordRunStart({ runId: 'audit-unreachable-run', providerId: 'T001', date: '2025-11-21' });
    const r = await cli(h, ['audit'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(r.stdout).toMatch(/^note: 1 run\(s\) recorded as running were not checked: .*127\.0\.0\.1:1/m);
    expect(r.stdout).toMatch(/; 0 violation\(s\)/);
    expect(r.code).toBe(0);
  });

  test('an empty scheduling database: one clear line', async () => {
    const empty = path.join(tempDir('empty'), 'scheduling.db');
    await (await SchedulingStore.open(empty)).close();
    expectOneLineError(
      await cli(h, ['start', '-p', 'T001', '-d', '2025-11-21'], { DB_PATH: empty }),
      /scheduling database is empty: load data first \(npm run seed\)/,
    );
  });

  test('a prompt file that does not parse, or a label that does not exist: one clear line, nothing started', async () => {
    const broken = promptsCopy();
    fs.writeFileSync(
      path.join(broken, 'healthcare-orchestrator.yaml'),
      'name: healthcare-orchestrator\nversions: [\n  - {version: 1\n',
    );
    expectOneLineError(
      await cli(h, ['start', '-p', 'T001', '-d', '2025-11-21'], { PROMPTS_DIR: broken }),
      /prompt file .*healthcare-orchestrator.yaml is not valid YAML/,
    );
    expectOneLineError(
      await cli(h, ['start', '-p', 'T001', '-d', '2025-11-21', '--label', 'nosuch']),
      /prompt "healthcare-orchestrator" has no version labelled "nosuch"/,
    );
    expect(await h.store.unavailability('T001', '2025-11-21')).toBeUndefined();
  });

  test('a worker whose API key the model endpoint refuses: one clear line and a non-zero exit', async () => {
    const endpoint = await startOfflineModel({ faults: [{ mode: 'unauthorized' }] });
    try {
      const r = await runScript(scripts.worker, [], {
        TEMPORAL_ADDRESS: h.address,
        TASK_QUEUE: h.taskQueue,
        OPENAI_BASE_URL: endpoint.url,
        OPENAI_API_KEY: 'sk-wrong',
      });
      expectOneLineError(r, /worker: the LLM endpoint refused the API key \(401\): check OPENAI_API_KEY/);
    } finally {
      await endpoint.close();
    }
  });

  test('a worker with a bad fault-mode setting: one clear line', async () => {
    expectOneLineError(
      await runScript(scripts.worker, [], {
        TEMPORAL_ADDRESS: h.address,
        OFFLINE_MODEL_FAULTS: '[{"mode":"gremlins"}]',
      }),
      /invalid configuration: OFFLINE_MODEL_FAULTS must be a JSON list/,
    );
  });

  test('no server: one clear line and a non-zero exit', async () => {
    expectOneLineError(
      await cli(undefined, ['status', 'x'], { TEMPORAL_ADDRESS: '127.0.0.1:1' }),
      /cannot reach the Temporal server at 127.0.0.1:1/,
    );
  });

  test('a mistake in start is told as such when no server answers either', async () => {
    expectOneLineError(
      await cli(h, ['start', '-p', 'T999', '-d', '2025-11-21'], { TEMPORAL_ADDRESS: '127.0.0.1:1' }),
      /unknown provider T999/,
    );
  });

  test('a bad setting: one clear line', async () => {
    expectOneLineError(
      await cli(undefined, ['status', 'x'], { TEMPORAL_ADDRESS: 'not an address' }),
      /invalid configuration: TEMPORAL_ADDRESS/,
    );
  });
});

describe('prompts as data', () => {
  test('moving the production label in the prompt file changes the next run, with no code change', async () => {
    const h = await startHarness({ editPrompts: () => undefined });
    try {
      const first = await h.start('promptDrivenReassignment', { providerId: 'T001', date: '2025-11-21' });
      await waitForProgress(first, (p) => p.pending_approvals.length > 0);
      // While the first run waits, production moves to version 2 on disk.
      const file = path.join(h.promptsDir, 'healthcare-orchestrator.yaml');
      fs.writeFileSync(
        file,
        fs
          .readFileSync(file, 'utf8')
          .replace(/labels:\n\s+- production/, 'labels: []')
          .replace(/labels:\n\s+- staging/, 'labels:\n      - staging\n      - production'),
      );
      await first.signal('approve', { appointmentId: 'A002' });
      const firstResult: ReassignmentResult = await first.result();
      expect(firstResult.prompt.orchestrator.version).toBe(3);
      expect(firstResult.approvals.requested).toBe(1);
      await h.reload();
      const second = await h.run('promptDrivenReassignment', { providerId: 'T001', date: '2025-11-21' });
      expect(second.prompt.orchestrator).toMatchObject({ version: 2, label: 'production' });
      expect(second.approvals.requested).toBe(0);
    } finally {
      await h.close();
    }
  });
});
