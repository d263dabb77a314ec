import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import { NEVER } from 'rxjs';
import '../../../module/viewer/viewer.ts';
import type { VscViewer } from '../../../module/viewer/viewer.component.ts';
import { SessionsStore } from '../../../module/state/sessions-store.ts';
import { FakeApi } from './support/fake-api.ts';
import { fakeWorkerFactory, type FakeDecoderWorker } from './support/fake-decoder-worker.ts';

async function setup(): Promise<{ el: VscViewer; worker: FakeDecoderWorker }> {
  const fake = new FakeApi();
  const { sessionId } = fake.seed({ state: 'active' });
  const api = fake.client();
  const store = new SessionsStore({ api, changeFeed: () => NEVER });
  await store.refresh();
  const { factory, workers } = fakeWorkerFactory();
  const el = await fixture<VscViewer>(
    html`<vsc-viewer
      session-id=${sessionId}
      .api=${api}
      .store=${store}
      .workerFactory=${factory}
    ></vsc-viewer>`,
  );
  await waitUntil(() => workers[0]?.connected, 'the viewer connects its worker');
  const worker = workers[0] as FakeDecoderWorker;
  worker.emit({ type: 'connected', width: 64, height: 32, name: 'desktop' });
  await el.updateComplete;
  return { el, worker };
}

const canvasOf = (el: VscViewer): HTMLCanvasElement =>
  el.shadowRoot?.querySelector('canvas') as HTMLCanvasElement;

describe('<vsc-viewer> local cursor', () => {
  it('shows the desktop’s pointer shape as the canvas’s CSS cursor, with its hotspot', async () => {
    const { el, worker } = await setup();
    const rgba = new Uint8ClampedArray(2 * 2 * 4).fill(255);
    worker.emit({ type: 'cursor', width: 2, height: 2, hotX: 1, hotY: 0, rgba });
    const cursor = canvasOf(el).style.cursor;
    expect(cursor).to.match(/^url\("?data:image\/png;base64,[A-Za-z0-9+/=]+"?\) 1 0, default$/);
  });

  it('hides the pointer for an empty shape', async () => {
    const { el, worker } = await setup();
    worker.emit({ type: 'cursor', width: 0, height: 0, hotX: 0, hotY: 0, rgba: new Uint8ClampedArray(0) });
    expect(canvasOf(el).style.cursor).to.equal('none');
  });
});
