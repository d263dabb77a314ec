import { expect, fixture, html, oneEvent, waitUntil } from '@open-wc/testing';
import { sendKeys } from '@web/test-runner-commands';
import type { Preferences } from '../../../protocol/preferences.ts';
import '../../../module/settings/settings.ts';
import type { VscSettings } from '../../../module/settings/settings.component.ts';
import { PreferencesCache } from '../../../module/state/preferences-cache.ts';
import { PreferencesStore } from '../../../module/state/preferences-store.ts';
import { FakeApi } from './support/fake-api.ts';
import { dropDatabase, goOffline, goOnline, uniqueDbName } from './support/offline.ts';

const STORED: Preferences = {
  defaultTier: 'standard',
  streamQuality: 'medium',
  scaling: 'fit',
  keyboardLayout: 'gb',
  idleTimeoutMinutes: 40,
  notifications: true,
  streamTransport: 'websocket',
};

interface Setup {
  el: VscSettings;
  fake: FakeApi;
  store: PreferencesStore;
}

const stores: PreferencesStore[] = [];
let dbName = '';

async function setup(fake = new FakeApi(), cache = false): Promise<Setup> {
  const store = new PreferencesStore({
    api: fake.client(),
    cache: cache ? new PreferencesCache(dbName) : null,
    channelName: null,
  });
  stores.push(store);
  const el = await fixture<VscSettings>(html`<vsc-settings .preferences=${store}></vsc-settings>`);
  return { el, fake, store };
}

const q = <T extends Element = HTMLElement>(el: VscSettings, selector: string): T | null =>
  el.shadowRoot?.querySelector<T>(selector) ?? null;

async function loaded(el: VscSettings, store: PreferencesStore): Promise<void> {
  await waitUntil(() => store.value.source === 'server' && q(el, 'form'), 'settings loaded');
  await el.updateComplete;
}

function change(el: VscSettings, selector: string, value: string): void {
  const field = q<HTMLInputElement | HTMLSelectElement>(el, selector);
  if (!field) throw new Error(`no ${selector}`);
  field.value = value;
  field.dispatchEvent(new Event('change', { bubbles: true }));
}

describe('<vsc-settings>', () => {
  beforeEach(() => {
    dbName = uniqueDbName();
  });
  afterEach(async () => {
    goOnline();
    for (const s of stores.splice(0)) s.dispose();
    await dropDatabase(dbName);
  });

  it('shows a loading state, then every setting with the stored values', async () => {
    const fake = new FakeApi();
    fake.preferences.set('alice', { preferences: STORED, updatedAt: '2026-01-12T10:00:00.000Z' });
    const { el, store } = await setup(fake);
    await loaded(el, store);
    expect(q<HTMLSelectElement>(el, '[name="defaultTier"]')?.value).to.equal('standard');
    expect(q<HTMLSelectElement>(el, '[name="streamQuality"]')?.value).to.equal('medium');
    expect(q<HTMLInputElement>(el, '[name="scaling"][value="fit"]')?.checked).to.equal(true);
    expect(q<HTMLSelectElement>(el, '[name="keyboardLayout"]')?.value).to.equal('gb');
    expect(q<HTMLSelectElement>(el, '[name="streamTransport"]')?.value).to.equal('websocket');
    expect(q<HTMLInputElement>(el, '[name="idleTimeoutMinutes"]')?.value).to.equal('40');
    expect(q<HTMLInputElement>(el, '[name="notifications"]')?.checked).to.equal(true);
    expect(q<HTMLInputElement>(el, '[name="idleTimeoutMinutes"]')?.max).to.equal(
      '60',
      "the standard tier's limit",
    );
    expect(q(el, '[data-source]')?.textContent).to.contain('Last saved');
    expect(q<HTMLButtonElement>(el, '[data-action="save"]')?.disabled).to.equal(true, 'nothing changed yet');
    await expect(el).to.be.accessible();
  });

  it('saves the changed settings through PUT and says so', async () => {
    const { el, fake, store } = await setup();
    await loaded(el, store);
    change(el, '[name="streamQuality"]', 'lossless');
    change(el, '[name="keyboardLayout"]', 'de');
    q<HTMLInputElement>(el, '[name="scaling"][value="1:1"]')?.click();
    q<HTMLInputElement>(el, '[name="notifications"]')?.click();
    await el.updateComplete;
    expect(el.dirty).to.equal(true);
    const saved = oneEvent(el, 'vsc-preferences-saved');
    q<HTMLButtonElement>(el, '[data-action="save"]')?.click();
    await saved;
    const put = fake.requests.find((r) => r.method === 'PUT' && r.path === '/preferences');
    expect(put?.body).to.deep.equal({
      defaultTier: 'standard',
      streamQuality: 'lossless',
      scaling: '1:1',
      keyboardLayout: 'de',
      idleTimeoutMinutes: 30,
      notifications: false,
      streamTransport: 'auto',
    });
    await el.updateComplete;
    expect(el.dirty).to.equal(false);
    expect(q(el, '[aria-live="polite"]')?.textContent).to.contain('Settings saved.');
    expect(q(el, '[data-source]')?.textContent).to.contain('Last saved');
  });

  it('stream transport: shows the stored choice, saves a new one, and a new pane opens with it', async () => {
    const fake = new FakeApi();
    fake.preferences.set('alice', { preferences: STORED, updatedAt: '2026-01-12T10:00:00.000Z' });
    const first = await setup(fake);
    await loaded(first.el, first.store);
    const field = q<HTMLSelectElement>(first.el, '[name="streamTransport"]');
    expect(field?.value).to.equal('websocket');
    expect([...(field?.options ?? [])].map((o) => o.value)).to.deep.equal(['auto', 'webrtc', 'websocket']);
    expect(q(first.el, '#streamTransport-hint')?.textContent).to.contain('stays on the WebSocket');
    change(first.el, '[name="streamTransport"]', 'webrtc');
    await first.el.updateComplete;
    expect(first.el.dirty).to.equal(true);
    await first.el.save();
    const put = fake.requests.filter((r) => r.method === 'PUT' && r.path === '/preferences').at(-1);
    expect(put?.body).to.deep.equal({ ...STORED, streamTransport: 'webrtc' });
    first.el.remove();

    // Another pane (or a reload) reads it back from the server.
    const second = await setup(fake);
    await loaded(second.el, second.store);
    expect(q<HTMLSelectElement>(second.el, '[name="streamTransport"]')?.value).to.equal('webrtc');
    await expect(second.el).to.be.accessible();
  });

  it('a row stored without a stream transport shows Automatic, and Save stores it', async () => {
    const fake = new FakeApi();
    const { streamTransport: _none, ...older } = STORED;
    fake.preferences.set('alice', {
      preferences: older as Preferences, // as the previous release stored it
      updatedAt: '2026-01-12T10:00:00.000Z',
    });
    const { el, store } = await setup(fake);
    await loaded(el, store);
    expect(q<HTMLSelectElement>(el, '[name="streamTransport"]')?.value).to.equal('auto');
    expect(el.dirty).to.equal(false, 'the default is not a change');
    change(el, '[name="keyboardLayout"]', 'fr');
    await el.save();
    const put = fake.requests.filter((r) => r.method === 'PUT' && r.path === '/preferences').at(-1);
    expect((put?.body as Preferences).streamTransport).to.equal('auto');
  });

  it('keeps the idle timeout within what the default tier allows', async () => {
    const { el, fake, store } = await setup();
    await loaded(el, store);
    change(el, '[name="idleTimeoutMinutes"]', '500');
    await el.updateComplete;
    expect(el.values?.idleTimeoutMinutes).to.equal(60);
    expect(q<HTMLInputElement>(el, '[name="idleTimeoutMinutes"]')?.value).to.equal('60');
    expect(q(el, '[data-clamped]')?.textContent).to.contain('allowed: 5–60');
    change(el, '[name="idleTimeoutMinutes"]', '1');
    expect(el.values?.idleTimeoutMinutes).to.equal(5);
    change(el, '[name="idleTimeoutMinutes"]', '60');
    change(el, '[name="defaultTier"]', 'basic'); // basic allows 30 at most
    await el.updateComplete;
    expect(el.values?.idleTimeoutMinutes).to.equal(30);
    expect(q(el, '[data-clamped]')?.textContent).to.contain('the most the Basic tier allows');
    await el.save();
    const put = fake.requests.filter((r) => r.method === 'PUT').at(-1);
    expect((put?.body as Preferences).idleTimeoutMinutes).to.equal(30);
  });

  it('is operable with the keyboard alone (Tab through the fields, Enter saves)', async () => {
    const { el, fake, store } = await setup();
    await loaded(el, store);
    q<HTMLSelectElement>(el, '[name="defaultTier"]')?.focus();
    await sendKeys({ press: 'Tab' });
    expect(el.shadowRoot?.activeElement?.getAttribute('name')).to.equal('streamQuality');
    await sendKeys({ press: 'Tab' });
    expect(el.shadowRoot?.activeElement?.getAttribute('name')).to.equal('scaling');
    await sendKeys({ press: 'ArrowRight' });
    await el.updateComplete;
    expect(el.values?.scaling).to.equal('1:1');
    await sendKeys({ press: 'Tab' });
    expect(el.shadowRoot?.activeElement?.getAttribute('name')).to.equal('streamTransport');
    await sendKeys({ press: 'Tab' });
    await sendKeys({ press: 'Tab' });
    expect(el.shadowRoot?.activeElement?.getAttribute('name')).to.equal('idleTimeoutMinutes');
    await sendKeys({ press: 'Tab' });
    expect(el.shadowRoot?.activeElement?.getAttribute('name')).to.equal('notifications');
    await sendKeys({ press: 'Space' });
    await el.updateComplete;
    expect(el.values?.notifications).to.equal(false);
    q<HTMLInputElement>(el, '[name="idleTimeoutMinutes"]')?.focus();
    await sendKeys({ press: 'Enter' });
    await waitUntil(() => fake.count('PUT', '/preferences') === 1, 'Enter submits the form');
  });

  it('Discard changes and Restore defaults', async () => {
    const fake = new FakeApi();
    fake.preferences.set('alice', { preferences: STORED, updatedAt: '2026-01-12T10:00:00.000Z' });
    const { el, store } = await setup(fake);
    await loaded(el, store);
    change(el, '[name="keyboardLayout"]', 'jp');
    await el.updateComplete;
    q<HTMLButtonElement>(el, '[data-action="revert"]')?.click();
    await el.updateComplete;
    expect(el.values?.keyboardLayout).to.equal('gb');
    q<HTMLButtonElement>(el, '[data-action="defaults"]')?.click();
    await el.updateComplete;
    expect(el.values?.keyboardLayout).to.equal('us');
    expect(el.dirty).to.equal(true, 'defaults are not saved until Save');
  });

  it('offline: opens from the cache, read-only, with a notice; Save is disabled; back online it syncs', async () => {
    const fake = new FakeApi();
    fake.preferences.set('alice', { preferences: STORED, updatedAt: '2026-01-12T10:00:00.000Z' });
    const online = await setup(fake, true);
    await loaded(online.el, online.store);
    online.el.remove();
    online.store.dispose();

    fake.preferences.set('alice', {
      preferences: { ...STORED, keyboardLayout: 'se' },
      updatedAt: '2026-01-12T11:00:00.000Z',
    });
    goOffline();
    const { el, store } = await setup(fake, true);
    await waitUntil(
      () => store.value.source === 'cache' && q(el, '[data-offline]'),
      'cached copy shown offline',
    );
    await el.updateComplete;
    expect(q<HTMLSelectElement>(el, '[name="keyboardLayout"]')?.value).to.equal('gb');
    expect(q<HTMLFieldSetElement>(el, 'fieldset.fields')?.disabled).to.equal(true);
    expect(q<HTMLButtonElement>(el, '[data-action="save"]')?.disabled).to.equal(true);
    expect(q(el, '[data-offline]')?.textContent).to.contain('You are offline.');
    await expect(el).to.be.accessible();

    goOnline();
    await waitUntil(() => store.value.source === 'server' && !q(el, '[data-offline]'), 'synced');
    await el.updateComplete;
    expect(q<HTMLSelectElement>(el, '[name="keyboardLayout"]')?.value).to.equal('se');
    expect(q<HTMLFieldSetElement>(el, 'fieldset.fields')?.disabled).to.equal(false);
  });

  it('shows a load error with Retry when there is nothing cached', async () => {
    const fake = new FakeApi();
    fake.failures.set('/preferences', 'INTERNAL');
    const { el, store } = await setup(fake);
    await waitUntil(() => q(el, '[role="alert"]'));
    expect(q(el, '[role="alert"]')?.getAttribute('data-code')).to.equal('INTERNAL');
    await expect(el).to.be.accessible();
    fake.failures.clear();
    q<HTMLButtonElement>(el, '[data-action="retry"]')?.click();
    await loaded(el, store);
  });

  it('shows a rejected save with its code', async () => {
    const { el, fake, store } = await setup();
    await loaded(el, store);
    change(el, '[name="keyboardLayout"]', 'fr');
    fake.failures.set('/preferences', 'RATE_LIMITED');
    await el.save();
    await el.updateComplete;
    const alert = q(el, '[role="alert"]');
    expect(alert?.getAttribute('data-code')).to.equal('RATE_LIMITED');
    expect(alert?.textContent).to.contain('not saved');
    expect(el.dirty).to.equal(true, 'the edit is kept');
  });

  it('is accessible in the dark theme', async () => {
    const { el, store } = await setup();
    await loaded(el, store);
    el.theme = 'dark';
    await el.updateComplete;
    expect(getComputedStyle(el).colorScheme).to.equal('dark');
    await expect(el).to.be.accessible();
  });
});
