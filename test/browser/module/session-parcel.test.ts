import { expect, waitUntil } from '@open-wc/testing';
import { sendKeys } from '@web/test-runner-commands';
import { mountRootParcel, type Parcel } from 'single-spa';
import * as parcelLifecycles from '../../../module/session-parcel.ts';
import {
  mountedParcel,
  validateParcelProps,
  type ParcelLifecycleProps,
} from '../../../module/session-parcel.ts';
import type { VscViewer } from '../../../module/viewer/viewer.component.ts';
import { QUALITY_LEVELS } from '../../../module/viewer/stream-preferences.ts';
import { DEFAULT_PREFERENCES } from '../../../protocol/preferences-defaults.ts';
import { SESSION_CHANGED_EVENT, type SessionChangedDetail } from '../../../module/shared/events.ts';
import { FAKE_BASE, FakeApi } from './support/fake-api.ts';
import { fakeWorkerFactory } from './support/fake-decoder-worker.ts';

describe('./session-parcel (single-spa parcel of one session)', () => {
  let fake: FakeApi;
  let host: HTMLElement;
  let parcel: Parcel | undefined;
  const realFetch = window.fetch;

  beforeEach(() => {
    fake = new FakeApi();
    window.fetch = (input: RequestInfo | URL, init?: RequestInit) =>
      String(input).startsWith(FAKE_BASE) ? fake.fetch(String(input), init ?? {}) : realFetch(input, init);
    host = document.createElement('section');
    host.id = 'workspace';
    document.body.append(host);
  });

  afterEach(async () => {
    if (parcel && parcel.getStatus() === 'MOUNTED') await parcel.unmount();
    parcel = undefined;
    host.remove();
    window.fetch = realFetch;
  });

  function props(
    sessionId: string,
    extra: Partial<ParcelLifecycleProps> = {},
  ): ParcelLifecycleProps & { domElement: HTMLElement } {
    return {
      domElement: host,
      apiBase: FAKE_BASE,
      getToken: async () => 'token-alice',
      sessionId,
      ...extra,
    };
  }

  const viewer = (): VscViewer | null | undefined =>
    mountedParcel(host)?.shadowRoot?.querySelector('vsc-viewer');

  async function mountAs(role: 'owner' | 'participant' | 'observer') {
    const session = fake.seed({ state: 'active' });
    const { factory, workers } = fakeWorkerFactory();
    parcel = mountRootParcel(parcelLifecycles, props(session.sessionId, { role, workerFactory: factory }));
    await parcel.mountPromise;
    await waitUntil(() => workers[0]?.connected, 'the viewer connects');
    workers[0]?.emit({ type: 'connected', width: 1280, height: 720, name: 'desktop' });
    await viewer()?.updateComplete;
    return { session, workers };
  }

  it('mounts into the domElement single-spa gives it: the viewer and the participant list (the owner)', async () => {
    const { session } = await mountAs('participant');
    const el = mountedParcel(host);
    expect(el?.parentElement).to.equal(host);
    await waitUntil(() =>
      el?.shadowRoot?.querySelector('[data-participant="owner"]')?.textContent?.includes('alice'),
    );
    const owner = el?.shadowRoot?.querySelector('[data-participant="owner"]');
    expect(owner?.getAttribute('data-user-id')).to.equal('alice');
    expect(owner?.textContent).to.contain('Owner');
    expect(viewer()?.sessionId).to.equal(session.sessionId);
    expect(viewer()?.embedded).to.equal(true);
    expect(viewer()?.shadowRoot?.querySelector('[data-action="back"]')).to.equal(
      null,
      'no Back in a workspace',
    );
    await expect(el).to.be.accessible();
  });

  it('participant: input goes to the desktop, but the session controls are the owner’s', async () => {
    const { workers } = await mountAs('participant');
    expect(viewer()?.viewOnly).to.equal(false);
    expect(viewer()?.shadowRoot?.querySelector('[data-action="pause"]')).to.equal(null);
    viewer()?.shadowRoot?.querySelector('canvas')?.focus();
    await sendKeys({ press: 'a' });
    await waitUntil(() => (workers[0]?.sent.length ?? 0) > 0, 'the key is sent');
  });

  it('observer: view-only — no key or pointer input is sent', async () => {
    const { workers } = await mountAs('observer');
    expect(viewer()?.viewOnly).to.equal(true);
    expect(viewer()?.hasAttribute('view-only')).to.equal(true);
    const canvas = viewer()?.shadowRoot?.querySelector('canvas');
    canvas?.focus();
    await sendKeys({ press: 'a' });
    const box = canvas?.getBoundingClientRect();
    canvas?.dispatchEvent(
      new PointerEvent('pointerdown', {
        clientX: (box?.x ?? 0) + 5,
        clientY: (box?.y ?? 0) + 5,
        buttons: 1,
        bubbles: true,
      }),
    );
    await new Promise((r) => setTimeout(r, 50));
    // Input only: the stream quality of the user's settings is the observer's own stream, and may be sent.
    expect(workers[0]?.sent.filter((m) => m.t !== 'quality')).to.deep.equal([]);
    expect(viewer()?.shadowRoot?.querySelector('#keyboard-hint')?.textContent).to.contain('View only');
    await expect(mountedParcel(host)).to.be.accessible();
  });

  it('owner: the session controls are there', async () => {
    await mountAs('owner');
    await waitUntil(() => viewer()?.shadowRoot?.querySelector('[data-action="pause"]'));
  });

  it('update() changes role and session in place', async () => {
    const { session, workers } = await mountAs('participant');
    const el = mountedParcel(host);
    const other = fake.seed({ state: 'active' });
    await parcel?.update?.(
      props(session.sessionId, { role: 'observer', workerFactory: fakeWorkerFactory().factory }),
    );
    expect(mountedParcel(host)).to.equal(el, 'same element');
    expect(viewer()?.viewOnly).to.equal(true);
    await parcel?.update?.(props(other.sessionId, { role: 'observer' }));
    await viewer()?.updateComplete;
    expect(viewer()?.sessionId).to.equal(other.sessionId);
    await waitUntil(() => workers[0]?.terminated, 'the old stream ends');
  });

  it('announces its session’s changes on the eventBus', async () => {
    const bus = new EventTarget();
    const session = fake.seed({ state: 'active' });
    const { factory } = fakeWorkerFactory();
    parcel = mountRootParcel(
      parcelLifecycles,
      props(session.sessionId, { role: 'owner', eventBus: bus, workerFactory: factory }),
    );
    await parcel.mountPromise;
    const store = (
      mountedParcel(host) as unknown as { store: { value: { live: boolean; updatedAt: number | null } } }
    ).store;
    await waitUntil(
      () => store.value.live && store.value.updatedAt !== null,
      'listed, and the stream is open',
    );
    const seen: SessionChangedDetail[] = [];
    bus.addEventListener(SESSION_CHANGED_EVENT, (e) =>
      seen.push((e as CustomEvent<SessionChangedDetail>).detail),
    );
    fake.set(session, 'paused');
    await waitUntil(() => seen.length === 1);
    expect(seen[0]).to.deep.equal({
      module: 'v-supercore',
      sessionId: session.sessionId,
      state: 'paused',
      previousState: 'active',
    });
  });

  it('applies the user’s stored stream settings to its viewer, as the main view does', async () => {
    await fake.client().putPreferences({
      ...DEFAULT_PREFERENCES,
      streamQuality: 'low',
      scaling: 'remote',
      keyboardLayout: 'de',
    });
    await mountAs('owner');
    await waitUntil(() => viewer()?.keyboardLayout === 'de', 'the settings reach the viewer');
    expect(viewer()?.quality).to.deep.equal(QUALITY_LEVELS.low);
    expect(viewer()?.scaling).to.equal('remote');
  });

  it('an observer’s viewer takes the settings but fits instead of resizing the desktop', async () => {
    await fake.client().putPreferences({
      ...DEFAULT_PREFERENCES,
      streamQuality: 'high',
      scaling: 'remote',
      keyboardLayout: 'fr',
    });
    await mountAs('observer');
    await waitUntil(() => viewer()?.keyboardLayout === 'fr', 'the settings reach the viewer');
    expect(viewer()?.quality).to.deep.equal(QUALITY_LEVELS.high);
    expect(viewer()?.viewOnly).to.equal(true);
    expect(viewer()?.scaling).to.equal('fit');
  });

  it('unmount leaves nothing: element gone, worker ended, event stream closed', async () => {
    const { workers } = await mountAs('participant');
    await waitUntil(() => fake.eventStreams.size === 1);
    await parcel?.unmount();
    expect(host.childElementCount).to.equal(0);
    expect(mountedParcel(host)).to.equal(undefined);
    await waitUntil(() => workers[0]?.terminated && fake.eventStreams.size === 0);
  });

  it('validates its props with clear messages', () => {
    const base = props('abc');
    expect(() => validateParcelProps({ ...base, sessionId: '' })).to.throw(/sessionId/);
    expect(() => validateParcelProps({ ...base, sessionId: 'a/b' })).to.throw(/sessionId/);
    expect(() => validateParcelProps({ ...base, role: 'admin' as 'owner' })).to.throw(
      /"owner", "participant" or "observer"/,
    );
    expect(() => validateParcelProps({ ...base, apiBase: '' })).to.throw(/apiBase/);
    expect(validateParcelProps(base).role).to.equal('observer', 'least privilege by default');
    expect(parcelLifecycles.timeouts.mount.millis).to.be.a('number');
  });
});
