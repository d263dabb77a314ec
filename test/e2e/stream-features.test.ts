import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Locator } from 'playwright-core';
import type { LocalRuntimeHandle } from '../../backend-adapter/runtime/runtime-provider.ts';
import type { VscViewer } from '../../module/viewer/viewer.component.ts';
import {
  distinctColours,
  openHarness,
  screenPixels,
  waitFor,
  type HarnessSession,
} from '../support/harness-browser.ts';
import { readXClipboard, writeXClipboard } from '../support/x-clipboard.ts';

/**
 * The stream's features end to end: Chromium, the module through the harness, a real Xvnc desktop.
 * WebSocket transport (protocol v2: probes, stats), clipboard both ways against the X selection,
 * remote resize, view-only, reconnection after the connection is killed.
 */
describe('stream features against a real desktop', () => {
  let h: HarnessSession;
  let handle: LocalRuntimeHandle;

  before(async () => {
    h = await openHarness();
  });
  after(() => h.close());

  const viewer = (): Locator => h.page.locator('vsc-viewer');
  const canvas = (): Locator => h.page.locator('vsc-viewer canvas');
  const status = (): Locator => h.page.locator('vsc-viewer [part="status"]');
  const onViewer = <T>(fn: (el: VscViewer) => T): Promise<T> =>
    viewer().evaluate((el, source) => {
      return (new Function('el', `return (${source})(el)`) as (e: Element) => T)(el);
    }, fn.toString());

  it('launches a desktop over the WebSocket transport with protocol v2 latency probes', async () => {
    await h.page.goto(`${h.harness.url}/v-supercore`);
    await h.page.locator('vsc-quick-launch [data-tier="basic"]').click();
    await h.page.locator('vsc-quick-launch [data-action="launch"]').click();
    await h.page.waitForURL(/\/v-supercore\/sessions\/[A-Za-z0-9-]+$/, { timeout: 20_000 });
    const sessionId = new URL(h.page.url()).pathname.split('/').pop() ?? '';
    await status()
      .filter({ hasText: /1280\s*×\s*720/ })
      .waitFor({ timeout: 15_000 });
    await waitFor(
      () => screenPixels(canvas()),
      (p) => distinctColours(p) > 8,
    );
    const row = await h.canon().getSession(sessionId);
    assert.ok(row?.runtime?.kind === 'local');
    handle = row.runtime;
    const stats = await waitFor(
      () => onViewer((el) => el.streamStats),
      (s) => s !== null && s.latencyMs !== null,
      8000,
    );
    assert.ok(stats, 'stats arrive');
    assert.equal(stats.transport, 'websocket');
    assert.equal(stats.version, 2);
    assert.ok((stats.latencyMs ?? 1e9) < 200, `loopback RTT ${stats.latencyMs} ms`);
  });

  it('page → desktop clipboard: the X CLIPBOARD holds what the viewer sent', async () => {
    const text = `vsc-clip-${Date.now()}`;
    await onViewer((el) => el.sendClipboard('placeholder'));
    await viewer().evaluate((el, t) => (el as VscViewer).sendClipboard(t), text);
    const got = await waitFor(
      () => readXClipboard(handle.display),
      (v) => v === text,
      8000,
    );
    assert.equal(got, text);
  });

  it('desktop → page clipboard: a selection taken in the desktop arrives in the viewer', async () => {
    const text = `from-x-${Date.now()}`;
    const owner = await writeXClipboard(handle.display, text);
    try {
      const got = await waitFor(
        () => onViewer((el) => el.desktopClipboard),
        (v) => v === text,
        8000,
      );
      assert.equal(got, text);
    } finally {
      owner.kill();
    }
  });

  it('remote resize: the desktop takes the viewer’s size', async () => {
    await onViewer((el) => {
      el.scaling = 'remote';
    });
    const text = await waitFor(
      async () => (await status().textContent()) ?? '',
      (t) => /Connected/.test(t) && !/1280\s*×\s*720/.test(t),
      10_000,
    );
    const match = /(\d+)\s*×\s*(\d+)/.exec(text);
    assert.ok(match, text);
    const box = await h.page.locator('vsc-viewer [part="screen"]').boundingBox();
    assert.ok(box);
    assert.ok(Math.abs(Number(match[1]) - Math.floor(box.width)) <= 2, `${text} vs ${box.width}`);
    await onViewer((el) => {
      el.scaling = 'fit';
    });
  });

  it('view-only: typing and clicking do not change the desktop', async () => {
    // Something visibly typed first, so a terminal that would take keys is focused.
    const box = await canvas().boundingBox();
    assert.ok(box);
    await h.page.mouse.click(box.x + box.width * 0.2, box.y + box.height * 0.2);
    await onViewer((el) => {
      el.viewOnly = true;
    });
    await canvas().focus(); // before the first capture: the focus ring is not the desktop changing
    await h.page.waitForTimeout(1000);
    const before = await screenPixels(canvas());
    await h.page.keyboard.type('this must not appear');
    await h.page.mouse.click(box.x + box.width * 0.5, box.y + box.height * 0.5, { button: 'right' });
    await h.page.waitForTimeout(1500);
    const afterPixels = await screenPixels(canvas());
    // TigerVNC refreshes JPEG-encoded areas losslessly once the screen is idle: small colour shifts
    // everywhere. Typed text or a menu changes pixels by far more than JPEG noise.
    let strong = 0;
    // The focus ring (drawn over the canvas's 3 px edge once keys are typed) is the page, not the desktop.
    const edge = 4;
    for (let i = 0; i < before.data.length; i += 4) {
      const x = (i / 4) % before.width;
      const y = Math.floor(i / 4 / before.width);
      if (x < edge || y < edge || x >= before.width - edge || y >= before.height - edge) continue;
      for (let c = 0; c < 3; c++) {
        if (Math.abs((before.data[i + c] ?? 0) - (afterPixels.data[i + c] ?? 0)) > 64) {
          strong++;
          break;
        }
      }
    }
    assert.equal(strong, 0, 'no pixel of the desktop changed by more than JPEG noise');
    await onViewer((el) => {
      el.viewOnly = false;
    });
  });

  it('reconnects by itself after its connection is killed, to the same session', async () => {
    const port = Number(new URL(h.harness.url).port);
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
    const sockets = handles.filter(
      (x): x is Socket =>
        typeof x === 'object' && x !== null && 'localPort' in x && (x as Socket).localPort === port,
    );
    assert.ok(sockets.length > 0, 'the browser is connected');
    for (const s of sockets) s.destroy(); // a network drop: no close frame
    await waitFor(
      () => onViewer((el) => el.streamStatus.kind),
      (k) => k === 'reconnecting',
      5000,
    );
    const kind = await waitFor(
      () => onViewer((el) => el.streamStatus.kind),
      (k) => k === 'connected',
      15_000,
    );
    assert.equal(kind, 'connected');
    const pixels = await waitFor(
      () => screenPixels(canvas()),
      (p) => distinctColours(p) > 8,
    );
    assert.ok(distinctColours(pixels) > 8, 'the desktop is drawn again');
  });
});
