import fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { RunningApi } from '../src/api/main';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { startHarness, startHarnessApi, type Harness, waitForProgress } from './support/harness';

/**
 * The scheduler's inbox and run page in Chromium: what an approval is about (the appointment, the patient for an
 * operator, the band, the six factors, the next-best colleagues, the deadline with its time zone, a countdown and
 * what happens when it passes), approving a filtered selection, a confirmation before a cancel, the needs-attention
 * list with its one-click new run, a preview that writes nothing, and who started each run.
 */

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe("the scheduler's console in Chromium", () => {
  let h: Harness;
  let api: RunningApi;
  let browser: Browser;
  let page: Page;
  const start = async (body: Record<string, unknown> = {}) => {
    const r = await fetch(`${api.url}/api/trigger-workflow-dynamic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider_id: 'T001', date: '2025-11-21', reason: 'sick', ...body }),
    });
    return ((await r.json()) as { workflow_id: string }).workflow_id;
  };
  const handle = (id: string) => h.client.workflow.getHandle(id);

  beforeAll(async () => {
    if (!fs.existsSync(executablePath))
      throw new Error(
        `no Chromium at ${executablePath}: apt-get install chromium (.ci/run does), or set CHROMIUM_PATH`,
      );
    h = await startHarness();
    api = await startHarnessApi(h);
    browser = await chromium.launch({
      executablePath,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
    });
  });
  beforeEach(async () => {
    await h.reload();
    page = await browser.newPage({ timezoneId: 'Europe/Berlin' });
  });
  afterEach(async () => page?.close());
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await h?.close();
  });

  test('an approval explained: appointment, patient, band, factors, next best, deadline with zone, countdown, outcome', async () => {
    const id = await start();
    await waitForProgress(handle(id), (p) => p.pending_approvals.length > 0);
    await page.goto(api.url);
    const row = page.getByTestId('approval-A002');
    await row.waitFor();
    const text = (await row.textContent()) ?? '';
    const a002 = (await h.store.appointment('A002'))!;
    expect(text).toContain(`A002 · ${a002.date} ${a002.time} · ${a002.specialty}`);
    expect(text).toMatch(/P001 · 129 \(good\)/);
    for (const factor of ['specialty', 'gender', 'language', 'distance', 'continuity', 'experience'])
      expect(text).toMatch(new RegExp(`${factor} [\\d.]+/\\d+`));
    expect(text).toMatch(/hidden/);
    // The next-best free colleagues with their scores: not the proposed one, nor the absent one, best first.
    const inbox = (await (await fetch(`${api.url}/api/approvals`)).json()) as {
      approvals: {
        appointment_id: string;
        details: { alternatives: { provider_id: string; score: number; band: string }[] };
      }[];
    };
    const alternatives = inbox.approvals.find((a) => a.appointment_id === 'A002')!.details.alternatives;
    expect(alternatives.length).toBeGreaterThan(0);
    expect(alternatives.map((x) => x.provider_id)).not.toContain('P001');
    expect(alternatives.map((x) => x.provider_id)).not.toContain('T001');
    expect(alternatives.map((x) => x.score)).toEqual(alternatives.map((x) => x.score).sort((x, y) => y - x));
    expect(text).toContain(alternatives.map((x) => `${x.provider_id} ${x.score} (${x.band})`).join(', '));
    const deadline = (await page.getByTestId('deadline-A002').textContent()) ?? '';
    expect(deadline).toMatch(/\(Europe\/Berlin\)/);
    expect(deadline).toMatch(/in \d+ h \d+ min/);
    expect(deadline).toMatch(/then the patient goes to the waitlist/);
    await page.getByTestId('inbox-names').click();
    const name = (await h.store.patient(a002.patient_id))!.name;
    await page.getByTestId('approval-A002').filter({ hasText: name }).waitFor();
    // The model's stated reason: free text that may name the patient, so shown with the names only.
    expect(text).not.toMatch(/model: /);
    expect(await page.getByTestId('approval-A002').textContent()).toMatch(/model: “good match, score 129”/);
    // Who started it.
    await page.getByTestId(`run-${id}`).filter({ hasText: 'local operator' }).waitFor();
    await fetch(`${api.url}/api/reassignments/${id}/cancel`, { method: 'POST' });
    await handle(id).result();
  });

  test('approve a filtered selection: each is its own decision, recorded', async () => {
    const id = await start();
    await waitForProgress(handle(id), (p) => p.pending_approvals.length > 0);
    await page.goto(api.url);
    await page.getByTestId('approval-A002').waitFor();
    // A filter that leaves A002 out: it is not shown, and "Select all shown" selects nothing.
    await page.fill('#approvals-filter', 'cardiology');
    await page.getByTestId('approval-A002').waitFor({ state: 'detached' });
    await page.getByTestId('select-shown').click();
    expect(await page.getByTestId('approve-selected').isDisabled()).toBe(true);
    // One that matches it (its band and specialty).
    await page.fill('#approvals-filter', 'good orthopedics');
    await page.getByTestId('approval-A002').waitFor();
    await page.getByTestId('select-shown').click();
    await page.getByTestId('approve-selected').filter({ hasText: '(1)' }).waitFor();
    page.once('dialog', (d) => void d.accept());
    await page.getByTestId('approve-selected').click();
    await page.getByTestId('notice').filter({ hasText: 'approved 1 of 1' }).waitFor();
    const result: ReassignmentResult = await handle(id).result();
    expect(result.assignments.find((a) => a.appointment_id === 'A002')).toMatchObject({
      approved_by: 'local operator',
    });
    expect((await h.store.appointmentRecord('A002')).approvals).toEqual([
      expect.objectContaining({ decision: 'approved', decided_by: 'local operator' }),
    ]);
  });

  test('cancel asks first; what the cancelled run left shows under Needs attention, and one click starts a new run', async () => {
    const id = await start();
    await waitForProgress(handle(id), (p) => p.pending_approvals.length > 0);
    await page.goto(api.url);
    await page.getByTestId(`run-${id}`).getByRole('link', { name: id }).click();
    await page.getByTestId('run-id').filter({ hasText: id }).waitFor();
    page.once('dialog', (d) => void d.dismiss());
    await page.getByTestId('cancel-run').click();
    await new Promise((r) => setTimeout(r, 500));
    expect((await handle(id).describe()).status.name).toBe('RUNNING');
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.accept();
    });
    await page.getByTestId('cancel-run').click();
    expect(((await handle(id).result()) as ReassignmentResult).status).toBe('cancelled');
    expect(asked).toMatch(/stay booked with the absent provider/);
    const attention = page.getByTestId('attention-T001-2025-11-21');
    await attention.filter({ hasText: 'A002' }).waitFor();
    expect(await attention.textContent()).toContain(id);
    await page.getByTestId('rerun-T001-2025-11-21').click();
    await page
      .getByTestId('notice')
      .filter({ hasText: /started reassign-T001-2025-11-21-/ })
      .waitFor();
    const again = /started (\S+)/.exec((await page.getByTestId('notice').textContent()) ?? '')![1]!;
    expect(again).not.toBe(id);
    await waitForProgress(handle(again), (p) => p.pending_approvals.length > 0);
    await fetch(`${api.url}/api/reassignments/${again}/cancel`, { method: 'POST' });
    await handle(again).result();
  });

  test('preview before start: what each appointment would get, and nothing written', async () => {
    await page.goto(api.url);
    await page.fill('#start-form input[name=provider_id]', 'T001');
    await page.fill('#start-form input[name=date]', '2025-11-21');
    await page.getByTestId('preview-run').click();
    await page.getByTestId('preview-summary').filter({ hasText: 'nothing written' }).waitFor();
    expect(await page.getByTestId('preview-summary').textContent()).toMatch(
      /3 appointment\(s\): 1 moved at once, 1 waiting for approval, 1 to the waitlist/,
    );
    expect(await page.getByTestId('preview-A002').textContent()).toMatch(/ask approval.*P001.*129.*good.*prompt$/);
    // The prompt-driven loop ran (a dry run in Temporal): the model's calls are in the summary.
    expect(await page.getByTestId('preview-summary').textContent()).toMatch(/Model: [1-9]\d* call\(s\), \d+ tokens\.$/);
    expect(await h.store.counts()).toMatchObject({ assignments: 0, waitlist: 0 });
    expect(await h.store.unavailability('T001', '2025-11-21')).toBeUndefined();
  });

  test('the escalations inbox: a rejected approval is listed, acknowledged, then resolved, with who', async () => {
    const id = await start();
    await waitForProgress(handle(id), (p) => p.pending_approvals.length > 0);
    await handle(id).signal('reject', { appointmentId: 'A002', by: 'dr-lead' });
    await handle(id).result();
    const rejected = (await h.store.escalations({})).find((e) => e.kind === 'approval_rejected')!;
    await page.goto(api.url);
    const row = page.getByTestId(`escalation-${rejected.id}`);
    await row.waitFor();
    expect(await row.textContent()).toMatch(/approval rejected.*dr-lead rejected moving A002 to P001.*open/);
    await page.getByTestId(`acknowledge-${rejected.id}`).click();
    await page.getByText(`escalation #${rejected.id} acknowledged`).waitFor();
    expect(await h.store.escalation(rejected.id)).toMatchObject({
      status: 'acknowledged',
      acknowledged_by: 'local operator',
    });
    await page.getByTestId(`resolve-${rejected.id}`).click();
    await page.getByText(`escalation #${rejected.id} resolved`).waitFor();
    expect(await h.store.escalation(rejected.id)).toMatchObject({ status: 'resolved', resolved_by: 'local operator' });
    await row.waitFor({ state: 'detached' });
  });

  test('the scoring strategy: a route a person pinned shows what production follows, who pinned it, and the last move', async () => {
    await page.goto(api.url);
    await page.getByText('No label routes').waitFor();
    await h.store.pinLabelRoute({
      prompt: 'scoring-strategy',
      label: 'production',
      to: 'conservative',
      by: 'alice',
      reason: 'escalations',
    });
    const listed = (await (await fetch(`${api.url}/api/label-routes`)).json()) as { routes: unknown[] };
    expect(listed.routes).toEqual([
      expect.objectContaining({
        prompt: 'scoring-strategy',
        label: 'production',
        follows: 'conservative',
        pinned_by: 'alice',
        last_move: expect.objectContaining({
          from_label: 'production',
          to_label: 'conservative',
          moved_by: 'alice',
          reason: 'pinned by alice: escalations',
        }),
      }),
    ]);
    await page.reload();
    const row = page.getByTestId('route-scoring-strategy-production');
    await row.waitFor();
    expect(await row.textContent()).toMatch(
      /^scoring-strategyproductionconservativepinned by alice \(.+\).+: production → conservative by alice \(pinned by alice: escalations\)$/,
    );
    expect(await page.getByText('No label routes').isHidden()).toBe(true);
  });
});
