import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import { NEVER } from 'rxjs';
import '../../../module/viewer/viewer.ts';
import type { VscViewer } from '../../../module/viewer/viewer.component.ts';
import { SessionsStore } from '../../../module/state/sessions-store.ts';
import { FakeApi } from './support/fake-api.ts';
import { fakeWorkerFactory, type FakeDecoderWorker } from './support/fake-decoder-worker.ts';

interface Setup {
  el: VscViewer;
  workers: FakeDecoderWorker[];
  worker: FakeDecoderWorker;
}

async function setup(options: { viewOnly?: boolean; scaling?: string } = {}): Promise<Setup> {
  const fake = new FakeApi();
  const { sessionId } = fake.seed({ state: 'active' });
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
        reconnect-delay="20"
        scaling=${options.scaling ?? 'fit'}
        ?view-only=${options.viewOnly ?? false}
      ></vsc-viewer>
    </div>`,
  );
  const el = wrapper.querySelector('vsc-viewer') as VscViewer;
  await waitUntil(() => workers[0]?.connected, 'the viewer connects its worker');
  return { el, workers, worker: workers[0] as FakeDecoderWorker };
}

async function connect(s: Setup, worker = s.worker, width = 1280, height = 800): Promise<void> {
  worker.emit({ type: 'connected', width, height, name: 'desktop' });
  await s.el.updateComplete;
}

const q = <T extends Element>(el: VscViewer, selector: string): T =>
  el.shadowRoot?.querySelector(selector) as T;
const canvasOf = (el: VscViewer): HTMLCanvasElement => q(el, 'canvas');
const key = (type: 'keydown' | 'keyup', init: KeyboardEventInit): KeyboardEvent =>
  new KeyboardEvent(type, { bubbles: true, composed: true, cancelable: true, ...init });

describe('<vsc-viewer> stream features', () => {
  it('reconnects by itself after a network drop, with backoff, to the same session', async () => {
    const s = await setup();
    await connect(s);
    s.worker.emit({ type: 'closed', code: 1006, reason: '' });
    await s.el.updateComplete;
    expect(s.el.streamStatus.kind).to.equal('reconnecting');
    expect(q(s.el, '[data-overlay="reconnecting"]')).not.to.equal(null);
    await waitUntil(() => s.workers[1]?.connected, 'a second connection');
    expect(s.workers[1]?.options?.url).to.equal(s.worker.options?.url);
    // Dropping again before a frame: the next wait is longer (attempt 2).
    s.workers[1]?.emit({ type: 'closed', code: 1006, reason: '' });
    await s.el.updateComplete;
    const status = s.el.streamStatus;
    expect(status.kind === 'reconnecting' && status.attempt).to.equal(2);
    await waitUntil(() => s.workers[2]?.connected, 'a third connection');
    await connect(s, s.workers[2]);
    expect(s.el.streamStatus.kind).to.equal('connected');
  });

  it('does not reconnect after a final close (session ended) and stops when asked', async () => {
    const s = await setup();
    await connect(s);
    s.worker.emit({ type: 'closed', code: 4410, reason: '' });
    await s.el.updateComplete;
    expect(s.el.streamStatus.kind).to.equal('closed');
    await new Promise((r) => setTimeout(r, 80));
    expect(s.workers.length).to.equal(1);
  });

  it('sends the page clipboard to the desktop, and receives the desktop clipboard', async () => {
    const s = await setup();
    await connect(s);
    s.worker.take();
    s.el.sendClipboard('from the page');
    await waitUntil(() => s.worker.sent.length > 0);
    expect(s.worker.take()).to.deep.equal([{ t: 'clipboard', text: 'from the page' }]);
    // The paste event (no permission needed) goes the same way.
    const data = new DataTransfer();
    data.setData('text/plain', 'pasted');
    canvasOf(s.el).dispatchEvent(
      new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }),
    );
    await waitUntil(() => s.worker.sent.length > 0);
    expect(s.worker.take()).to.deep.equal([{ t: 'clipboard', text: 'pasted' }]);

    const got = new Promise<string>((resolve) =>
      s.el.addEventListener(
        'vsc-clipboard',
        (e) => resolve((e as CustomEvent<{ text: string }>).detail.text),
        {
          once: true,
        },
      ),
    );
    s.worker.emit({ type: 'clipboard', text: 'from the desktop' });
    expect(await got).to.equal('from the desktop');
    expect(s.el.desktopClipboard).to.equal('from the desktop');
    q<HTMLButtonElement>(s.el, '[data-action="clipboard"]').click();
    await s.el.updateComplete;
    expect(q<HTMLTextAreaElement>(s.el, '#clipboard-text').value).to.equal('from the desktop');
  });

  it('view-only: no keys, pointer, clipboard or resize reach the worker', async () => {
    const s = await setup({ viewOnly: true, scaling: 'remote' });
    await connect(s);
    s.worker.take();
    const canvas = canvasOf(s.el);
    canvas.dispatchEvent(key('keydown', { key: 'a', code: 'KeyA' }));
    canvas.dispatchEvent(key('keyup', { key: 'a', code: 'KeyA' }));
    const box = canvas.getBoundingClientRect();
    canvas.dispatchEvent(
      new PointerEvent('pointerdown', {
        clientX: box.left + 5,
        clientY: box.top + 5,
        buttons: 1,
        bubbles: true,
      }),
    );
    s.el.sendClipboard('nope');
    const data = new DataTransfer();
    data.setData('text/plain', 'nope');
    canvas.dispatchEvent(
      new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }),
    );
    canvas.dispatchEvent(new CompositionEvent('compositionend', { data: 'é' }));
    await new Promise((r) => setTimeout(r, 400));
    expect(s.worker.take()).to.deep.equal([]);
  });

  it('remote scaling asks the desktop for the screen box size, debounced', async () => {
    const s = await setup({ scaling: 'remote' });
    await connect(s);
    await waitUntil(() => s.worker.sent.some((m) => m.t === 'resize'), 'a resize request', { timeout: 2000 });
    const screen = q<HTMLElement>(s.el, '.screen');
    const resize = s.worker.sent.find((m) => m.t === 'resize');
    expect(resize).to.deep.equal({
      t: 'resize',
      width: Math.floor(screen.clientWidth) & ~1,
      height: Math.floor(screen.clientHeight) & ~1,
    });
    expect(s.worker.sent.filter((m) => m.t === 'resize').length).to.equal(1);
  });

  it('1:1 scaling maps pointer positions without scaling', async () => {
    const s = await setup({ scaling: 'none' });
    await connect(s, s.worker, 300, 200);
    s.worker.take();
    const canvas = canvasOf(s.el);
    // The fake worker never sizes the canvas: give it the framebuffer's size as the real one would.
    if (s.worker.canvas) {
      s.worker.canvas.width = 300;
      s.worker.canvas.height = 200;
      s.worker.canvas.getContext('2d')?.fillRect(0, 0, 1, 1); // committed with the next frame
    }
    await waitUntil(
      () => Math.round(canvas.getBoundingClientRect().height) === 200,
      'the new size is laid out',
    );
    const box = canvas.getBoundingClientRect();
    expect([Math.round(box.width), Math.round(box.height)], JSON.stringify(box)).to.deep.equal([300, 200]);
    canvas.dispatchEvent(
      new PointerEvent('pointermove', { clientX: box.left + 120, clientY: box.top + 50, bubbles: true }),
    );
    await waitUntil(() => s.worker.sent.length > 0);
    expect(s.worker.take()).to.deep.equal([{ t: 'pointer', x: 120, y: 50, buttons: 0 }]);
  });

  it('quality controls send a quality message; the stats overlay shows the worker figures', async () => {
    const s = await setup();
    await connect(s);
    s.worker.take();
    const jpeg = q<HTMLSelectElement>(s.el, '[data-control="jpeg"]');
    jpeg.value = '3';
    jpeg.dispatchEvent(new Event('change'));
    await waitUntil(() => s.worker.sent.some((m) => m.t === 'quality'));
    expect(s.worker.take()).to.deep.equal([{ t: 'quality', jpeg: 3, compression: 2 }]);

    q<HTMLButtonElement>(s.el, '[data-action="stats"]').click();
    await waitUntil(() => s.el.streamStats !== null, 'first figures', { timeout: 4000 });
    s.worker.statsValue = { ...s.worker.statsValue, updates: 30, bytes: 30_720, decodeMs: 15, rttMs: 4.5 };
    await waitUntil(() => s.el.streamStats !== null && s.el.streamStats.fps > 0, 'stats', { timeout: 4000 });
    await s.el.updateComplete;
    expect(q<HTMLElement>(s.el, '[data-stat="latency"]').textContent).to.equal('4.5 ms');
    expect(s.el.streamStats?.decodeMs).to.equal(0.5);
  });

  it('releases held keys when the tab is hidden, and types composed text', async () => {
    const s = await setup();
    await connect(s);
    s.worker.take();
    const canvas = canvasOf(s.el);
    canvas.dispatchEvent(key('keydown', { key: 'Shift', code: 'ShiftLeft' }));
    canvas.dispatchEvent(new CompositionEvent('compositionend', { data: 'ü' }));
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
    Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
    await waitUntil(() => s.worker.sent.length >= 4);
    expect(s.worker.take()).to.deep.equal([
      { t: 'key', keysym: 0xffe1, down: true },
      { t: 'key', keysym: 0xfc, down: true },
      { t: 'key', keysym: 0xfc, down: false },
      { t: 'key', keysym: 0xffe1, down: false },
    ]);
  });
});
