import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { RunningApi } from '../src/api/main';
import { projectRoot } from '../src/config';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { startHarness, startHarnessApi, type Harness, waitForProgress } from './support/harness';

/**
 * The operator console in a real browser (Debian's Chromium, driven by playwright-core): the seed example's
 * pending approval shows in the inbox, one click approves it, and the run completes with A002 → P001.
 */

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('the operator console in Chromium', () => {
  let h: Harness;
  let api: RunningApi;
  let browser: Browser;

  beforeAll(async () => {
    if (!fs.existsSync(executablePath))
      throw new Error(
        `no Chromium at ${executablePath}: apt-get install chromium (.ci/run does), or set CHROMIUM_PATH`,
      );
    h = await startHarness();
    api = await startHarnessApi(h);
    browser = await chromium.launch({
      executablePath,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await h?.close();
  });

  test('approve the pending A002 with a click and see the run complete with A002 → P001', async () => {
    const started = await fetch(`${api.url}/api/trigger-workflow-dynamic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider_id: 'T001', date: '2025-11-21', reason: 'sick' }),
    });
    const { workflow_id: id } = (await started.json()) as { workflow_id: string };
    await waitForProgress(h.client.workflow.getHandle(id), (p) => p.pending_approvals.length > 0);

    const page = await browser.newPage();
    await page.goto(api.url);
    await page.getByTestId('who').filter({ hasText: 'local operator' }).waitFor();
    const row = page.getByTestId('approval-A002');
    await row.waitFor();
    expect(await row.textContent()).toMatch(/P001.*129/);

    await page.getByTestId('approve-A002').click();
    await page.getByTestId('notice').filter({ hasText: 'A002 → P001: approved by local operator' }).waitFor();
    await page
      .getByTestId('run-status')
      .filter({ hasText: /^completed$/ })
      .waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('decision-A002').textContent()).toMatch(/→ P001.*129.*good.*prompt.*local operator/);
    expect(await page.getByTestId('decision-A003').textContent()).toMatch(/waitlist/);
    await page.getByTestId('approval-A002').waitFor({ state: 'detached' });

    fs.mkdirSync(path.join(projectRoot, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(projectRoot, 'test-results', 'console.png'), fullPage: true });
    const result: ReassignmentResult = await h.client.workflow.getHandle(id).result();
    expect(result.assignments.find((a) => a.appointment_id === 'A002')).toMatchObject({
      new_provider_id: 'P001',
      approved_by: 'local operator',
    });
  });
});
