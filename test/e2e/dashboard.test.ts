import assert from 'node:assert/strict';
import { readFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import {
  distinctColours,
  openHarness,
  screenPixels,
  waitFor,
  type HarnessSession,
} from '../support/harness-browser.ts';

/**
 * The dashboard end to end in the harness (real backend, real Xvnc, Chromium): navigation by the nav item and the
 * back button, a launch from Quick Launch seen in another tab's Active Sessions through the server's push, the
 * Resource Monitor following pushed samples, a setting changed, kept after a reload and read-only offline, and
 * the session embedded as a participant in a page that is not the harness (Module Federation runtime +
 * `mountRootParcel`). Screenshots of every pane, light and dark, go to test-results/screenshots/.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const screenshots = path.join(repoRoot, 'test-results/screenshots');

/** Serves test/e2e/parcel-host (its script bundled by esbuild) on a port of its own: another origin. */
async function startWorkspaceHost(): Promise<{ url: string; server: Server }> {
  const version = (
    JSON.parse(await readFile(path.join(repoRoot, 'node_modules/single-spa/package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const bundle = await build({
    entryPoints: [path.join(here, 'parcel-host/host.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    write: false,
    define: { __SINGLE_SPA_VERSION__: JSON.stringify(version) },
    logLevel: 'silent',
  });
  const script = bundle.outputFiles[0]?.text ?? '';
  const page = await readFile(path.join(here, 'parcel-host/index.html'), 'utf8');
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/host.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else if (url.pathname === '/') {
      response.writeHead(200, { 'content-type': 'text/html' }).end(page);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

describe('the v-SuperCore dashboard', () => {
  let h: HarnessSession;
  let watcher: Page;
  let watcherContext: BrowserContext;
  let sessionId = '';
  let workspace: { url: string; server: Server } | undefined;
  /** GET /api/v1/sessions (the list) made by the watching tab. */
  let watcherLists = 0;

  before(async () => {
    await mkdir(screenshots, { recursive: true });
    h = await openHarness();
    watcherContext = await h.browser.newContext({ viewport: { width: 1280, height: 900 } });
    watcher = await watcherContext.newPage();
    watcher.on('request', (r) => {
      if (r.method() === 'GET' && new URL(r.url()).pathname === '/api/v1/sessions') watcherLists++;
    });
  });

  after(async () => {
    await new Promise<void>((resolve) => (workspace ? workspace.server.close(() => resolve()) : resolve()));
    await h.close();
  });

  const app = (page: Page): Locator => page.locator('vsc-app');
  const tab = (page: Page, name: string): Locator => page.getByRole('tab', { name });

  async function shoot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(screenshots, `${name}.png`), animations: 'disabled' });
  }

  it('opens by the navigation item; every pane has a URL and the back button walks them', async () => {
    const page = h.page;
    // The harness lends lit (every subpath the remote imports), rxjs and single-spa, as the N3XUS shell does.
    const manifest = JSON.parse(
      await readFile(path.join(repoRoot, 'dist/remote/mf-manifest.json'), 'utf8'),
    ) as { shared: { name: string; assets: { js: { sync: string[]; async: string[] } } }[] };
    const fallbacks = new Map(
      manifest.shared.flatMap((s) => [...s.assets.js.sync, ...s.assets.js.async].map((f) => [f, s.name])),
    );
    const fetchedFallbacks: string[] = [];
    const onRequest = (r: { url(): string }): void => {
      const file = new URL(r.url()).pathname.split('/').pop() ?? '';
      const shared = fallbacks.get(file);
      if (r.url().startsWith(h.harness.remoteUrl) && shared) fetchedFallbacks.push(`${shared} (${file})`);
    };
    page.on('request', onRequest);
    await page.goto(h.harness.url);
    await page.getByRole('link', { name: /Virtual Super PC/ }).click();
    await page.waitForURL(/\/v-supercore$/);
    await page.locator('vsc-quick-launch [data-tier="basic"]').waitFor();
    for (const [name, url, pane] of [
      ['Active Sessions', /\/v-supercore\/sessions$/, 'vsc-active-sessions'],
      ['Resource Monitor', /\/v-supercore\/resources$/, 'vsc-resource-monitor'],
      ['Settings', /\/v-supercore\/settings$/, 'vsc-settings'],
    ] as const) {
      await tab(page, name).click();
      await page.waitForURL(url);
      await page.locator(pane).waitFor();
    }
    await page.goBack();
    await page.waitForURL(/\/v-supercore\/resources$/);
    await page.locator('vsc-resource-monitor').waitFor();
    assert.equal(await tab(page, 'Resource Monitor').getAttribute('aria-selected'), 'true');
    await page.goBack();
    await page.goBack();
    await page.waitForURL(/\/v-supercore$/);
    await page.locator('vsc-quick-launch').waitFor();
    page.off('request', onRequest);
    assert.deepEqual(fetchedFallbacks, [], 'the remote used its own copy of a library the harness lends');
  });

  it('launches from Quick Launch; another tab’s Active Sessions shows it through the push', async () => {
    await watcher.goto(`${h.harness.url}/v-supercore/sessions`);
    await watcher.locator('vsc-active-sessions .live[data-live="on"]').waitFor({ timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 300)); // let the catch-up listing on open finish
    const listsBefore = watcherLists;

    const page = h.page;
    await page.locator('vsc-quick-launch [data-tier="basic"]').click();
    await page.locator('vsc-quick-launch [data-action="launch"]').click();
    await page.waitForURL(/\/v-supercore\/sessions\/[A-Za-z0-9-]+$/, { timeout: 20_000 });
    sessionId = new URL(page.url()).pathname.split('/').pop() ?? '';
    await page
      .locator('vsc-viewer [part="status"]')
      .filter({ hasText: /1280\s*×\s*720/ })
      .waitFor({ timeout: 15_000 });

    const row = watcher.locator(
      `vsc-active-sessions tr[data-session-id="${sessionId}"][data-state="active"]`,
    );
    await row.waitFor({ timeout: 15_000 });
    assert.equal(watcherLists, listsBefore, 'the other tab learnt of it by push, without listing again');
    assert.match((await row.locator('.uptime').textContent()) ?? '', /\d+ s|min/);
    assert.match((await row.locator('.cost').textContent()) ?? '', /NexCoin/);
    assert.equal(await row.locator('[data-action="share"]').getAttribute('aria-disabled'), null);
  });

  it('the Resource Monitor follows the pushed samples', async () => {
    await watcher.goto(`${h.harness.url}/v-supercore/resources`);
    await watcher
      .locator(`vsc-resource-monitor tr[data-session-id="${sessionId}"]`)
      .waitFor({ timeout: 10_000 });
    const samples = (): Promise<number> =>
      watcher.evaluate((id) => {
        const monitor = document.querySelector('vsc-app')?.shadowRoot?.querySelector('vsc-resource-monitor');
        return monitor?.metricsStore?.value.samples.get(id)?.length ?? 0;
      }, sessionId);
    const first = await waitFor(samples, (n) => n > 0, 10_000);
    const later = await waitFor(samples, (n) => n >= first + 2, 15_000);
    assert.ok(later >= first + 2, `more samples arrive (${first} → ${later})`);
    const memory = watcher.locator('vsc-resource-monitor [data-metric="memory"] [data-now]');
    assert.match((await memory.textContent()) ?? '', /MiB|GiB/);
    const quota = watcher.locator('vsc-resource-monitor [data-quota="user-sessions"]');
    assert.match((await quota.textContent()) ?? '', /1 of \d+/);
    await watcher.getByRole('radio', { name: '15 min' }).check();
    await watcher
      .locator('vsc-resource-monitor #charts-heading', { hasText: 'the last 15 minutes' })
      .waitFor();
  });

  it('changes a setting, keeps it after a reload, and is read-only offline', async () => {
    await watcher.goto(`${h.harness.url}/v-supercore/settings`);
    const layout = watcher.locator('vsc-settings select[name="keyboardLayout"]');
    await layout.waitFor();
    await watcher.locator('vsc-settings form').waitFor();
    await layout.selectOption('de');
    const idle = watcher.locator('vsc-settings input[name="idleTimeoutMinutes"]');
    await idle.fill('500');
    await idle.press('Tab');
    assert.equal(await idle.inputValue(), '60', 'bounded by the Standard tier');
    await watcher.locator('vsc-settings [data-action="save"]').click();
    await watcher.locator('vsc-settings [data-source="server"]', { hasText: 'Last saved' }).waitFor();

    await watcher.reload();
    await watcher.locator('vsc-settings form').waitFor();
    await waitFor(
      () => layout.inputValue(),
      (v) => v === 'de',
    );
    assert.equal(await layout.inputValue(), 'de');
    assert.equal(await idle.inputValue(), '60');
    const stored = await h.canon().getPreferences({ userId: 'dev-user', tenantId: 'dev-tenant' });
    assert.equal(stored?.preferences.keyboardLayout, 'de', 'kept in Canon Memory');

    await watcherContext.setOffline(true);
    await watcher.locator('vsc-settings [data-offline]').waitFor();
    assert.equal(await watcher.locator('vsc-settings [data-action="save"]').isDisabled(), true);
    assert.equal(await layout.isDisabled(), true);
    await watcherContext.setOffline(false);
    await watcher.locator('vsc-settings [data-offline]').waitFor({ state: 'detached' });
  });

  it('embeds the session as a participant in a page that is not the harness', async () => {
    workspace = await startWorkspaceHost();
    const context = await h.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    const query = new URLSearchParams({
      manifest: `${h.harness.remoteUrl}/mf-manifest.json`,
      api: h.harness.url,
      session: sessionId,
      role: 'participant',
    });
    await page.goto(`${workspace.url}/?${query.toString()}`);
    await page.waitForFunction(() => window.workspace !== undefined || window.workspaceError !== undefined);
    assert.equal(
      await page.evaluate(() => window.workspace?.ready ?? Promise.reject(new Error(window.workspaceError))),
      'mounted',
    );
    const parcel = page.locator('#parcel vsc-session-parcel');
    await parcel.locator('[data-participant="owner"]', { hasText: 'dev-user' }).waitFor();
    assert.equal(await parcel.getAttribute('parcel-role'), 'participant');
    const status = parcel.locator('vsc-viewer [part="status"]');
    await status.filter({ hasText: /1280\s*×\s*720/ }).waitFor({ timeout: 15_000 });
    const pixels = await waitFor(
      () => screenPixels(parcel.locator('vsc-viewer canvas')),
      (p) => distinctColours(p) > 8,
    );
    assert.ok(distinctColours(pixels) > 8, 'the desktop is drawn in the workspace page');
    assert.equal(await parcel.locator('vsc-viewer [data-action="back"]').count(), 0);
    assert.equal(
      await parcel.locator('vsc-viewer [data-action="pause"]').count(),
      0,
      'controls are the owner’s',
    );
    await shoot(page, 'workspace-parcel-light');

    await page.evaluate(() => window.workspace?.setRole('observer'));
    await parcel.locator('vsc-viewer[view-only]').waitFor();
    assert.match((await parcel.locator('vsc-viewer #keyboard-hint').textContent()) ?? '', /View only/);

    await page.evaluate(() => window.workspace?.unmount());
    assert.equal(
      await page.locator('#parcel').evaluate((el) => el.childElementCount),
      0,
      'nothing left behind',
    );
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('saves screenshots of every pane, light and dark', async () => {
    for (const theme of ['light', 'dark'] as const) {
      const context = await h.browser.newContext({
        viewport: { width: 1280, height: 900 },
        colorScheme: theme,
      });
      const page = await context.newPage();
      const panes: [name: string, route: string, ready: string][] = [
        ['quick-launch', '/v-supercore', 'vsc-quick-launch [data-tier="basic"]'],
        [
          'active-sessions',
          '/v-supercore/sessions',
          `vsc-active-sessions tr[data-session-id="${sessionId}"]`,
        ],
        ['resource-monitor', '/v-supercore/resources', 'vsc-resource-monitor [data-quota="user-sessions"]'],
        ['settings', '/v-supercore/settings', 'vsc-settings form'],
        [
          'viewer',
          `/v-supercore/sessions/${sessionId}`,
          'vsc-viewer [part="status"][data-status="connected"]',
        ],
      ];
      for (const [name, route, ready] of panes) {
        await page.goto(`${h.harness.url}${route}?theme=${theme}`);
        await page.locator(ready).waitFor({ timeout: 15_000 });
        assert.equal(await app(page).getAttribute('theme'), theme);
        if (name === 'resource-monitor') await new Promise((r) => setTimeout(r, 2500)); // a few samples
        await shoot(page, `${name}-${theme}`);
      }
      await context.close();
    }
  });

  it('terminates the session from Active Sessions; the other tab sees it go', async () => {
    await watcher.goto(`${h.harness.url}/v-supercore/sessions`);
    const page = h.page;
    await page.goto(`${h.harness.url}/v-supercore/sessions`);
    const row = page.locator(`vsc-active-sessions tr[data-session-id="${sessionId}"]`);
    await row.locator('[data-action="terminate"]').click();
    await row.locator('[data-action="confirm-terminate"]').click();
    await watcher
      .locator(`vsc-active-sessions tr[data-session-id="${sessionId}"]`)
      .waitFor({ state: 'detached', timeout: 15_000 });
    assert.equal((await h.canon().getSession(sessionId))?.session.state, 'terminated');
    assert.deepEqual(h.problems, []);
  });
});
