import { expect, waitUntil } from '@open-wc/testing';
import * as lifecycles from '../../../module/index.ts';
import {
  bootstrap,
  mount,
  mountedApp,
  timeouts,
  unmount,
  update,
  type LifecycleProps,
} from '../../../module/index.ts';
import type { SessionsStore } from '../../../module/state/sessions-store.ts';

const originalUrl = location.href;

/** The dev server answers 404 here: the module shows an error state, which is all these tests need. */
const apiBase = `${location.origin}/no-backend/`;

function props(extra: Partial<LifecycleProps> = {}): LifecycleProps & { tokenCalls: () => number } {
  let calls = 0;
  return {
    name: 'v-supercore-test',
    apiBase,
    getToken: async () => {
      calls++;
      return 'token-alice';
    },
    tokenCalls: () => calls,
    ...extra,
  };
}

const appsIn = (root: ParentNode = document): number => root.querySelectorAll('vsc-app').length;

describe('single-spa lifecycles', () => {
  afterEach(async () => {
    await unmount({ name: 'v-supercore-test' } as LifecycleProps);
    history.replaceState(null, '', originalUrl);
  });

  it('exports bootstrap, mount, unmount, update and timeouts', () => {
    for (const fn of ['bootstrap', 'mount', 'unmount', 'update'] as const) {
      expect(lifecycles[fn]).to.be.a('function');
    }
    expect(timeouts.mount.millis).to.be.a('number');
    expect(timeouts.unmount.dieOnTimeout).to.equal(false);
  });

  it('rejects missing apiBase or getToken with a clear message', async () => {
    const noApi = { name: 'x', getToken: async () => 't' } as unknown as LifecycleProps;
    const noToken = { name: 'x', apiBase } as unknown as LifecycleProps;
    for (const [bad, pattern] of [
      [noApi, /missing custom prop "apiBase"/],
      [noToken, /missing custom prop "getToken"/],
    ] as const) {
      for (const lifecycle of [bootstrap, mount]) {
        try {
          await lifecycle(bad);
          expect.fail('should reject');
        } catch (error) {
          expect((error as Error).message).to.match(pattern);
        }
      }
    }
    try {
      await mount(props({ eventBus: {} as EventTarget }));
      expect.fail('should reject');
    } catch (error) {
      expect((error as Error).message).to.match(/eventBus/);
    }
  });

  it('mounts into domElement', async () => {
    const host = document.createElement('section');
    document.body.append(host);
    try {
      await bootstrap(props());
      await mount(props({ domElement: host }));
      expect(appsIn(host)).to.equal(1);
      await unmount(props());
      expect(appsIn(host)).to.equal(0);
      expect(host.isConnected).to.equal(true, "the host's element stays");
    } finally {
      host.remove();
    }
  });

  it('mounts into domElementGetter()', async () => {
    const host = document.createElement('div');
    document.body.append(host);
    try {
      await mount(props({ domElementGetter: () => host }));
      expect(appsIn(host)).to.equal(1);
    } finally {
      await unmount(props());
      host.remove();
    }
  });

  it('creates #single-spa-application:<name> when no container is given, and removes it on unmount', async () => {
    await mount(props());
    const container = document.getElementById('single-spa-application:v-supercore-test');
    expect(container).to.not.equal(null);
    expect(appsIn(container ?? undefined)).to.equal(1);
    await unmount(props());
    expect(document.getElementById('single-spa-application:v-supercore-test')).to.equal(null);
  });

  it('uses an existing #single-spa-application:<name> and leaves it in place', async () => {
    const existing = document.createElement('div');
    existing.id = 'single-spa-application:v-supercore-test';
    document.body.append(existing);
    try {
      await mount(props());
      expect(appsIn(existing)).to.equal(1);
      await unmount(props());
      expect(existing.isConnected).to.equal(true);
      expect(existing.childElementCount).to.equal(0);
    } finally {
      existing.remove();
    }
  });

  it('mount → unmount → mount leaves no extra elements and releases every store subscription', async () => {
    const p = props({ theme: 'dark', locale: 'en-GB' });
    const before = document.body.querySelectorAll('*').length;
    await mount(p);
    const first = mountedApp('v-supercore-test');
    const firstStore = first?.store as SessionsStore;
    expect(first?.theme).to.equal('dark');
    expect(firstStore.observerCount).to.be.greaterThan(0);
    await waitUntil(() => p.tokenCalls() > 0, 'the store fetches while mounted');

    await unmount(p);
    expect(firstStore.observerCount).to.equal(0);
    expect(appsIn()).to.equal(0);
    // The stream closes just after the next paint (not inside the click that left the module).
    await waitUntil(() => firstStore.disposed, 'the store is disposed', { timeout: 200 });
    expect(document.body.querySelectorAll('*').length).to.equal(before);
    const callsAfterUnmount = p.tokenCalls();

    await mount(p);
    expect(appsIn()).to.equal(1);
    expect(document.querySelectorAll('[id="single-spa-application:v-supercore-test"]').length).to.equal(1);
    const secondStore = mountedApp('v-supercore-test')?.store as SessionsStore;
    expect(secondStore).to.not.equal(firstStore);
    expect(firstStore.observerCount).to.equal(0);
    await unmount(p);
    expect(secondStore.observerCount).to.equal(0);
    // As after the first unmount: what closes just after the next paint has gone before the count.
    await waitUntil(() => secondStore.disposed, 'the second store is disposed', { timeout: 200 });
    expect(document.body.querySelectorAll('*').length).to.equal(before);

    // Nothing polls after unmount: no more token requests.
    const settled = p.tokenCalls();
    await new Promise((r) => setTimeout(r, 100));
    expect(p.tokenCalls()).to.equal(settled);
    expect(settled).to.be.at.least(callsAfterUnmount);
  });

  it('a viewer opened from a link has the settings from its first render (they decide its transport)', async () => {
    history.replaceState(null, '', '/v-supercore/sessions/abc');
    await mount(props()); // loads every chunk, so the second mount below finds them all cached
    await unmount(props());
    const viewerClass = customElements.get('vsc-viewer');
    if (!viewerClass) throw new Error('the viewer is defined');
    // The registry keeps the lifecycle callbacks it saw at define(); Lit's first update is the earliest hook left.
    type Viewer = HTMLElement & { preferences?: unknown; willUpdate(changed: unknown): void };
    const proto = viewerClass.prototype as Viewer;
    const willUpdate = proto.willUpdate;
    const seen: unknown[] = [];
    proto.willUpdate = function (this: Viewer, changed: unknown) {
      if (!seen.length) seen.push(this.preferences);
      willUpdate.call(this, changed);
    };
    try {
      await mount(props());
      expect(seen.length).to.equal(1);
      // Compared by identity: chai would print a whole store (subjects and all) in a failure message.
      const store = mountedApp('v-supercore-test')?.preferences;
      expect(store !== undefined && seen[0] === store, 'the settings store, at its first render').to.equal(
        true,
      );
    } finally {
      proto.willUpdate = willUpdate;
    }
  });

  it('unmount tears down an open viewer (worker and listeners)', async () => {
    history.replaceState(null, '', '/v-supercore/sessions/abc');
    await mount(props());
    const app = mountedApp('v-supercore-test');
    await app?.updateComplete;
    const viewer = app?.shadowRoot?.querySelector('vsc-viewer');
    expect(viewer).to.not.equal(null);
    await unmount(props());
    expect(viewer?.streamStatus.kind).to.equal('idle');
    expect(viewer?.isConnected).to.equal(false);
  });

  it('update() applies theme in place and swaps the store when apiBase changes', async () => {
    const p = props();
    await mount(p);
    const app = mountedApp('v-supercore-test');
    const oldStore = app?.store as SessionsStore;
    await update({ ...p, theme: 'dark' });
    expect(app?.getAttribute('theme')).to.equal('dark');
    expect(app?.store).to.equal(oldStore, 'same backend, same store');
    await update({ ...p, theme: 'dark', apiBase: `${location.origin}/other-backend/` });
    expect(app?.store).to.not.equal(oldStore);
    expect(app?.api?.apiBase).to.equal(`${location.origin}/other-backend/`);
    expect(oldStore.disposed).to.equal(true);
    expect(oldStore.observerCount).to.equal(0);
    expect(mountedApp('v-supercore-test')).to.equal(app);
  });
});
