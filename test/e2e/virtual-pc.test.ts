import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Locator } from 'playwright-core';
import { isPortListening } from '../../backend-adapter/runtime/local/free-port.ts';
import { processState } from '../../backend-adapter/runtime/local/process-state.ts';
import type { LocalRuntimeHandle } from '../../backend-adapter/runtime/runtime-provider.ts';
import {
  changedPixels,
  distinctColours,
  openHarness,
  screenPixels,
  waitFor,
  type HarnessSession,
} from '../support/harness-browser.ts';

/**
 * What a user sees, end to end: the harness shell, the module loaded cross-origin through Module Federation,
 * a real Xvnc desktop streamed into the page, typing into its terminal, pause / resume / terminate, and the
 * states coming back from Canon Memory after a reload.
 */
describe('launch a virtual PC from the dashboard and use it', () => {
  let h: HarnessSession;
  let sessionId = '';
  let handle: LocalRuntimeHandle;

  before(async () => {
    h = await openHarness();
  });
  after(() => h.close());

  const canvas = (): Locator => h.page.locator('vsc-viewer canvas');
  const status = (): Locator => h.page.locator('vsc-viewer [part="status"]');

  /** Clicks inside the xterm (placed at +30+30 on the desktop) so it has the keyboard focus. */
  async function focusTerminal(): Promise<void> {
    const box = await canvas().boundingBox();
    assert.ok(box);
    await h.page.mouse.click(box.x + box.width * (250 / 1280), box.y + box.height * (150 / 720));
  }

  async function typeAndSeeChange(text: string): Promise<number> {
    const before = await screenPixels(canvas());
    await h.page.keyboard.type(text);
    const after = await waitFor(
      () => screenPixels(canvas()),
      (p) => changedPixels(before, p) > 50,
    );
    return changedPixels(before, after);
  }

  it('navigates to Virtual Super PC through the shell’s navigation item', async () => {
    await h.page.goto(h.harness.url);
    await h.page.getByRole('link', { name: /Virtual Super PC/ }).click();
    await h.page.waitForURL(/\/v-supercore$/);
    await h.page.locator('vsc-quick-launch [data-tier="basic"]').waitFor();
  });

  it('launches a Basic desktop and shows it in the page', async () => {
    await h.page.locator('vsc-quick-launch [data-tier="basic"]').click();
    await h.page.locator('vsc-quick-launch [data-action="launch"]').click();
    await h.page.waitForURL(/\/v-supercore\/sessions\/[A-Za-z0-9-]+$/, { timeout: 20_000 });
    sessionId = new URL(h.page.url()).pathname.split('/').pop() ?? '';
    await status()
      .filter({ hasText: /1280\s*×\s*720/ })
      .waitFor({ timeout: 15_000 });
    const pixels = await waitFor(
      () => screenPixels(canvas()),
      (p) => distinctColours(p) > 8,
    );
    assert.ok(distinctColours(pixels) > 8, 'the desktop is drawn (not a uniform canvas)');
    const row = await h.canon().getSession(sessionId);
    assert.equal(row?.session.state, 'active');
    assert.ok(row?.runtime?.kind === 'local');
    handle = row.runtime;
  });

  it('types into the terminal and the desktop shows it', async () => {
    await focusTerminal();
    assert.ok((await typeAndSeeChange('echo hello')) > 50);
    await h.page.keyboard.press('Enter');
  });

  it('pauses: the Xvnc process is stopped with its memory, and frames stop', async () => {
    await h.page.locator('vsc-viewer [data-action="pause"]').click();
    await waitFor(
      () => processState(handle.pid),
      (s) => s === 'T',
    );
    assert.equal(await processState(handle.pid), 'T');
    // The agent answers once every desktop process is stopped; Canon Memory records it right after.
    const paused = await waitFor(
      async () => (await h.canon().getSession(sessionId))?.session.state,
      (s) => s === 'paused',
    );
    assert.equal(paused, 'paused');
    const before = await screenPixels(canvas());
    await h.page.keyboard.type('frozen');
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(changedPixels(before, await screenPixels(canvas())), 0, 'no frame arrives while paused');
  });

  it('shows the same states after a reload (they live in Canon Memory)', async () => {
    await h.page.goto(`${h.harness.url}/v-supercore/sessions`);
    const row = h.page.locator(`vsc-active-sessions tr[data-session-id="${sessionId}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-state'), 'paused');
  });

  it('resumes where it was and takes input again', async () => {
    const row = h.page.locator(`vsc-active-sessions tr[data-session-id="${sessionId}"]`);
    await row.locator('[data-action="resume"]').click();
    await h.page
      .locator(`vsc-active-sessions tr[data-session-id="${sessionId}"][data-state="active"]`)
      .waitFor();
    assert.notEqual(await processState(handle.pid), 'T');
    await row.locator('[data-action="open"]').click();
    await status()
      .filter({ hasText: /1280\s*×\s*720/ })
      .waitFor({ timeout: 15_000 });
    await waitFor(
      () => screenPixels(canvas()),
      (p) => distinctColours(p) > 8,
    );
    await focusTerminal();
    assert.ok((await typeAndSeeChange('echo again')) > 50);
  });

  it('terminates: the desktop is gone and its port is free', async () => {
    await h.page.locator('vsc-viewer [data-action="terminate"]').click();
    await h.page.locator('vsc-viewer [data-action="confirm-terminate"]').click();
    const state = await waitFor(
      () => processState(handle.pid),
      (s) => s === undefined || s === 'Z',
    );
    assert.ok(state === undefined || state === 'Z', `Xvnc still in state ${state}`);
    assert.equal(await isPortListening('127.0.0.1', handle.port), false);
    const ended = await waitFor(
      async () => (await h.canon().getSession(sessionId))?.session.state,
      (s) => s === 'terminated',
    );
    assert.equal(ended, 'terminated');
    assert.ok(await h.canon().getUsage(sessionId), 'a usage record was written');
  });

  it('still shows the terminated session after another reload', async () => {
    await h.page.goto(`${h.harness.url}/v-supercore/sessions`);
    const showEnded = h.page.locator('vsc-active-sessions [data-action="show-ended"]');
    await h.page.locator('vsc-active-sessions').waitFor();
    if (await showEnded.isVisible()) await showEnded.click();
    const row = h.page.locator(`vsc-active-sessions tr[data-session-id="${sessionId}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-state'), 'terminated');
    assert.deepEqual(h.problems, []);
  });
});
