import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import { NEVER } from 'rxjs';
import '../../../module/viewer/viewer.ts';
import type { VscViewer } from '../../../module/viewer/viewer.component.ts';
import { SessionsStore } from '../../../module/state/sessions-store.ts';
import { FakeApi } from './support/fake-api.ts';
import { fakeWorkerFactory, type FakeDecoderWorker } from './support/fake-decoder-worker.ts';

/**
 * A viewer watching through a collaborative workspace follows the gateway's `access` message: view-only exactly
 * while the gateway drops its input, with a hint that says why, and a clear message when it was removed.
 */
async function setup(): Promise<{ el: VscViewer; worker: FakeDecoderWorker; workers: FakeDecoderWorker[] }> {
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
      ></vsc-viewer>
    </div>`,
  );
  const el = wrapper.querySelector('vsc-viewer') as VscViewer;
  await waitUntil(() => workers[0]?.connected, 'the viewer connects its worker');
  const worker = workers[0] as FakeDecoderWorker;
  worker.emit({ type: 'connected', width: 1280, height: 800, name: 'desktop' });
  await el.updateComplete;
  return { el, worker, workers };
}

/** The key events the viewer sent (other traffic, e.g. WebRTC signalling, is not what these tests are about). */
const keys = (worker: FakeDecoderWorker): unknown[] => worker.take().filter((m) => m.t === 'key');
const q = (el: VscViewer, selector: string): HTMLElement | null =>
  el.shadowRoot?.querySelector<HTMLElement>(selector) ?? null;
const key = (type: 'keydown' | 'keyup', k: string, code: string): KeyboardEvent =>
  new KeyboardEvent(type, { key: k, code, bubbles: true, composed: true, cancelable: true });

describe('<vsc-viewer> in a collaborative workspace', () => {
  it('is view-only while the owner has not given control, types once given it, releases keys when taken back', async () => {
    const { el, worker } = await setup();
    const canvas = q(el, 'canvas') as HTMLCanvasElement;
    worker.emit({ type: 'access', role: 'participant', input: false });
    await el.updateComplete;
    expect(el.viewOnly).to.equal(true);
    expect(el.hasAttribute('view-only')).to.equal(true);
    expect(q(el, '#keyboard-hint')?.dataset['access']).to.equal('view-only');
    expect(q(el, '#keyboard-hint')?.textContent).to.match(/the owner has not given you control/);
    expect(q(el, '[data-action="terminate"]'), 'the session’s controls are the owner’s').to.equal(null);
    keys(worker);
    canvas.dispatchEvent(key('keydown', 'a', 'KeyA'));
    await new Promise((r) => setTimeout(r, 50));
    expect(keys(worker)).to.deep.equal([]);

    worker.emit({ type: 'access', role: 'participant', input: true });
    await el.updateComplete;
    expect(el.viewOnly).to.equal(false);
    expect(q(el, '#keyboard-hint')?.dataset['access']).to.equal('control');
    expect(q(el, '#keyboard-hint')?.textContent).to.match(/You have control of this desktop/);
    canvas.dispatchEvent(key('keydown', 'b', 'KeyB'));
    await waitUntil(() => worker.sent.some((m) => m.t === 'key'), 'the key is sent');
    expect(keys(worker)).to.deep.equal([{ t: 'key', keysym: 0x62, down: true }]);

    // Taken back with B still held: the key goes up first, then nothing more is sent.
    worker.emit({ type: 'access', role: 'participant', input: false });
    await el.updateComplete;
    await waitUntil(() => worker.sent.some((m) => m.t === 'key'), 'the held key is released');
    expect(keys(worker)).to.deep.equal([{ t: 'key', keysym: 0x62, down: false }]);
    expect(el.viewOnly).to.equal(true);
    canvas.dispatchEvent(key('keydown', 'c', 'KeyC'));
    await new Promise((r) => setTimeout(r, 50));
    expect(keys(worker)).to.deep.equal([]);
  });

  it('an observer is told so; a view-only set by the host is never lifted by the gateway', async () => {
    const { el, worker } = await setup();
    el.viewOnly = true; // the host's choice (the parcel for an observer, or a user)
    worker.emit({ type: 'access', role: 'observer', input: false });
    await el.updateComplete;
    expect(q(el, '#keyboard-hint')?.textContent).to.match(/you are an observer in this workspace/);
    worker.emit({ type: 'access', role: 'participant', input: true });
    await el.updateComplete;
    expect(el.viewOnly, 'only a view-only the gateway turned on is turned off by it').to.equal(true);
  });

  it('removed from the workspace: closed for good with a clear message, no reconnection', async () => {
    const { el, worker, workers } = await setup();
    worker.emit({ type: 'access', role: 'participant', input: false });
    worker.emit({ type: 'closed', code: 4403, reason: 'no longer in the workspace' });
    await el.updateComplete;
    expect(el.streamStatus.kind).to.equal('closed');
    expect(q(el, '[part="status"]')?.textContent).to.match(
      /You no longer have access: you left or were removed from the workspace/,
    );
    expect(q(el, '[data-overlay="removed"]')).not.to.equal(null);
    await new Promise((r) => setTimeout(r, 200));
    expect(workers.length, 'no second connection').to.equal(1);
  });
});
