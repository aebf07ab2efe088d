import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { startApi, type RunningApi } from '../src/api/main';
import { loadConfig } from '../src/config';
import { encryptionEnv, startHarness, storeEnv, type Harness } from './support/harness';

/**
 * The console's own protections in a real browser (Debian's Chromium, driven by playwright-core): no page on
 * another origin can frame it (clickjacking), and its API key lives in the tab's session storage only, is
 * forgotten when refused, and goes with Sign out.
 */

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OPERATOR = 'operator-key-0123456789';

describe('the console in Chromium: framing and the API key', () => {
  let h: Harness;
  let open: RunningApi;
  let keyed: RunningApi;
  let browser: Browser;

  beforeAll(async () => {
    if (!fs.existsSync(executablePath))
      throw new Error(
        `no Chromium at ${executablePath}: apt-get install chromium (.ci/run does), or set CHROMIUM_PATH`,
      );
    h = await startHarness();
    const config = (env: Record<string, string>) =>
      loadConfig({
        TEMPORAL_ADDRESS: h.address,
        TASK_QUEUE: h.taskQueue,
        ...storeEnv(h.store),
        API_PORT: '0',
        ...encryptionEnv(),
        ...env,
      });
    open = await startApi(config({}), () => undefined);
    keyed = await startApi(
      config({
        API_HOST: '127.0.0.1',
        API_KEYS: JSON.stringify([{ name: 'alice', key: OPERATOR, role: 'operator' }]),
      }),
      () => undefined,
    );
    browser = await chromium.launch({
      executablePath,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await keyed?.close();
    await open?.close();
    await h?.close();
  });

  test('a page on another origin cannot frame the console, even signed in as the local operator', async () => {
    // The attacker's page: another origin (another port), framing the console.
    const evil = http.createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><iframe id="f" src="${open.url}/" onload="document.body.dataset.loaded = '1'"></iframe>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const page = await browser.newPage();
    try {
      // The same console, opened directly, does show who is signed in: the framed copy's absence means something.
      await page.goto(open.url);
      await page.getByTestId('who').filter({ hasText: 'local operator' }).waitFor();
      await page.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
      await page.waitForFunction("document.body.dataset.loaded === '1'");
      const framed = page.frames().find((f) => f !== page.mainFrame());
      expect(framed).toBeDefined();
      expect(await framed!.locator('[data-testid=who]').count()).toBe(0);
      expect(await framed!.locator('button').count()).toBe(0);
    } finally {
      await page.close();
      evil.close();
    }
  });

  test('a refused key is never stored; a good one is kept for the tab only; Sign out forgets it and hides the data', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(keyed.url);
      await page.getByTestId('signed-out').waitFor();
      expect(await page.getByTestId('runs').isVisible()).toBe(false);
      await page.fill('#key', 'wrong-key-0123456789abcdef');
      await page.click('#key-form button[type=submit]');
      await page.getByTestId('notice').filter({ hasText: 'unknown API key' }).waitFor();
      // Evaluated in the page (a string: this file is compiled without the DOM's types).
      const stored = () =>
        page.evaluate(
          "({ session: sessionStorage.getItem('reassign.apiKey'), local: localStorage.getItem('reassign.apiKey') })",
        ) as Promise<{ session: string | null; local: string | null }>;
      expect(await stored()).toEqual({ session: null, local: null });

      await page.fill('#key', OPERATOR);
      await page.click('#key-form button[type=submit]');
      await page.getByTestId('who').filter({ hasText: 'alice · operator' }).waitFor();
      expect(await stored()).toEqual({ session: OPERATOR, local: null });
      expect(await page.getByTestId('signed-out').isVisible()).toBe(false);

      await page.getByTestId('sign-out').click();
      await page.getByTestId('who').filter({ hasText: 'not signed in' }).waitFor();
      expect(await stored()).toEqual({ session: null, local: null });
      await page.getByTestId('signed-out').waitFor();
      expect(await page.getByTestId('runs').isVisible()).toBe(false);
      expect(await page.getByTestId('sign-out').isVisible()).toBe(false);
      // A reload stays signed out: nothing was left behind.
      await page.reload();
      await page.getByTestId('who').filter({ hasText: 'not signed in' }).waitFor();
    } finally {
      await page.close();
    }
  });
});
