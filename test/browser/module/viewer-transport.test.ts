import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import { NEVER } from 'rxjs';
import type { Preferences } from '../../../protocol/preferences.ts';
import { DEFAULT_PREFERENCES } from '../../../protocol/preferences-defaults.ts';
import { STREAM_RTC_CONNECT_TIMEOUT_MS } from '../../../protocol/stream.ts';
import '../../../module/viewer/viewer.ts';
import type { VscViewer } from '../../../module/viewer/viewer.component.ts';
import { ApiClient } from '../../../module/api/api-client.ts';
import { PreferencesStore } from '../../../module/state/preferences-store.ts';
import { SessionsStore } from '../../../module/state/sessions-store.ts';
import { FAKE_BASE, FAKE_TOKEN, FakeApi } from './support/fake-api.ts';
import { fakeWorkerFactory, type FakeDecoderWorker } from './support/fake-decoder-worker.ts';

/**
 * Which transport the viewer asks for, as the user's stored Settings say: the WebRTC offer it sends (or not)
 * on the stream's WebSocket, and whether it keeps trying after the `auto` time bound.
 */

interface Setup {
  el: VscViewer;
  worker: FakeDecoderWorker;
  prefs: PreferencesStore;
  /** Lets a held `GET /preferences` answer. */
  release: () => void;
}

const stores: PreferencesStore[] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function setup(
  saved: Partial<Preferences> | null,
  options: { holdSettings?: boolean; failSettings?: boolean } = {},
): Promise<Setup> {
  const fake = new FakeApi();
  const { sessionId } = fake.seed({ state: 'active' });
  if (saved) await fake.client().putPreferences({ ...DEFAULT_PREFERENCES, ...saved });
  if (options.failSettings) fake.failures.set('/preferences', 'INTERNAL');
  let release = (): void => undefined;
  const held = options.holdSettings ? new Promise<void>((r) => (release = r)) : Promise.resolve();
  // The settings answer only when the test says so (the stream is faster than them).
  const api = new ApiClient({
    apiBase: FAKE_BASE,
    getToken: async () => FAKE_TOKEN,
    fetch: async (input, init) => {
      if (String(input).endsWith('/preferences') && (init?.method ?? 'GET') === 'GET') await held;
      return fake.fetch(String(input), init ?? {});
    },
  });
  const store = new SessionsStore({ api, changeFeed: () => NEVER });
  await store.refresh();
  const prefs = new PreferencesStore({ api, cache: null, channelName: null });
  stores.push(prefs);
  const { factory, workers } = fakeWorkerFactory();
  const el = await fixture<VscViewer>(
    html`<vsc-viewer
      session-id=${sessionId}
      .api=${api}
      .store=${store}
      .preferences=${prefs}
      .workerFactory=${factory}
    ></vsc-viewer>`,
  );
  await waitUntil(() => workers[0]?.connected, 'the viewer connects its worker');
  return { el, worker: workers[0] as FakeDecoderWorker, prefs, release };
}

async function streamUp(s: Setup): Promise<void> {
  s.worker.emit({ type: 'connected', width: 1280, height: 800, name: 'desktop' });
  await s.el.updateComplete;
}

const offers = (w: FakeDecoderWorker) => w.signals.filter((x) => x.kind === 'offer');

describe('<vsc-viewer> asks for the stream transport the user chose', () => {
  afterEach(() => {
    for (const s of stores.splice(0)) s.dispose();
  });

  it('websocket: never offers WebRTC, and the desktop is shown over the WebSocket', async () => {
    const s = await setup({ streamTransport: 'websocket' });
    await waitUntil(() => s.prefs.value.source === 'server', 'settings loaded');
    await streamUp(s);
    await sleep(300);
    expect(s.el.transport).to.equal('websocket');
    expect(s.worker.signals).to.deep.equal([], 'no offer, no candidates');
    expect(s.worker.channels).to.deep.equal([], 'no DataChannel');
    expect(s.el.streamStatus.kind).to.equal('connected');
  });

  it('webrtc keeps asking past the automatic time bound; auto gives up and stays on the WebSocket', async () => {
    const webrtc = await setup({ streamTransport: 'webrtc' });
    const auto = await setup({ streamTransport: 'auto' });
    await waitUntil(() => webrtc.prefs.value.source === 'server' && auto.prefs.value.source === 'server');
    await streamUp(webrtc);
    await streamUp(auto);
    await waitUntil(
      () => offers(webrtc.worker).length === 1 && offers(auto.worker).length === 1,
      'both offer',
    );
    // Nobody answers (as a gateway with WebRTC blocked on the way).
    await sleep(STREAM_RTC_CONNECT_TIMEOUT_MS + 500);
    expect(auto.worker.channels[0]?.readyState).to.equal('closed', 'auto closed its peer');
    expect(webrtc.worker.channels[0]?.readyState).to.equal('connecting', 'webrtc still waits for ICE');
    expect(offers(webrtc.worker)).to.have.length(1, 'one offer per connection');
    expect(auto.el.streamStatus.kind).to.equal('connected', 'the stream never left the WebSocket');
  });

  it('a refused webrtc request leaves the stream on the WebSocket', async () => {
    const s = await setup({ streamTransport: 'webrtc' });
    await waitUntil(() => s.prefs.value.source === 'server');
    await streamUp(s);
    await waitUntil(() => offers(s.worker).length === 1, 'the offer is sent');
    s.worker.emit({ type: 'rtc', signal: { kind: 'refused', reason: 'WebRTC is disabled on this gateway' } });
    await waitUntil(() => s.worker.channels[0]?.readyState === 'closed', 'the peer is closed');
    expect(s.el.streamStatus.kind).to.equal('connected');
  });

  it('waits for settings that are still loading: a stored websocket never sends an offer', async () => {
    const s = await setup({ streamTransport: 'websocket' }, { holdSettings: true });
    await streamUp(s);
    await sleep(200);
    expect(s.worker.signals).to.deep.equal([], 'nothing offered before the settings are known');
    s.release();
    await waitUntil(() => s.el.transport === 'websocket', 'the setting arrives');
    await sleep(200);
    expect(s.worker.signals).to.deep.equal([]);
    expect(s.worker.channels).to.deep.equal([]);
  });

  it('waits for settings that are still loading, then offers what they ask for', async () => {
    const s = await setup({ streamTransport: 'webrtc' }, { holdSettings: true });
    await streamUp(s);
    await sleep(200);
    expect(offers(s.worker)).to.have.length(0);
    s.release();
    await waitUntil(() => offers(s.worker).length === 1, 'the offer follows the settings');
    expect(s.el.transport).to.equal('webrtc');
  });

  it('settings that cannot be loaded do not hold the stream back: the viewer tries as before (auto)', async () => {
    const s = await setup(null, { failSettings: true });
    await waitUntil(() => s.prefs.value.error !== null, 'the settings failed');
    await streamUp(s);
    await waitUntil(() => offers(s.worker).length === 1, 'auto offers');
    expect(s.el.transport).to.equal('auto');
  });

  it('switching to websocket while WebRTC is still negotiating drops the attempt, not the stream', async () => {
    const s = await setup({ streamTransport: 'auto' });
    await waitUntil(() => s.prefs.value.source === 'server');
    await streamUp(s);
    await waitUntil(() => offers(s.worker).length === 1);
    await s.prefs.save({ ...(s.prefs.value.preferences as Preferences), streamTransport: 'websocket' });
    await waitUntil(() => s.worker.channels[0]?.readyState === 'closed', 'the attempt is dropped');
    expect(s.el.streamStatus.kind).to.equal('connected');
    expect(s.worker.disconnects).to.equal(0, 'the stream itself goes on');
  });
});
