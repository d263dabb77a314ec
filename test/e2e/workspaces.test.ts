import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../protocol/handshake.ts';
import { StreamCloseCode } from '../../protocol/stream.ts';
import type { Workspace } from '../../protocol/workspaces.ts';
import type { VscViewer } from '../../module/viewer/viewer.component.ts';
import {
  distinctColours,
  openHarness,
  screenPixels,
  waitFor,
  type HarnessSession,
} from '../support/harness-browser.ts';

/**
 * Collaborative workspaces end to end: the harness, a real Xvnc desktop with its xterm, two people in two browser
 * contexts. The owner shares the session from Active Sessions; the participant accepts and opens it from their
 * own Active Sessions. Whether typing reaches the desktop is read from the desktop itself: the participant types
 * `touch <file>` + Return into the xterm, and the file exists or not.
 */
const PARTICIPANT = 'guest-ws';
const marker = `/tmp/vsc-e2e-ws-${process.pid}-${Date.now()}`;

describe('collaborative workspace: share, view-only, control handoff, removal', () => {
  let h: HarnessSession;
  let guestContext: BrowserContext;
  let guest: Page;
  let sessionId = '';
  let workspaceId = '';
  let ownerToken = '';

  before(async () => {
    h = await openHarness();
    guestContext = await h.browser.newContext({ viewport: { width: 1280, height: 900 } });
    guest = await guestContext.newPage();
    guest.on('pageerror', (e) => h.problems.push(`guest pageerror: ${e.message}`));
  });

  after(async () => {
    for (const suffix of ['a', 'b', 'c', 'd']) await rm(`${marker}-${suffix}`, { force: true });
    await h.close();
  });

  const guestViewer = (): Locator => guest.locator('vsc-viewer');
  const guestCanvas = (): Locator => guest.locator('vsc-viewer canvas');
  const guestHint = (): Locator => guest.locator('vsc-viewer #keyboard-hint');
  const onGuestViewer = <T>(fn: (el: VscViewer) => T): Promise<T> =>
    guestViewer().evaluate((el, source) => {
      return (new Function('el', `return (${source})(el)`) as (e: Element) => T)(el);
    }, fn.toString());

  /**
   * The participant's entry in the owner's "Shared by me" list (Active Sessions, on the owner's page), where the
   * owner gives control, takes it back and removes people.
   */
  async function ownerSeesParticipant(): Promise<Locator> {
    const page = h.page;
    if (!new URL(page.url()).pathname.endsWith('/v-supercore/sessions')) {
      await page.goto(`${h.harness.url}/v-supercore/sessions`);
    }
    const item = page.locator(
      `vsc-active-sessions [data-shared-by-me] ul[data-workspace-id="${workspaceId}"] li[data-user-id="${PARTICIPANT}"]`,
    );
    await item.waitFor({ timeout: 10_000 });
    return item;
  }

  /** The owner's REST reads (the workspace as the server has it), with the owner's own token. */
  async function asOwner(method: string, path: string, body?: unknown): Promise<Response> {
    if (!ownerToken) {
      const login = await fetch(`${h.harness.url}/api/v1/dev/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [HANDSHAKE_HEADER]: HANDSHAKE },
        body: JSON.stringify({ userId: 'dev-user', tenantId: 'dev-tenant' }),
      });
      ownerToken = ((await login.json()) as { token: string }).token;
    }
    return fetch(`${h.harness.url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ownerToken}`,
        [HANDSHAKE_HEADER]: HANDSHAKE,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  /** Types `touch <file>` and Return into the participant's focused viewer. */
  async function guestTypesTouch(file: string): Promise<void> {
    await guestCanvas().focus();
    await guest.keyboard.type(`touch ${file}`, { delay: 15 });
    await guest.keyboard.press('Enter');
  }

  /** The file did not appear in `ms` (the shell would have created it within a few hundred ms). */
  async function staysAbsent(file: string, ms = 2000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (existsSync(file)) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return !existsSync(file);
  }

  it('the owner launches a desktop and focuses its terminal', async () => {
    const page = h.page;
    await page.goto(`${h.harness.url}/v-supercore`);
    await page.locator('vsc-quick-launch [data-tier="basic"]').click();
    await page.locator('vsc-quick-launch [data-action="launch"]').click();
    await page.waitForURL(/\/v-supercore\/sessions\/[A-Za-z0-9-]+$/, { timeout: 20_000 });
    sessionId = new URL(page.url()).pathname.split('/').pop() ?? '';
    await page
      .locator('vsc-viewer [part="status"]')
      .filter({ hasText: /1280\s*×\s*720/ })
      .waitFor({ timeout: 15_000 });
    const canvas = page.locator('vsc-viewer canvas');
    await waitFor(
      () => screenPixels(canvas),
      (p) => distinctColours(p) > 8,
    );
    // The xterm the desktop starts with takes the keyboard once clicked (X focus stays after the owner leaves).
    // On a loaded machine it may map after the desktop's first colours, so click and type again (Ctrl+U
    // clears a half-typed line) until the owner's own typing reaches it: the check the participant's cases
    // rely on.
    const box = await canvas.boundingBox();
    assert.ok(box);
    let typed = false;
    for (let attempt = 0; attempt < 3 && !typed; attempt++) {
      await page.mouse.click(box.x + box.width * 0.2, box.y + box.height * 0.2);
      await page.waitForTimeout(300);
      await page.keyboard.press('Control+U');
      await page.keyboard.type(`touch ${marker}-a`, { delay: 15 });
      await page.keyboard.press('Enter');
      typed = await waitFor(
        async () => existsSync(`${marker}-a`),
        (v) => v,
        6000,
      );
    }
    assert.equal(typed, true, 'the owner types into the desktop’s terminal');
    assert.equal(await page.locator('vsc-viewer').getAttribute('view-only'), null);
  });

  it('the owner shares the session into a workspace from Active Sessions, inviting a participant', async () => {
    const page = h.page;
    await page.goto(`${h.harness.url}/v-supercore/sessions`);
    const row = page.locator(`vsc-active-sessions tr[data-session-id="${sessionId}"]`);
    await row.locator('[data-action="share"]').click();
    const form = page.locator(`vsc-active-sessions form[data-share-for="${sessionId}"]`);
    await form.locator('[data-field="invite-user"]').fill(PARTICIPANT);
    await form.locator('[data-field="invite-role"]').selectOption('participant');
    await form.locator('[data-action="send-invite"]').click();
    const listed = await waitFor(
      async () => (await (await asOwner('GET', '/workspaces')).json()) as { workspaces: Workspace[] },
      (b) => b.workspaces.some((w) => w.sessionIds.includes(sessionId)),
    );
    const workspace = listed.workspaces.find((w) => w.sessionIds.includes(sessionId));
    assert.ok(workspace, 'a workspace holds the session');
    workspaceId = workspace.workspaceId;
    assert.deepEqual(
      workspace.members.map((m) => [m.userId, m.role, m.status]),
      [
        ['dev-user', 'owner', 'joined'],
        [PARTICIPANT, 'participant', 'invited'],
      ],
    );
  });

  it('the participant accepts, opens it from Active Sessions and sees the desktop, view-only', async () => {
    await guest.goto(`${h.harness.url}/v-supercore/sessions?user=${PARTICIPANT}`);
    const shared = guest.locator(
      `vsc-active-sessions [data-shared-with-me] li[data-workspace-id="${workspaceId}"]`,
    );
    await shared.locator('[data-action="accept-invitation"]').click({ timeout: 10_000 });
    await shared
      .locator(`[data-action="open-shared"][data-session-id="${sessionId}"]`)
      .click({ timeout: 10_000 });
    await guest.waitForURL(new RegExp(`/v-supercore/sessions/${sessionId}$`));
    await guest
      .locator('vsc-viewer [part="status"]')
      .filter({ hasText: /1280\s*×\s*720/ })
      .waitFor({ timeout: 15_000 });
    const pixels = await waitFor(
      () => screenPixels(guestCanvas()),
      (p) => distinctColours(p) > 8,
    );
    assert.ok(distinctColours(pixels) > 8, 'the participant sees the desktop');

    await guest.locator('vsc-viewer[view-only]').waitFor({ timeout: 5000 });
    await guest.locator('vsc-viewer #keyboard-hint[data-access="view-only"]').waitFor();
    assert.match((await guestHint().textContent()) ?? '', /View only: the owner has not given you control/);
    assert.equal(
      await guest.locator('vsc-viewer [data-action="terminate"]').count(),
      0,
      'the session’s controls are the owner’s',
    );
  });

  it('a participant without control types, and nothing reaches the desktop (dropped at the gateway too)', async () => {
    await guestTypesTouch(`${marker}-b`);
    assert.ok(await staysAbsent(`${marker}-b`), 'typing in the view-only viewer changes nothing');

    // Past the page's own view-only check, straight through the worker's socket: the gateway drops it.
    const typedDirectly = await guestViewer().evaluate(async (el, file) => {
      const worker = (el as unknown as { worker?: { api: { send(m: unknown): Promise<void> } } }).worker;
      if (!worker) return false;
      for (const keysym of [...`touch ${file}`].map((c) => c.charCodeAt(0)).concat(0xff0d)) {
        await worker.api.send({ t: 'key', keysym, down: true });
        await worker.api.send({ t: 'key', keysym, down: false });
      }
      return true;
    }, `${marker}-d`);
    assert.equal(typedDirectly, true, 'the key events were sent on the participant’s stream');
    assert.ok(await staysAbsent(`${marker}-d`), 'the gateway dropped input the page did not hold back');
  });

  it('the owner grants control: the viewer says so at once, and the participant’s typing reaches the desktop', async () => {
    const item = await ownerSeesParticipant();
    assert.equal(await item.getAttribute('data-status'), 'joined', 'the owner sees the accepted invitation');
    assert.equal(await item.getAttribute('data-participant'), 'participant');
    // By keyboard: focus the button and press Enter.
    await item.locator('[data-action="grant-control"]').press('Enter');
    await h.page
      .locator(`vsc-active-sessions [data-shared-by-me] li[data-user-id="${PARTICIPANT}"][data-has-control]`)
      .waitFor({ timeout: 3000 });
    await guest.locator('vsc-viewer:not([view-only])').waitFor({ timeout: 3000 });
    await guest.locator('vsc-viewer #keyboard-hint[data-access="control"]').waitFor();
    assert.match((await guestHint().textContent()) ?? '', /You have control of this desktop/);

    await guestTypesTouch(`${marker}-b`);
    assert.equal(
      await waitFor(
        async () => existsSync(`${marker}-b`),
        (v) => v,
        8000,
      ),
      true,
      'the participant’s typing ran in the desktop’s terminal',
    );
  });

  it('the owner takes control back: view-only again, input dropped', async () => {
    const item = await ownerSeesParticipant();
    await item.locator('[data-action="revoke-control"]').click();
    await item.locator('[data-action="grant-control"]').waitFor({ timeout: 3000 });
    assert.equal(await item.getAttribute('data-has-control'), null);
    await guest.locator('vsc-viewer[view-only]').waitFor({ timeout: 3000 });
    await guest.locator('vsc-viewer #keyboard-hint[data-access="view-only"]').waitFor();
    await guestTypesTouch(`${marker}-c`);
    assert.ok(await staysAbsent(`${marker}-c`), 'typing after control was taken back changes nothing');
  });

  it('the owner removes the participant: their stream closes at once with a clear message', async () => {
    const item = await ownerSeesParticipant();
    await item.locator('[data-action="remove-member"]').click();
    const removedAt = Date.now();
    await item.locator('[data-action="confirm-remove"]').click();
    await item.waitFor({ state: 'detached', timeout: 3000 });
    const listed = (await (await asOwner('GET', `/workspaces/${workspaceId}`)).json()) as Workspace;
    assert.ok(!listed.members.some((m) => m.userId === PARTICIPANT), 'the server no longer lists them');
    const status = await waitFor(
      () => onGuestViewer((el) => el.streamStatus),
      (s) => s.kind === 'closed',
      3000,
    );
    const closedWithin = Date.now() - removedAt;
    assert.equal(status.kind, 'closed');
    assert.equal(status.kind === 'closed' ? status.code : 0, StreamCloseCode.Removed);
    assert.ok(closedWithin < 2000, `closed ${closedWithin} ms after the removal`);
    assert.match(
      (await guest.locator('vsc-viewer [part="status"]').textContent()) ?? '',
      /You no longer have access: you left or were removed from the workspace/,
    );
    await guest.locator('vsc-viewer [data-overlay="removed"]').waitFor();
    // Not retried: the removal is final.
    await guest.waitForTimeout(1500);
    assert.equal(await onGuestViewer((el) => el.streamStatus.kind), 'closed');
    assert.deepEqual(h.problems, []);
  });
});
