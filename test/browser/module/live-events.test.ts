import { expect, waitUntil } from '@open-wc/testing';
import type { Subscription } from 'rxjs';
import type { LiveEvent } from '../../../protocol/live-events.ts';
import { LiveEvents, type LiveStatus } from '../../../module/api/live-events.ts';
import { ApiClient } from '../../../module/api/api-client.ts';
import { SessionsStore, liveFeed } from '../../../module/state/sessions-store.ts';
import { FAKE_BASE, FAKE_TOKEN, FakeApi } from './support/fake-api.ts';

function liveOf(fake: FakeApi, options: { silenceTimeoutMs?: number } = {}): LiveEvents {
  return new LiveEvents({ api: fake.client(), initialBackoffMs: 20, maxBackoffMs: 80, ...options });
}

describe('LiveEvents (GET /api/v1/events over fetch)', () => {
  let subscription: Subscription | undefined;
  afterEach(() => subscription?.unsubscribe());

  it('opens one authenticated stream for all subscribers and parses its events', async () => {
    const fake = new FakeApi();
    const live = liveOf(fake);
    const statuses: LiveStatus[] = [];
    live.status$.subscribe((s) => statuses.push(s));
    const a: LiveEvent[] = [];
    const b: LiveEvent[] = [];
    subscription = live.events$.subscribe((e) => a.push(e));
    subscription.add(live.events$.subscribe((e) => b.push(e)));
    await waitUntil(() => live.status$.value === 'open');
    expect(fake.eventStreams.size).to.equal(1, 'one connection, shared');
    const request = fake.requests.find((r) => r.path === '/events');
    expect(request?.headers.get('authorization')).to.equal('Bearer token-alice');
    expect(request?.headers.get('x-n3xus-handshake')).to.equal('55-45-17');
    expect(request?.headers.get('accept')).to.equal('text/event-stream');

    const session = fake.seed({ state: 'active' });
    fake.set(session, 'paused');
    fake.pushMetrics({ sessionId: session.sessionId, cpuPercent: 42 });
    await waitUntil(() => a.length === 2 && b.length === 2);
    expect(a[0]).to.deep.include({ event: 'session.changed' });
    expect(a[0]?.event === 'session.changed' && a[0].data.previousState).to.equal('active');
    expect(a[1]?.event === 'metrics.sample' && a[1].data.cpuPercent).to.equal(42);
    expect(statuses.slice(0, 3)).to.deep.equal(['idle', 'connecting', 'open']);
  });

  it('skips malformed and unknown events and keeps reading', async () => {
    const fake = new FakeApi();
    const live = liveOf(fake);
    const seen: LiveEvent[] = [];
    subscription = live.events$.subscribe((e) => seen.push(e));
    await waitUntil(() => live.status$.value === 'open');
    fake.writeRaw('event: session.changed\ndata: {not json\n\nevent: other\ndata: {}\n\n');
    fake.pushMetrics({ sessionId: 'x', cpuPercent: 1 });
    await waitUntil(() => seen.length === 1);
    expect(seen[0]?.event).to.equal('metrics.sample');
  });

  it('reconnects with backoff when the stream ends or fails, reporting down meanwhile', async () => {
    const fake = new FakeApi();
    const live = liveOf(fake);
    subscription = live.events$.subscribe();
    await waitUntil(() => live.status$.value === 'open');
    fake.failures.set('/events', 'INTERNAL');
    fake.dropEventStreams();
    await waitUntil(() => live.status$.value === 'down');
    await waitUntil(() => fake.count('GET', '/events') >= 3, 'keeps retrying');
    expect(live.connections).to.equal(0);
    fake.failures.clear();
    await waitUntil(() => live.status$.value === 'open', 'back once the server answers');
    expect(fake.eventStreams.size).to.equal(1);
  });

  it('reopens a connection that has gone silent (no keep-alive)', async () => {
    const fake = new FakeApi();
    const live = liveOf(fake, { silenceTimeoutMs: 100 });
    subscription = live.events$.subscribe();
    await waitUntil(() => live.status$.value === 'open');
    await waitUntil(() => fake.count('GET', '/events') >= 2, 'reconnected after silence', { timeout: 2000 });
  });

  it('closes the connection when the last subscriber leaves', async () => {
    const fake = new FakeApi();
    const live = liveOf(fake);
    const sub = live.events$.subscribe();
    await waitUntil(() => live.connections === 1);
    sub.unsubscribe();
    await waitUntil(() => fake.eventStreams.size === 0 && live.connections === 0);
    expect(live.status$.value).to.equal('idle');
    const requests = fake.count('GET', '/events');
    await new Promise((r) => setTimeout(r, 150));
    expect(fake.count('GET', '/events')).to.equal(requests, 'no reconnection after the last subscriber');
  });
});

describe('liveFeed (the sessions store pushed by the server)', () => {
  it('lists once, then applies pushed changes without polling', async () => {
    const fake = new FakeApi();
    const a = fake.seed({ state: 'active' });
    const live = liveOf(fake);
    const store = new SessionsStore({ api: fake.client(), changeFeed: liveFeed(live, 50) });
    const sub = store.state$.subscribe();
    try {
      await waitUntil(() => store.value.live && store.value.updatedAt !== null);
      const lists = fake.count('GET', '/sessions');
      fake.set(a, 'paused');
      const b = fake.seed({ state: 'requested' });
      fake.set(b, 'provisioning');
      await waitUntil(() => store.find(b.sessionId)?.state === 'provisioning');
      expect(store.find(a.sessionId)?.state).to.equal('paused');
      await new Promise((r) => setTimeout(r, 200));
      expect(fake.count('GET', '/sessions')).to.equal(lists, 'no polling while the stream is open');
    } finally {
      sub.unsubscribe();
    }
  });

  it('lists once, after the stream has opened (nothing to catch up on, no second list)', async () => {
    const fake = new FakeApi();
    const a = fake.seed({ state: 'active' });
    const store = new SessionsStore({ api: fake.client(), changeFeed: liveFeed(liveOf(fake), 50) });
    const sub = store.state$.subscribe();
    try {
      await waitUntil(() => store.value.live && store.find(a.sessionId) !== undefined);
      await new Promise((r) => setTimeout(r, 150));
      expect(fake.count('GET', '/sessions')).to.equal(1);
      const order = fake.requests.map((r) => r.path).filter((p) => p === '/events' || p === '/sessions');
      expect(order).to.deep.equal(['/events', '/sessions'], 'the stream first, then the list');
    } finally {
      sub.unsubscribe();
    }
  });

  it('still lists, after a short grace, when the stream is slow to open', async () => {
    const fake = new FakeApi();
    const a = fake.seed({ state: 'active' });
    // The event stream's answer never comes (a buffering proxy): only an abort ends it.
    const stalled = (input: string, init: RequestInit): Promise<Response> =>
      new URL(input).pathname.endsWith('/events')
        ? new Promise((_resolve, reject) =>
            init.signal?.addEventListener('abort', () => reject(init.signal?.reason as Error)),
          )
        : fake.fetch(input, init);
    const api = new ApiClient({ apiBase: FAKE_BASE, getToken: async () => FAKE_TOKEN, fetch: stalled });
    const live = new LiveEvents({ api, initialBackoffMs: 20 });
    const store = new SessionsStore({ api, changeFeed: liveFeed(live, 50, 100) });
    const sub = store.state$.subscribe();
    try {
      await waitUntil(() => store.find(a.sessionId) !== undefined, 'listed without the stream');
      expect(store.value.live).to.equal(false);
      expect(live.status$.value).to.equal('connecting');
      expect(fake.count('GET', '/sessions')).to.equal(1);
    } finally {
      sub.unsubscribe();
    }
  });

  it('polls once per period only while the stream is down, and catches up when it reopens', async () => {
    const fake = new FakeApi();
    const live = liveOf(fake);
    const store = new SessionsStore({ api: fake.client(), changeFeed: liveFeed(live, 40) });
    const sub = store.state$.subscribe();
    try {
      await waitUntil(() => store.value.live);
      fake.failures.set('/events', 'INTERNAL');
      fake.dropEventStreams();
      await waitUntil(() => !store.value.live);
      const before = fake.count('GET', '/sessions');
      await waitUntil(() => fake.count('GET', '/sessions') >= before + 3, 'fallback poll while down');
      const s = fake.seed({ state: 'active' }); // changed while nothing was pushed
      fake.failures.clear();
      await waitUntil(() => store.value.live, 'the stream is back');
      await waitUntil(() => store.find(s.sessionId) !== undefined, 'caught up on reopen');
      const settled = fake.count('GET', '/sessions');
      await new Promise((r) => setTimeout(r, 150));
      expect(fake.count('GET', '/sessions')).to.be.at.most(settled + 1, 'polling stopped');
    } finally {
      sub.unsubscribe();
    }
  });

  it('keeps a pushed change that is newer than a list answer crossing it', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'active' });
    const store = new SessionsStore({
      api: fake.client(),
      changeFeed: () => new LiveEvents({ api: fake.client() }).events$,
    });
    await store.refresh();
    const newer = {
      ...s,
      state: 'paused' as const,
      canonTimestamp: new Date(Date.now() + 60_000).toISOString(),
    };
    store.receive(newer);
    await store.refresh(); // the server's list still says active (older canonTimestamp)
    expect(store.find(s.sessionId)?.state).to.equal('paused');
    store.receive({ ...s, state: 'active', canonTimestamp: '2000-01-01T00:00:00.000Z' });
    expect(store.find(s.sessionId)?.state).to.equal('paused', 'an older push is ignored');
  });

  it('ends the stream when the store is disposed', async () => {
    const fake = new FakeApi();
    const live = liveOf(fake);
    const store = new SessionsStore({ api: fake.client(), changeFeed: liveFeed(live) });
    store.state$.subscribe();
    await waitUntil(() => live.connections === 1);
    store.dispose();
    await waitUntil(() => fake.eventStreams.size === 0 && live.connections === 0);
  });
});
