import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import { NEVER, type Subscription } from 'rxjs';
import type { Preferences } from '../../../protocol/preferences.ts';
import { DEFAULT_PREFERENCES } from '../../../protocol/preferences-defaults.ts';
import '../../../module/viewer/viewer.ts';
import type { VscViewer } from '../../../module/viewer/viewer.component.ts';
import { layoutKeysym } from '../../../module/viewer/keyboard-layouts.ts';
import { QUALITY_LEVELS } from '../../../module/viewer/stream-preferences.ts';
import { PreferencesStore } from '../../../module/state/preferences-store.ts';
import { SessionsStore } from '../../../module/state/sessions-store.ts';
import { FakeApi } from './support/fake-api.ts';
import { fakeWorkerFactory, type FakeDecoderWorker } from './support/fake-decoder-worker.ts';

interface Setup {
  el: VscViewer;
  worker: FakeDecoderWorker;
  prefs: PreferencesStore;
  fake: FakeApi;
}

const stores: PreferencesStore[] = [];
const subscriptions: Subscription[] = [];

async function setup(saved: Partial<Preferences>, options: { viewOnly?: boolean } = {}): Promise<Setup> {
  const fake = new FakeApi();
  const { sessionId } = fake.seed({ state: 'active' });
  const api = fake.client();
  await api.putPreferences({ ...DEFAULT_PREFERENCES, ...saved });
  const store = new SessionsStore({ api, changeFeed: () => NEVER });
  await store.refresh();
  const prefs = new PreferencesStore({ api, cache: null, channelName: null });
  stores.push(prefs);
  const { factory, workers } = fakeWorkerFactory();
  const wrapper = await fixture<HTMLDivElement>(
    html`<div style="width: 640px">
      <vsc-viewer
        session-id=${sessionId}
        .api=${api}
        .store=${store}
        .preferences=${prefs}
        .workerFactory=${factory}
        ?view-only=${options.viewOnly ?? false}
      ></vsc-viewer>
    </div>`,
  );
  const el = wrapper.querySelector('vsc-viewer') as VscViewer;
  await waitUntil(() => workers[0]?.connected, 'the viewer connects its worker');
  await waitUntil(() => prefs.value.source === 'server', 'the settings are loaded');
  await el.updateComplete;
  return { el, worker: workers[0] as FakeDecoderWorker, prefs, fake };
}

async function connect(s: Setup): Promise<void> {
  s.worker.emit({ type: 'connected', width: 1280, height: 800, name: 'desktop' });
  await s.el.updateComplete;
}

const key = (type: 'keydown' | 'keyup', init: KeyboardEventInit): KeyboardEvent =>
  new KeyboardEvent(type, { bubbles: true, composed: true, cancelable: true, ...init });
const canvasOf = (el: VscViewer): HTMLCanvasElement =>
  el.shadowRoot?.querySelector('canvas') as HTMLCanvasElement;
const qualityMessages = (w: FakeDecoderWorker) => w.sent.filter((m) => m.t === 'quality');

describe('<vsc-viewer> follows the user settings', () => {
  afterEach(() => {
    for (const s of subscriptions.splice(0)) s.unsubscribe();
    for (const s of stores.splice(0)) s.dispose();
  });

  it('asks the desktop for the stored stream quality as soon as the stream is up', async () => {
    const s = await setup({ streamQuality: 'low' });
    expect(s.el.quality).to.deep.equal(QUALITY_LEVELS.low);
    await connect(s);
    await waitUntil(() => qualityMessages(s.worker).length > 0, 'a quality message is sent');
    expect(qualityMessages(s.worker)).to.deep.equal([{ t: 'quality', jpeg: 2, compression: 9 }]);
    const jpeg = s.el.shadowRoot?.querySelector<HTMLSelectElement>('[data-control="jpeg"]');
    expect(jpeg?.value).to.equal('2');
  });

  it('sends nothing for the automatic quality (the gateway already uses the defaults)', async () => {
    const s = await setup({ streamQuality: 'auto' });
    await connect(s);
    await new Promise((r) => setTimeout(r, 50));
    expect(qualityMessages(s.worker)).to.deep.equal([]);
  });

  it('follows a quality change saved while the viewer is open', async () => {
    const s = await setup({ streamQuality: 'high' });
    await connect(s);
    await s.prefs.save({ ...(s.prefs.value.preferences as Preferences), streamQuality: 'medium' });
    await waitUntil(() => qualityMessages(s.worker).length > 0, 'the new quality is sent');
    expect(qualityMessages(s.worker).at(-1)).to.deep.equal({ t: 'quality', ...QUALITY_LEVELS.medium });
  });

  it('applies the stored scaling, and follows a change of it', async () => {
    const s = await setup({ scaling: '1:1' });
    expect(s.el.scaling).to.equal('none');
    const screen = s.el.shadowRoot?.querySelector<HTMLElement>('.screen');
    expect(screen?.dataset['scaling']).to.equal('none');
    await connect(s);
    await s.prefs.save({ ...(s.prefs.value.preferences as Preferences), scaling: 'remote' });
    await waitUntil(() => s.el.scaling === 'remote', 'scaling follows the saved setting');
    // Remote scaling asks the desktop for the viewer's size (debounced).
    await waitUntil(() => s.worker.sent.some((m) => m.t === 'resize'), 'a resize is sent', { timeout: 3000 });
  });

  it('an observer never resizes the desktop: remote scaling becomes fit', async () => {
    const s = await setup({ scaling: 'remote' }, { viewOnly: true });
    expect(s.el.scaling).to.equal('fit');
  });

  it('the toolbar still changes this viewer alone until the setting itself changes', async () => {
    const s = await setup({ scaling: 'fit', streamQuality: 'high' });
    await connect(s);
    const select = s.el.shadowRoot?.querySelector<HTMLSelectElement>('[data-control="scaling"]');
    if (!select) throw new Error('no scaling control');
    select.value = 'none';
    select.dispatchEvent(new Event('change'));
    await s.el.updateComplete;
    expect(s.el.scaling).to.equal('none');
    // A save that leaves scaling as it was does not override the viewer's own choice.
    await s.prefs.save({ ...(s.prefs.value.preferences as Preferences), notifications: false });
    await s.el.updateComplete;
    expect(s.el.scaling).to.equal('none');
  });

  it('guesses a key the browser cannot identify on the stored keyboard layout', async () => {
    const s = await setup({ keyboardLayout: 'de' });
    expect(s.el.keyboardLayout).to.equal('de');
    await connect(s);
    const canvas = canvasOf(s.el);
    canvas.dispatchEvent(key('keydown', { key: 'Unidentified', code: 'KeyZ' }));
    canvas.dispatchEvent(key('keyup', { key: 'Unidentified', code: 'KeyZ' }));
    // Identified keys are sent as the character the browser reports, whatever the layout.
    canvas.dispatchEvent(key('keydown', { key: 'z', code: 'KeyY' }));
    canvas.dispatchEvent(key('keyup', { key: 'z', code: 'KeyY' }));
    await waitUntil(() => s.worker.sent.filter((m) => m.t === 'key').length === 4);
    expect(s.worker.sent.filter((m) => m.t === 'key')).to.deep.equal([
      { t: 'key', keysym: 0x79, down: true }, // 'y': KeyZ on a German keyboard
      { t: 'key', keysym: 0x79, down: false },
      { t: 'key', keysym: 0x7a, down: true },
      { t: 'key', keysym: 0x7a, down: false },
    ]);
    await s.prefs.save({ ...(s.prefs.value.preferences as Preferences), keyboardLayout: 'fr' });
    await waitUntil(() => s.el.keyboardLayout === 'fr');
    s.worker.sent.length = 0;
    canvas.dispatchEvent(key('keydown', { key: 'Unidentified', code: 'KeyQ', shiftKey: true }));
    await waitUntil(() => s.worker.sent.length === 1);
    expect(s.worker.sent[0]).to.deep.equal({ t: 'key', keysym: 0x41, down: true }); // 'A' on AZERTY
  });

  it('stays accessible with the settings applied', async () => {
    const s = await setup({ scaling: '1:1', streamQuality: 'low' });
    await connect(s);
    await expect(s.el).to.be.accessible();
  });
});

describe('layoutKeysym', () => {
  it('maps physical keys per layout, US for unknown layouts, null for non-character keys', () => {
    expect(layoutKeysym('us', 'KeyZ', false)).to.equal(0x7a);
    expect(layoutKeysym('de', 'KeyZ', false)).to.equal(0x79);
    expect(layoutKeysym('de', 'Minus', false)).to.equal(0xdf); // ß
    expect(layoutKeysym('fr', 'Digit2', false)).to.equal(0xe9); // é
    expect(layoutKeysym('gb', 'Digit3', true)).to.equal(0xa3); // £
    expect(layoutKeysym('jp', 'Digit2', true)).to.equal(0x40); // no table: the US '@'
    expect(layoutKeysym('de', 'Enter', false)).to.equal(null);
  });
});
