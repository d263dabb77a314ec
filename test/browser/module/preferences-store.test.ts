import { expect, waitUntil } from '@open-wc/testing';
import type { Subscription } from 'rxjs';
import { DEFAULT_PREFERENCES } from '../../../protocol/preferences-defaults.ts';
import type { Preferences } from '../../../protocol/preferences.ts';
import { ApiClient, type ApiError } from '../../../module/api/api-client.ts';
import { PreferencesCache, cacheKey } from '../../../module/state/preferences-cache.ts';
import {
  PreferencesStore,
  clampIdleTimeout,
  idleTimeoutBounds,
  isLater,
} from '../../../module/state/preferences-store.ts';
import { FAKE_BASE, FAKE_TOKEN, FakeApi } from './support/fake-api.ts';
import { dropDatabase, goOffline, goOnline, uniqueDbName } from './support/offline.ts';

const SAVED: Preferences = {
  defaultTier: 'gpu',
  streamQuality: 'high',
  scaling: '1:1',
  keyboardLayout: 'de',
  idleTimeoutMinutes: 45,
  notifications: false,
  streamTransport: 'webrtc',
};

describe('PreferencesStore', () => {
  let dbName: string;
  let subscriptions: Subscription[] = [];
  const stores: PreferencesStore[] = [];

  function store(fake: FakeApi, channelName: string | null = null): PreferencesStore {
    const s = new PreferencesStore({ api: fake.client(), cache: new PreferencesCache(dbName), channelName });
    stores.push(s);
    return s;
  }

  function observe(s: PreferencesStore): void {
    subscriptions.push(s.state$.subscribe());
  }

  beforeEach(() => {
    dbName = uniqueDbName();
  });

  afterEach(async () => {
    goOnline();
    for (const s of subscriptions) s.unsubscribe();
    subscriptions = [];
    for (const s of stores.splice(0)) s.dispose();
    await dropDatabase(dbName);
  });

  it('shows the defaults (updatedAt null) when nothing is stored, and caches them with the tiers', async () => {
    const fake = new FakeApi();
    const s = store(fake);
    observe(s);
    await waitUntil(() => s.value.source === 'server');
    expect(s.value.preferences).to.deep.equal(DEFAULT_PREFERENCES);
    expect(s.value.updatedAt).to.equal(null);
    expect(s.value.tiers?.map((t) => t.id)).to.deep.equal(['basic', 'standard', 'gpu']);
    const cached = await new PreferencesCache(dbName).read(cacheKey(fake.client().apiBase, 'token-alice'));
    expect(cached?.preferences).to.deep.equal(DEFAULT_PREFERENCES);
    expect(cached?.tiers).to.have.length(3);
  });

  it('saves through PUT and takes the server timestamp', async () => {
    const fake = new FakeApi();
    fake.now = () => new Date('2026-01-12T10:00:00.000Z');
    const s = store(fake);
    observe(s);
    await waitUntil(() => s.value.source === 'server');
    const response = await s.save(SAVED);
    expect(response.updatedAt).to.equal('2026-01-12T10:00:00.000Z');
    expect(fake.preferences.get('alice')?.preferences).to.deep.equal(SAVED);
    expect(s.value.preferences).to.deep.equal(SAVED);
    expect(s.value.updatedAt).to.equal('2026-01-12T10:00:00.000Z');
  });

  it('opens from the IndexedDB cache while offline (read-only), then syncs when back online', async () => {
    const fake = new FakeApi();
    const first = store(fake);
    observe(first);
    await waitUntil(() => first.value.source === 'server');
    await first.save(SAVED);
    first.dispose();

    // Another device changes them while this one is offline.
    fake.preferences.set('alice', {
      preferences: { ...SAVED, keyboardLayout: 'fr' },
      updatedAt: new Date(Date.now() + 1000).toISOString(),
    });
    goOffline();
    const requestsBefore = fake.requests.length;
    const second = store(fake);
    observe(second);
    await waitUntil(() => second.value.source === 'cache' && !second.value.loading);
    expect(second.value.preferences).to.deep.equal(SAVED, 'the cached copy, at once');
    expect(second.value.online).to.equal(false);
    expect(second.value.tiers).to.have.length(3, 'tiers come from the cache too');
    expect(fake.requests.length).to.equal(requestsBefore, 'no request while offline');
    try {
      await second.save(SAVED);
      expect.fail('saving offline must be refused');
    } catch (error) {
      expect((error as ApiError).code).to.equal('NETWORK_ERROR');
    }

    goOnline();
    await waitUntil(() => second.value.source === 'server' && second.value.online);
    expect(second.value.preferences?.keyboardLayout).to.equal('fr', 'the newer server copy wins');
  });

  it('a copy cached before the stream transport setting existed opens with its default', async () => {
    const fake = new FakeApi();
    const key = cacheKey(fake.client().apiBase, FAKE_TOKEN);
    const { streamTransport: _absent, ...older } = SAVED;
    const cache = new PreferencesCache(dbName);
    await cache.write(key, {
      preferences: older as Preferences, // as an earlier release of the module wrote it
      updatedAt: '2026-01-12T10:00:00.000Z',
      cachedAt: Date.now(),
      tiers: null,
    });
    cache.close();
    goOffline();
    const s = store(fake);
    observe(s);
    await waitUntil(() => s.value.source === 'cache' && !s.value.loading);
    expect(s.value.preferences).to.deep.equal({ ...SAVED, streamTransport: 'auto' });
  });

  it('treats an unreachable server as offline and keeps the cached copy', async () => {
    const fake = new FakeApi();
    const first = store(fake);
    observe(first);
    await waitUntil(() => first.value.source === 'server');
    await first.save(SAVED);
    first.dispose();
    const unreachable = new ApiClient({
      apiBase: FAKE_BASE,
      getToken: async () => FAKE_TOKEN,
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    const s = new PreferencesStore({
      api: unreachable,
      cache: new PreferencesCache(dbName),
      channelName: null,
    });
    stores.push(s);
    observe(s);
    await waitUntil(() => !s.value.loading && s.value.error !== null);
    expect(s.value.error?.code).to.equal('NETWORK_ERROR');
    expect(s.value.online).to.equal(false);
    expect(s.value.preferences).to.deep.equal(SAVED);
    expect(s.value.source).to.equal('cache');
  });

  it('settles conflicts by the server timestamp: the last writer wins, a late stale answer does not', async () => {
    const fake = new FakeApi();
    let clock = Date.parse('2026-01-12T10:00:00.000Z');
    fake.now = () => new Date(clock);
    const channel = `v-supercore-test-channel-${dbName}`;
    const tabA = store(fake, channel);
    const tabB = store(fake, channel);
    observe(tabA);
    observe(tabB);
    await waitUntil(() => tabA.value.source === 'server' && tabB.value.source === 'server');
    await tabA.save({ ...SAVED, keyboardLayout: 'gb' });
    clock += 5000;
    await tabB.save({ ...SAVED, keyboardLayout: 'it' });
    // Tab A hears of B's later write.
    await waitUntil(
      () => tabA.value.preferences?.keyboardLayout === 'it',
      'the later write reaches the other tab',
    );
    expect(tabA.value.updatedAt).to.equal(new Date(clock).toISOString());
    // A stale server answer (older timestamp) arriving now does not roll it back.
    fake.preferences.set('alice', {
      preferences: { ...SAVED, keyboardLayout: 'gb' },
      updatedAt: new Date(clock - 5000).toISOString(),
    });
    await tabA.load();
    expect(tabA.value.preferences?.keyboardLayout).to.equal('it');
    expect(fake.preferences.get('alice')?.preferences.keyboardLayout).to.equal('gb');
  });

  it('reports a rejected save (400) without changing what is stored', async () => {
    const fake = new FakeApi();
    const s = store(fake);
    observe(s);
    await waitUntil(() => s.value.source === 'server');
    try {
      await s.save({ ...SAVED, idleTimeoutMinutes: 2 });
      expect.fail('should reject');
    } catch (error) {
      expect((error as ApiError).code).to.equal('BAD_REQUEST');
    }
    expect(s.value.saveError?.code).to.equal('BAD_REQUEST');
    expect(s.value.online).to.equal(true);
    expect(s.value.preferences).to.deep.equal(DEFAULT_PREFERENCES);
  });

  it('stops listening for online/offline when unobserved or disposed', async () => {
    const fake = new FakeApi();
    const s = store(fake);
    const sub = s.state$.subscribe();
    await waitUntil(() => s.value.source === 'server');
    expect(s.observerCount).to.equal(1);
    sub.unsubscribe();
    expect(s.observerCount).to.equal(0);
    const requests = fake.count('GET', '/preferences');
    window.dispatchEvent(new Event('online'));
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.count('GET', '/preferences')).to.equal(requests, 'no reload once nobody observes');
    s.dispose();
    expect(s.disposed).to.equal(true);
  });
});

describe('idle timeout bounds', () => {
  it('is 5 minutes up to what the tier allows, never beyond a day', () => {
    expect(idleTimeoutBounds({ idleTimeoutMinutes: 60 })).to.deep.equal({ min: 5, max: 60 });
    expect(idleTimeoutBounds({ idleTimeoutMinutes: 5000 })).to.deep.equal({ min: 5, max: 1440 });
    expect(idleTimeoutBounds(undefined)).to.deep.equal({ min: 5, max: 1440 });
    expect(clampIdleTimeout(500, { min: 5, max: 60 })).to.equal(60);
    expect(clampIdleTimeout(1, { min: 5, max: 60 })).to.equal(5);
    expect(clampIdleTimeout(12.6, { min: 5, max: 60 })).to.equal(13);
    expect(clampIdleTimeout(Number.NaN, { min: 5, max: 60 })).to.equal(60);
  });

  it('orders server timestamps with null (never written) first', () => {
    expect(isLater('2026-01-02T00:00:00Z', '2026-01-01T00:00:00Z')).to.equal(true);
    expect(isLater('2026-01-01T00:00:00Z', null)).to.equal(true);
    expect(isLater(null, '2026-01-01T00:00:00Z')).to.equal(false);
    expect(isLater(null, null)).to.equal(false);
  });
});
