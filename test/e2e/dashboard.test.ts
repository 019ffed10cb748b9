/**
 * The dashboard (docs/http-api.md, Dashboard) in a real headless Chromium against `novactor up
 * --hosts 2 --http`: sign in, see both hosts with their usage, boot an instance from the page's
 * form and see its row reach ACTIVE without a reload — moved by the event stream, as the feed
 * shows — stop it and see SHUTOFF, start it, migrate it to the other host and confirm, delete it
 * and see the row go; the page's document is the same one throughout. Then the listener's other
 * faces: the stream refuses a missing or bad token, an unknown path is 404, the other APIs still
 * answer. With NV_DASHBOARD_SCREENSHOT=FILE it also saves a screenshot there (`npm run
 * dashboard:screenshot` writes docs/dashboard.png).
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../actors/runtime/index.js';
import { launchChromium, withChromium } from '../helpers/chromium.js';
import { runNovactor, waitForLine } from '../helpers/processes.js';

withChromium('dashboard', (bin) => {
  const setup = (async () => {
    const data = mkdtempSync(join(tmpdir(), 'novactor-dashboard-'));
    const port = await freePort();
    const http = await freePort();
    const up = runNovactor(
      ['up', '--hosts', '2', '--port', String(port), '--data', data, '--http', `127.0.0.1:${http}`],
      { NATS_URL: '' },
    );
    await waitForLine(up, /ready/);
    return { up, data, api: `http://127.0.0.1:${http}` };
  })();
  test.after.always(async () => {
    const s = await setup;
    s.up.kill('SIGTERM');
    await new Promise((r) => s.up.once('exit', r));
    rmSync(s.data, { recursive: true, force: true });
  });

  test(
    'dashboard - sign in, hosts with usage, ' +
      'boot from the page to ACTIVE without a reload, stop, start, migrate, delete',
    async (t) => {
      const { api } = await setup;
      const browser = await launchChromium(bin);
      try {
        const page = browser.context.pages()[0] ?? (await browser.context.newPage());
        page.setDefaultTimeout(60_000); // a deadline, not a speed: CI runs this beside other files
        const navigations: string[] = [];
        page.on('framenavigated', (f) => {
          if (f === page.mainFrame()) navigations.push(f.url());
        });
        const problems: string[] = [];
        page.on('pageerror', (e) => problems.push(e.message));
        page.on('console', (m) => {
          if (m.type() === 'error') problems.push(m.text());
        });
        page.on('dialog', (d) => void d.accept()); // the delete's "are you sure"

        await page.goto(`${api}/`);
        await page.fill('#sign-in [name=user]', 'admin');
        await page.fill('#sign-in [name=password]', 'any-password');
        await page.fill('#sign-in [name=project]', 'demo');
        await page.click('#sign-in button[type=submit]');
        await page.locator('#live.on').waitFor();
        t.false(await page.locator('#sign-in').isVisible(), 'the sign-in form is gone');
        // A mark in the page's window: still there at the end means the document was never reloaded.
        await page.evaluate('window.novactorTestMark = 42');

        await page.locator('#hosts tr[data-host="h2"]').waitFor();
        const hosts = await page
          .locator('#hosts tbody tr')
          .evaluateAll((rows) =>
            rows.map((r) => [
              r.getAttribute('data-host'),
              r.querySelector('.state')?.textContent,
              [...r.querySelectorAll('.bar em')].map((b) => b.textContent),
            ]),
          );
        t.deepEqual(
          hosts.map(([host, state]) => [host, state]),
          [
            ['h1', 'up'],
            ['h2', 'up'],
          ],
        );
        for (const [, , bars] of hosts) {
          t.is((bars as string[]).length, 3, 'vCPU, RAM and disk');
          for (const b of bars as string[]) t.regex(b, /^0 \/ [1-9]\d*$/, 'nothing used yet, of a real capacity');
        }
        await page.locator('#placement tr[data-provider="h1"] .bar').first().waitFor();

        await page.fill('#boot [name=name]', 'web-1');
        await page.selectOption('#boot [name=flavor]', 'm1.tiny');
        await page.click('#boot button[type=submit]');
        const row = page.locator('#servers tr[data-name="web-1"]');
        await row.locator('.status', { hasText: /^ACTIVE$/ }).waitFor({ timeout: 60_000 });
        // The stream moved it: its create.end is in the feed, and the row was never read again by a poll.
        await page.locator('#feed li[data-type="instance.create.end"]', { hasText: 'web-1' }).waitFor();
        t.regex((await row.locator('.host').textContent()) ?? '', /^h[12]$/);
        t.is(await row.locator('.power').textContent(), 'running');
        // Its vCPU shows on its host once the usage is read again after the event.
        await page
          .locator('#hosts .bar em', { hasText: /^1 \/ / })
          .first()
          .waitFor();

        const shot = process.env['NV_DASHBOARD_SCREENSHOT'];
        // The page's content, no empty viewport.
        if (shot) await page.locator('body').screenshot({ path: resolve(shot) });

        await row.getByRole('button', { name: 'Stop' }).click();
        await row.locator('.status', { hasText: /^SHUTOFF$/ }).waitFor();
        t.is(await row.locator('.power').textContent(), 'shutdown');
        await page.locator('#feed li[data-type="instance.power_off.end"]').waitFor();

        await row.getByRole('button', { name: 'Start' }).click();
        await row.locator('.status', { hasText: /^ACTIVE$/ }).waitFor();

        // Migrate (the admin's): to the other host, then confirm the resize it ends in.
        const before = await row.locator('.host').textContent();
        await row.getByRole('button', { name: 'Migrate' }).click();
        await row.locator('.status', { hasText: /^VERIFY_RESIZE$/ }).waitFor();
        t.not(await row.locator('.host').textContent(), before, 'it moved');
        await row.getByRole('button', { name: 'Confirm' }).click();
        await row.locator('.status', { hasText: /^ACTIVE$/ }).waitFor();

        await row.getByRole('button', { name: 'Delete' }).click();
        await row.waitFor({ state: 'detached' });
        await page.locator('#feed li[data-type="instance.delete.end"]').waitFor();
        t.is(await page.locator('#servers tbody tr').count(), 0);

        await page.click('#sign-out');
        await page.locator('#sign-in').waitFor();
        t.false(await page.locator('#app').isVisible(), 'signed out: the cloud is hidden');
        t.is(await page.locator('#live').textContent(), 'offline');

        // A member sees its project's instances and events; hosts and placement are the admin's.
        await page.fill('#sign-in [name=user]', 'alice');
        await page.click('#sign-in button[type=submit]');
        await page.locator('#live.on').waitFor();
        await page.locator('#hosts-note', { hasText: 'Hosts are shown to admins' }).waitFor();
        t.is(await page.locator('#hosts tbody tr').count(), 0, "nothing of the admin's session is left");
        t.is(await page.locator('#feed li').count(), 0);
        t.is(await page.textContent('#who'), 'alice in demo');
        await page.click('#sign-out');
        await page.locator('#sign-in').waitFor();

        t.is(await page.evaluate('window.novactorTestMark'), 42, 'the same document throughout: no reload');
        t.deepEqual(navigations, [`${api}/`], 'one navigation: the first load');
        t.deepEqual(problems, [], 'no script errors');
      } finally {
        await browser.close();
      }
    },
  );

  test(
    'dashboard - the stream wants a valid token (401), ' + 'unknown paths are 404, the APIs beside it answer',
    async (t) => {
      const { api } = await setup;
      for (const headers of [{} as Record<string, string>, { 'x-auth-token': 'gAAAAnot-a-live-token' }]) {
        const r = await fetch(`${api}/dashboard/events`, { headers });
        t.is(r.status, 401);
        t.like(await r.json(), { error: { code: 401, title: 'Unauthorized' } });
      }
      for (const path of ['/nope', '/dashboard/nope', '/dashboard/', '/compute-not']) {
        const r = await fetch(`${api}${path}`);
        t.is(r.status, 404, path);
        t.like(await r.json(), { error: { code: 404 } });
      }
      t.is((await fetch(`${api}/`, { method: 'POST' })).status, 405);

      const page = await fetch(`${api}/`);
      t.is(page.status, 200);
      t.is(page.headers.get('content-type'), 'text/html; charset=utf-8');
      t.regex(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      t.regex(await page.text(), /<script type="module" src="\/dashboard\/dashboard\.js">/);
      t.is(
        (await fetch(`${api}/dashboard/dashboard.js`)).headers.get('content-type'),
        'text/javascript; charset=utf-8',
      );
      t.is((await fetch(`${api}/compute/`)).status, 200, 'the root mount hides no other API');
      t.is((await fetch(`${api}/identity/v3`)).status, 200);
    },
  );
});
