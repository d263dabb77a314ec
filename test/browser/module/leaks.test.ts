import { expect, waitUntil } from '@open-wc/testing';
import type { LifecycleProps } from '../../../module/index.ts';
import { describeLeftovers, installLeakCounter, snapshot, type Leaks } from './support/leak-counter.ts';

// Before any module code runs: the counters must see everything the module adds.
installLeakCounter();

const { bootstrap, mount, unmount, mountedApp } = await import('../../../module/index.ts');
const { FAKE_BASE, FakeApi } = await import('./support/fake-api.ts');
const { define } = await import('../../../module/shared/define.ts');
const parcelLifecycles = await import('../../../module/session-parcel.ts');

const originalUrl = location.href;
const settle = (ms = 400): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('mount → unmount → mount leaves nothing behind', () => {
  const realFetch = window.fetch;
  let fake: InstanceType<typeof FakeApi>;

  beforeEach(() => {
    fake = new FakeApi();
    window.fetch = (input: RequestInfo | URL, init?: RequestInit) =>
      String(input).startsWith(FAKE_BASE) ? fake.fetch(String(input), init ?? {}) : realFetch(input, init);
  });
  afterEach(() => {
    window.fetch = realFetch;
    history.replaceState(null, '', originalUrl);
  });

  const props: LifecycleProps = {
    name: 'v-supercore-leaks',
    apiBase: FAKE_BASE,
    getToken: async () => 'token-alice',
  };

  /** Mounts, visits every pane (the viewer starts a real decoder worker), waits for the live stream, unmounts. */
  async function cycle(): Promise<{
    during: Leaks;
    stores: { observers: () => number; connections: () => number };
  }> {
    history.replaceState(null, '', '/v-supercore');
    await mount(props);
    const app = mountedApp('v-supercore-leaks');
    if (!app) throw new Error('not mounted');
    const store = app.store;
    const live = app.live;
    await waitUntil(() => store?.value.live, 'the event stream is open');
    for (const view of ['sessions', 'resources', 'settings'] as const) {
      app.navigate({ view });
      await app.updateComplete;
    }
    await waitUntil(() => app.preferences?.value.source === 'server', 'settings loaded');
    const session = fake.sessions.values().next().value;
    if (session) {
      app.navigate({ view: 'viewer', sessionId: session.sessionId });
      await app.updateComplete;
      await waitUntil(() => snapshot().workers > 0, 'the viewer started its worker');
    }
    const during = snapshot();
    const preferences = app.preferences;
    await unmount(props);
    return {
      during,
      stores: {
        observers: () => (store?.observerCount ?? 0) + (preferences?.observerCount ?? 0),
        connections: () => live?.connections ?? 0,
      },
    };
  }

  it('counts elements, window/document listeners, timers, workers, subscriptions and connections', async () => {
    fake.seed({ state: 'active' });
    // A first cycle loads the chunks and web-vitals' page-level observers (registered once per page, by design).
    await cycle();
    await settle();
    const baseline = snapshot();

    for (let i = 0; i < 2; i++) {
      const { during, stores } = await cycle();
      expect(during.elements).to.be.greaterThan(baseline.elements, 'the module was on the page');
      expect(during.workers).to.be.greaterThan(baseline.workers, 'the viewer had a worker');
      expect(during.listeners).to.be.greaterThan(baseline.listeners, 'the module listened to the page');
      expect(stores.observers()).to.equal(0, 'every store subscription released');
      await settle();
      const after = snapshot();
      expect(after, `left behind: ${describeLeftovers()}`).to.deep.equal(baseline);
      expect(stores.connections()).to.equal(0, 'the event stream is closed');
      expect(fake.eventStreams.size).to.equal(0);
      expect(fake.inFlight).to.equal(0, 'no request still running');
    }
  });

  it('two copies of the module on one page define the same tags without throwing', async () => {
    await mount(props);
    await unmount(props);
    const tags = [
      'vsc-app',
      'vsc-quick-launch',
      'vsc-active-sessions',
      'vsc-resource-monitor',
      'vsc-settings',
      'vsc-viewer',
    ];
    const warnings: unknown[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args);
    try {
      for (const tag of tags) {
        const first = customElements.get(tag);
        if (!first) throw new Error(`${tag} is not defined`);
        // A second bundle of the same version brings its own classes: same tags, other constructors.
        const second =
          class extends (first as CustomElementConstructor) {} as unknown as CustomElementConstructor & {
            vscVersion?: string;
          };
        expect(() => define(tag, second)).not.to.throw();
        expect(customElements.get(tag)).to.equal(first, 'the first definition stays');
      }
    } finally {
      console.warn = warn;
    }
    expect(warnings).to.deep.equal([], 'same version: silent');
    await mount(props);
    expect(mountedApp('v-supercore-leaks')?.shadowRoot?.querySelector('h1')?.textContent).to.equal(
      'Virtual Super PC',
    );
    await unmount(props);
  });

  it('bootstrap starts the live stream and the list while the chunks load; mount shows them at once', async () => {
    const session = fake.seed({ state: 'active' });
    history.replaceState(null, '', '/v-supercore/sessions');
    await bootstrap(props);
    await waitUntil(
      () => fake.eventStreams.size === 1 && fake.count('GET', '/sessions') === 1,
      'the stream and the list were asked for before mount',
    );
    await mount(props);
    const pane = mountedApp('v-supercore-leaks')?.shadowRoot?.querySelector('vsc-active-sessions');
    await waitUntil(
      () => pane?.shadowRoot?.querySelector(`[data-session-id="${session.sessionId}"]`),
      'the session is listed',
    );
    expect(pane?.shadowRoot?.querySelector('.live')?.getAttribute('data-live')).to.equal('on');
    expect(fake.eventStreams.size).to.equal(1, 'mount adopted the stream bootstrap opened');
    expect(fake.count('GET', '/sessions')).to.equal(1, 'and its list');
    await unmount(props);
    await waitUntil(() => fake.eventStreams.size === 0, 'the stream is closed');
  });

  it('a bootstrap that is never mounted leaves no stream open after unmount', async () => {
    await bootstrap(props);
    await waitUntil(() => fake.eventStreams.size === 1);
    await unmount(props);
    await waitUntil(() => fake.eventStreams.size === 0 && fake.inFlight === 0, 'nothing left running');
  });
});

describe('session parcel: mount → unmount → mount leaves nothing behind', () => {
  const realFetch = window.fetch;
  let fake: InstanceType<typeof FakeApi>;
  /** A token the API client reads alice's id from (its `sub`), so the parcel finds her workspace. */
  const token = `h.${btoa(JSON.stringify({ sub: 'alice' }))}.s`;

  beforeEach(() => {
    fake = new FakeApi();
    fake.users.set(token, 'alice');
    window.fetch = (input: RequestInfo | URL, init?: RequestInit) =>
      String(input).startsWith(FAKE_BASE) ? fake.fetch(String(input), init ?? {}) : realFetch(input, init);
  });
  afterEach(() => {
    window.fetch = realFetch;
  });

  /**
   * Mounts the parcel on a shared session (viewer with its real decoder worker, participant list, live events,
   * settings) and unmounts it; with `streamDown` the event stream has failed first, so the parcel is polling
   * the workspace and the event stream is waiting to reconnect when it goes.
   */
  async function cycle(sessionId: string, streamDown: boolean) {
    const host = document.createElement('section');
    document.body.append(host);
    const props = {
      name: 'v-supercore-leaks-parcel',
      domElement: host,
      apiBase: FAKE_BASE,
      getToken: async () => token,
      sessionId,
      role: 'owner' as const,
    };
    await parcelLifecycles.mount(props);
    const el = parcelLifecycles.mountedParcel(host);
    if (!el) throw new Error('not mounted');
    const { live, store, preferences } = el;
    await waitUntil(() => live?.status$.value === 'open', 'the event stream is open');
    await waitUntil(
      () => el.shadowRoot?.querySelector('vsc-workspace-members')?.shadowRoot?.querySelector('li'),
      'the participants are listed',
    );
    await waitUntil(() => preferences?.value.source === 'server', 'settings loaded');
    await waitUntil(() => snapshot().workers > 0, 'the viewer started its worker');
    if (streamDown) {
      el.workspaceRefreshMs = 100;
      fake.failures.set('/events', 'INTERNAL');
      fake.dropEventStreams();
      await waitUntil(() => live?.status$.value === 'down', 'the event stream is down');
      const reads = fake.count('GET', '/workspaces');
      await waitUntil(() => fake.count('GET', '/workspaces') > reads, 'the parcel polls');
    }
    const during = snapshot();
    await parcelLifecycles.unmount(props);
    host.remove();
    fake.failures.delete('/events');
    return {
      during,
      observers: () => (store?.observerCount ?? 0) + (preferences?.observerCount ?? 0),
      connections: () => live?.connections ?? 0,
    };
  }

  it('counts elements, listeners, timers, workers, subscriptions and connections, polling or not', async () => {
    const session = fake.seed({ state: 'active' }, 'alice');
    const at = new Date().toISOString();
    fake.workspaces.push({
      workspaceId: 'ws-1',
      tenantId: 'tenant-a',
      name: 'Pairing',
      ownerId: 'alice',
      state: 'open',
      sessionIds: [session.sessionId],
      members: [{ userId: 'alice', role: 'owner', status: 'joined', invitedAt: at, joinedAt: at }],
      controllerId: null,
      createdAt: at,
      updatedAt: at,
      handshake: '55-45-17',
    });
    await cycle(session.sessionId, false); // loads the chunks
    await settle();
    const baseline = snapshot();

    for (const streamDown of [false, true, false]) {
      const { during, observers, connections } = await cycle(session.sessionId, streamDown);
      expect(during.elements).to.be.greaterThan(baseline.elements, 'the parcel was on the page');
      expect(during.workers).to.be.greaterThan(baseline.workers, 'the viewer had a worker');
      if (streamDown) expect(during.intervals).to.be.greaterThan(baseline.intervals, 'the parcel polled');
      expect(observers()).to.equal(0, 'every store subscription released');
      await settle();
      expect(snapshot(), `left behind: ${describeLeftovers()}`).to.deep.equal(baseline);
      expect(connections()).to.equal(0, 'the event stream is closed');
      expect(fake.eventStreams.size).to.equal(0);
      expect(fake.inFlight).to.equal(0, 'no request still running');
    }
  });
});
