import { expect, fixture, html, oneEvent, waitUntil } from '@open-wc/testing';
import { sendKeys } from '@web/test-runner-commands';
import { NEVER } from 'rxjs';
import '../../../module/viewer/viewer.ts';
import type { VscViewer } from '../../../module/viewer/viewer.component.ts';
import { ApiClient } from '../../../module/api/api-client.ts';
import type { CloseViewerDetail } from '../../../module/shared/events.ts';
import { SessionsStore } from '../../../module/state/sessions-store.ts';
import { FAKE_TOKEN, FakeApi } from './support/fake-api.ts';
import { FakeDecoderWorker, fakeWorkerFactory } from './support/fake-decoder-worker.ts';

interface Setup {
  el: VscViewer;
  fake: FakeApi;
  store: SessionsStore;
  workers: FakeDecoderWorker[];
  worker: FakeDecoderWorker;
  sessionId: string;
}

async function setup(options: { launching?: boolean; state?: 'active' | 'paused' } = {}): Promise<Setup> {
  const fake = new FakeApi();
  const { sessionId } = fake.seed({ state: options.state ?? 'active' });
  const api = fake.client();
  const store = new SessionsStore({ api, changeFeed: () => NEVER });
  await store.refresh();
  const { factory, workers } = fakeWorkerFactory();
  const wrapper = await fixture<HTMLDivElement>(
    html`<div style="width: 640px">
      <vsc-viewer
        session-id=${sessionId}
        .api=${api}
        .store=${store}
        .workerFactory=${factory}
        ?launching=${options.launching ?? false}
      ></vsc-viewer>
    </div>`,
  );
  const el = wrapper.querySelector('vsc-viewer') as VscViewer;
  await waitUntil(() => workers[0]?.connected, 'the viewer connects its worker');
  return { el, fake, store, workers, worker: workers[0] as FakeDecoderWorker, sessionId };
}

async function connect(s: Setup, width = 1280, height = 800): Promise<void> {
  s.worker.emit({ type: 'connected', width, height, name: 'desktop' });
  await s.el.updateComplete;
}

const canvasOf = (el: VscViewer): HTMLCanvasElement =>
  el.shadowRoot?.querySelector('canvas') as HTMLCanvasElement;
const statusText = (el: VscViewer): string =>
  el.shadowRoot?.querySelector('[role="status"]')?.textContent?.trim() ?? '';
const key = (type: 'keydown' | 'keyup', init: KeyboardEventInit): KeyboardEvent =>
  new KeyboardEvent(type, { bubbles: true, composed: true, cancelable: true, ...init });

describe('<vsc-viewer>', () => {
  it('transfers its canvas to the worker and connects with the stream URL and subprotocols', async () => {
    const s = await setup();
    expect(s.worker.canvas).to.be.instanceOf(OffscreenCanvas);
    expect(s.worker.options?.url).to.equal(`wss://supercore.test/api/v1/sessions/${s.sessionId}/stream`);
    expect(s.worker.options?.protocols).to.deep.equal([
      'v-supercore-stream.v2',
      'v-supercore-stream.v1',
      `bearer.${FAKE_TOKEN}`,
      'n3xus-handshake.55-45-17',
    ]);
    expect(statusText(s.el)).to.contain('Connecting to session');
    expect(s.el.streamStatus.kind).to.equal('connecting');
  });

  it('reports "connected W×H" in an aria-live status line and focuses the desktop', async () => {
    const s = await setup();
    const status = oneEvent(s.el, 'vsc-viewer-status');
    await connect(s);
    expect((await status).detail).to.deep.include({ kind: 'connected', width: 1280, height: 800 });
    const line = s.el.shadowRoot?.querySelector('[role="status"]');
    expect(line?.getAttribute('aria-live')).to.equal('polite');
    expect(line?.textContent).to.contain('1280 × 800');
    expect(s.el.shadowRoot?.activeElement).to.equal(canvasOf(s.el));
    s.worker.emit({ type: 'resize', width: 1024, height: 768 });
    await s.el.updateComplete;
    expect(statusText(s.el)).to.contain('1024 × 768');
    await expect(s.el).to.be.accessible();
  });

  it('sends keysyms for real key presses and prevents the page from handling them', async () => {
    const s = await setup();
    await connect(s);
    canvasOf(s.el).focus();
    await sendKeys({ press: 'a' });
    await sendKeys({ press: 'Shift+KeyB' });
    await sendKeys({ press: 'Enter' });
    await sendKeys({ press: 'ArrowDown' });
    await waitUntil(() => s.worker.sent.length >= 10);
    expect(s.worker.take()).to.deep.equal([
      { t: 'key', keysym: 0x61, down: true },
      { t: 'key', keysym: 0x61, down: false },
      { t: 'key', keysym: 0xffe1, down: true },
      { t: 'key', keysym: 0x42, down: true },
      { t: 'key', keysym: 0x42, down: false },
      { t: 'key', keysym: 0xffe1, down: false },
      { t: 'key', keysym: 0xff0d, down: true },
      { t: 'key', keysym: 0xff0d, down: false },
      { t: 'key', keysym: 0xff54, down: true },
      { t: 'key', keysym: 0xff54, down: false },
    ]);
    const down = key('keydown', { key: ' ', code: 'Space' });
    canvasOf(s.el).dispatchEvent(down);
    expect(down.defaultPrevented).to.equal(true, 'Space must not scroll the page');
  });

  it('releases a key with the keysym it was pressed with, even if a modifier changed in between', async () => {
    const s = await setup();
    await connect(s);
    const canvas = canvasOf(s.el);
    canvas.dispatchEvent(key('keydown', { key: 'Shift', code: 'ShiftLeft' }));
    canvas.dispatchEvent(key('keydown', { key: 'A', code: 'KeyA', shiftKey: true }));
    canvas.dispatchEvent(key('keyup', { key: 'Shift', code: 'ShiftLeft' }));
    canvas.dispatchEvent(key('keyup', { key: 'a', code: 'KeyA' }));
    await waitUntil(() => s.worker.sent.length === 4);
    expect(s.worker.take().map((m) => (m.t === 'key' ? [m.keysym, m.down] : m))).to.deep.equal([
      [0xffe1, true],
      [0x41, true],
      [0xffe1, false],
      [0x41, false],
    ]);
  });

  it('sends key-up for every key still held when the canvas loses focus', async () => {
    const s = await setup();
    await connect(s);
    const canvas = canvasOf(s.el);
    canvas.focus();
    canvas.dispatchEvent(key('keydown', { key: 'Control', code: 'ControlLeft' }));
    canvas.dispatchEvent(key('keydown', { key: 'AltGraph', code: 'AltRight' }));
    canvas.dispatchEvent(key('keydown', { key: 'x', code: 'KeyX' }));
    expect(s.el.heldKeysyms).to.have.length(3);
    s.el.shadowRoot?.querySelector<HTMLButtonElement>('[data-action="back"]')?.focus();
    await waitUntil(() => s.worker.sent.length === 6);
    const ups = s.worker.sent.slice(3);
    expect(ups.every((m) => m.t === 'key' && !m.down)).to.equal(true);
    expect(ups.map((m) => (m.t === 'key' ? m.keysym : 0)).sort()).to.deep.equal(
      [0x78, 0xfe03, 0xffe3].sort(),
    );
    expect(s.el.heldKeysyms).to.deep.equal([]);
  });

  it('maps pointer positions to framebuffer pixels and buttons to the RFB mask', async () => {
    const s = await setup();
    await connect(s);
    const canvas = canvasOf(s.el);
    const rect = canvas.getBoundingClientRect();
    expect(Math.round(rect.width)).to.equal(640);
    expect(Math.round(rect.height)).to.equal(400, 'scaled keeping the 16:10 aspect ratio');
    const at = (type: string, x: number, y: number, buttons: number): void => {
      canvas.dispatchEvent(
        new PointerEvent(type, {
          clientX: rect.left + x,
          clientY: rect.top + y,
          buttons,
          bubbles: true,
          cancelable: true,
          pointerId: 1,
        }),
      );
    };
    at('pointermove', 100, 50, 0);
    at('pointerdown', 100, 50, 1);
    at('pointerup', 100, 50, 0);
    at('pointerdown', 320, 200, 2); // secondary button = right
    at('pointerup', 320, 200, 0);
    at('pointermove', 320, 200, 0); // unchanged: not sent again
    await waitUntil(() => s.worker.sent.length >= 5);
    expect(s.worker.take()).to.deep.equal([
      { t: 'pointer', x: 200, y: 100, buttons: 0 },
      { t: 'pointer', x: 200, y: 100, buttons: 1 },
      { t: 'pointer', x: 200, y: 100, buttons: 0 },
      { t: 'pointer', x: 640, y: 400, buttons: 4 },
      { t: 'pointer', x: 640, y: 400, buttons: 0 },
    ]);
  });

  it('sends the wheel as button 4/5 presses and releases', async () => {
    const s = await setup();
    await connect(s);
    const canvas = canvasOf(s.el);
    const rect = canvas.getBoundingClientRect();
    const wheel = new WheelEvent('wheel', {
      deltaY: 100,
      clientX: rect.left + 10,
      clientY: rect.top + 10,
      bubbles: true,
      cancelable: true,
    });
    canvas.dispatchEvent(wheel);
    expect(wheel.defaultPrevented).to.equal(true);
    canvas.dispatchEvent(
      new WheelEvent('wheel', {
        deltaY: -50,
        clientX: rect.left + 10,
        clientY: rect.top + 10,
        cancelable: true,
      }),
    );
    await waitUntil(() => s.worker.sent.length >= 6);
    expect(s.worker.take().map((m) => (m.t === 'pointer' ? m.buttons : -1))).to.deep.equal([
      16, 0, 16, 0, 8, 0,
    ]);
  });

  it('sends nothing before the stream is connected', async () => {
    const s = await setup();
    const canvas = canvasOf(s.el);
    const down = key('keydown', { key: 'Tab', code: 'Tab' });
    canvas.dispatchEvent(down);
    expect(down.defaultPrevented).to.equal(false, 'Tab still moves focus while not connected');
    await new Promise((r) => setTimeout(r, 10));
    expect(s.worker.sent).to.deep.equal([]);
  });

  it('Ctrl+Shift+F12 moves focus from the desktop to the toolbar', async () => {
    const s = await setup();
    await connect(s);
    canvasOf(s.el).focus();
    canvasOf(s.el).dispatchEvent(key('keydown', { key: 'F12', code: 'F12', ctrlKey: true, shiftKey: true }));
    expect(s.el.shadowRoot?.activeElement?.getAttribute('data-action')).to.equal('back');
  });

  it('shows the close reason and reconnects with a new worker and canvas', async () => {
    const s = await setup();
    await connect(s);
    const firstCanvas = canvasOf(s.el);
    s.el.reconnectDelayMs = 0; // no automatic reconnection here (see viewer-features.test.ts)
    s.worker.emit({ type: 'closed', code: 4502, reason: '' });
    await s.el.updateComplete;
    expect(statusText(s.el)).to.contain('The connection to the desktop was lost. (code 4502)');
    await expect(s.el).to.be.accessible();
    s.el.shadowRoot?.querySelector<HTMLButtonElement>('[data-action="reconnect"]')?.click();
    await waitUntil(() => s.workers[1]?.connected);
    await waitUntil(() => s.worker.terminated, 'the old worker is terminated');
    expect(s.worker.disconnects).to.equal(1);
    expect(canvasOf(s.el)).not.to.equal(firstCanvas);
    expect(s.workers[1]?.canvas).to.be.instanceOf(OffscreenCanvas);
  });

  it('shows a stream error with its code', async () => {
    const s = await setup();
    await connect(s);
    s.worker.emit({ type: 'error', code: 'UPSTREAM_CLOSED', message: 'The desktop closed the connection.' });
    s.worker.emit({ type: 'closed', code: 4502, reason: 'upstream closed' });
    await s.el.updateComplete;
    expect(statusText(s.el)).to.contain('The desktop closed the connection. (UPSTREAM_CLOSED)');
  });

  it('shows the launch steps while connecting after a launch', async () => {
    const s = await setup({ launching: true });
    const steps = s.el.shadowRoot?.querySelectorAll<HTMLElement>('.launch-steps li') ?? [];
    expect([...steps].map((li) => li.dataset['status'])).to.deep.equal(['done', 'done', 'done', 'current']);
    await connect(s);
    expect(s.el.shadowRoot?.querySelector('.launch-steps')).to.equal(null);
  });

  it('toolbar Pause / Resume reuse the store actions', async () => {
    const s = await setup();
    await connect(s);
    const btn = (a: string): HTMLButtonElement | null | undefined =>
      s.el.shadowRoot?.querySelector<HTMLButtonElement>(`[data-action="${a}"]`);
    expect(btn('pause')?.disabled).to.equal(false);
    expect(btn('resume')?.disabled).to.equal(true);
    btn('pause')?.click();
    await waitUntil(() => s.store.find(s.sessionId)?.state === 'paused');
    await s.el.updateComplete;
    expect(btn('resume')?.disabled).to.equal(false);
    expect(s.el.shadowRoot?.querySelector('[data-overlay="paused"]')).to.not.equal(null, 'paused overlay');
    await expect(s.el).to.be.accessible();
    btn('resume')?.click();
    await waitUntil(() => s.fake.sessions.get(s.sessionId)?.state === 'active');
    await waitUntil(() => s.el.shadowRoot?.querySelector('[data-overlay="paused"]') === null);
  });

  it('reconnects by itself when a stream that ended during a pause sees the session active again', async () => {
    const s = await setup();
    await connect(s);
    await s.store.pause(s.sessionId);
    s.worker.emit({ type: 'closed', code: 4410, reason: '' });
    await s.el.updateComplete;
    expect(statusText(s.el)).to.contain('The session has ended.');
    await s.store.resume(s.sessionId);
    await waitUntil(() => s.workers[1]?.connected, 'a new stream once active again');
  });

  it('toolbar Terminate confirms, terminates, tears the stream down and leaves the viewer', async () => {
    const s = await setup();
    await connect(s);
    s.el.shadowRoot?.querySelector<HTMLButtonElement>('[data-action="terminate"]')?.click();
    await s.el.updateComplete;
    expect(s.el.shadowRoot?.activeElement?.getAttribute('data-action')).to.equal('cancel-terminate');
    await expect(s.el).to.be.accessible();
    const closed = oneEvent(s.el, 'vsc-close-viewer') as Promise<CustomEvent<CloseViewerDetail>>;
    s.el.shadowRoot?.querySelector<HTMLButtonElement>('[data-action="confirm-terminate"]')?.click();
    expect((await closed).detail.sessionId).to.equal(s.sessionId);
    expect(s.fake.sessions.get(s.sessionId)?.state).to.equal('terminated');
    await waitUntil(() => s.worker.terminated);
  });

  it('Back dispatches vsc-close-viewer', async () => {
    const s = await setup();
    const closed = oneEvent(s.el, 'vsc-close-viewer');
    s.el.shadowRoot?.querySelector<HTMLButtonElement>('[data-action="back"]')?.click();
    await closed;
  });

  it('tears everything down when removed: stream, worker, listeners and store subscription', async () => {
    const s = await setup();
    await connect(s);
    const canvas = canvasOf(s.el);
    canvas.focus();
    canvas.dispatchEvent(key('keydown', { key: 'Shift', code: 'ShiftLeft' }));
    expect(s.store.observerCount).to.equal(1);
    s.el.remove();
    expect(s.store.observerCount).to.equal(0);
    await waitUntil(() => s.worker.terminated, 'worker terminated');
    expect(s.worker.disconnects).to.equal(1);
    expect(s.worker.sent.at(-1)).to.deep.equal({ t: 'key', keysym: 0xffe1, down: false }, 'no stuck Shift');
    const count = s.worker.sent.length;
    canvas.dispatchEvent(key('keydown', { key: 'a', code: 'KeyA' }));
    expect(s.worker.sent.length).to.equal(count, 'listeners removed');
  });

  it('terminates a worker that arrives after the viewer was removed', async () => {
    const fake = new FakeApi();
    const api = fake.client();
    let resolveWorker: (w: FakeDecoderWorker['handle']) => void = () => undefined;
    const late = new FakeDecoderWorker();
    const el = await fixture<VscViewer>(
      html`<vsc-viewer
        session-id="abc"
        .api=${api}
        .workerFactory=${() => new Promise<FakeDecoderWorker['handle']>((r) => (resolveWorker = r))}
      ></vsc-viewer>`,
    );
    el.remove();
    resolveWorker(late.handle);
    await waitUntil(() => late.terminated);
    expect(late.canvas).to.equal(null);
  });

  it('works with the real decoder worker: reports a closed stream when the gateway is unreachable', async () => {
    const api = new ApiClient({ apiBase: 'http://127.0.0.1:9', getToken: async () => FAKE_TOKEN });
    const el = await fixture<VscViewer>(
      html`<vsc-viewer session-id="abc" reconnect-delay="0" .api=${api}></vsc-viewer>`,
    );
    await waitUntil(
      () => el.streamStatus.kind === 'closed' || el.streamStatus.kind === 'error',
      'stream ends',
      {
        timeout: 8000,
      },
    );
    expect(statusText(el)).to.match(/Disconnected|Could not/);
    el.remove();
  });
});
