import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { CoreV1Api, KubeConfig, type V1Secret } from '@kubernetes/client-node';
import pino from 'pino';
import { Reflector } from '../../../backend-adapter/runtime/kubernetes/reflector.ts';
import { findFreePort } from '../../../backend-adapter/runtime/local/free-port.ts';
import { FakeApiServer } from '../../support/fake-kubernetes/api-server.ts';
import { writeKubeconfig } from '../../support/fake-kubernetes/fake-cluster.ts';

const NS = 'v-supercore';
const SELECTOR = 'app=v-supercore';

interface View {
  name: string;
  version: string;
}

async function waitFor(ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The informer the Kubernetes runtime reads its state from, against the fake API server: list then watch,
 * resume after a dropped connection, relist after 410 Gone, back off while the API is away.
 */
describe('informer (list, watch, 410 Gone, backoff)', () => {
  let dir: string;
  let api: FakeApiServer;
  let kubeConfig: KubeConfig;
  let reflector: Reflector<V1Secret, View> | undefined;
  const events: string[] = [];

  const secret = (name: string, extra: Record<string, string> = {}) => ({
    metadata: { name, labels: { app: 'v-supercore', ...extra } },
    data: {},
  });

  const open = (config: KubeConfig): Reflector<V1Secret, View> => {
    const core = config.makeApiClient(CoreV1Api);
    const r = new Reflector<V1Secret, View>({
      kubeConfig: config,
      path: `/api/v1/namespaces/${NS}/secrets`,
      labelSelector: SELECTOR,
      list: ({ limit, continue: c }) =>
        core.listNamespacedSecret({ namespace: NS, labelSelector: SELECTOR, limit, _continue: c }),
      project: (s) => ({ name: s.metadata?.name ?? '', version: s.metadata?.labels?.version ?? '' }),
      name: (v) => v.name,
      logger: pino({ level: 'silent' }),
      backoff: { initialMs: 100, maxMs: 400 },
      pageSize: 2,
    });
    r.on((type, v) => events.push(`${type} ${v.name}`));
    r.start();
    return r;
  };
  const cached = () =>
    reflector
      ?.list()
      .map((v) => `${v.name}@${v.version}`)
      .sort();
  const stored = () =>
    api.store
      .list('secrets', NS, SELECTOR)
      .map((o) => `${o.metadata.name}@${o.metadata.labels?.version ?? ''}`)
      .sort();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-informer-'));
    api = new FakeApiServer();
    await writeKubeconfig(join(dir, 'kubeconfig'), await api.listen(), NS);
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(join(dir, 'kubeconfig'));
  });
  afterEach(async () => {
    await reflector?.stop();
    reflector = undefined;
  });
  after(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists (in pages) then watches: the cache follows creates, updates and deletes without polling', async () => {
    for (const n of ['a', 'b', 'c', 'd', 'e']) api.store.create('secrets', NS, secret(n, { version: '1' }));
    api.store.create('secrets', NS, { metadata: { name: 'not-ours', labels: { app: 'other' } }, data: {} });
    reflector = open(kubeConfig);
    await reflector.synced();
    assert.deepEqual(cached(), stored());
    assert.equal(api.requests.filter((r) => r.verb === 'list').length, 3, 'five items in pages of two');
    await waitFor(() => api.openWatches === 1);
    const before = api.requests.length;
    api.store.patch('secrets', NS, 'a', { metadata: { labels: { version: '2' } } });
    api.store.delete('secrets', NS, 'b');
    api.store.create('secrets', NS, secret('f', { version: '1' }));
    // A label change that takes an object out of the selector is a deletion for the watcher.
    api.store.patch('secrets', NS, 'c', { metadata: { labels: { app: 'elsewhere' } } });
    await waitFor(() => JSON.stringify(cached()) === JSON.stringify(stored()));
    assert.equal(api.requests.length, before, 'no request: the changes came over the open watch');
    assert.ok(events.includes('DELETED c'));
  });

  it('resumes after the connection is reset, from the last resourceVersion (no relist)', async () => {
    reflector = open(kubeConfig);
    await reflector.synced();
    await waitFor(() => api.openWatches === 1);
    assert.equal(api.dropWatches(), 1);
    api.store.create('secrets', NS, secret('g', { version: '1' }));
    api.store.patch('secrets', NS, 'd', { metadata: { labels: { version: '3' } } });
    await waitFor(() => JSON.stringify(cached()) === JSON.stringify(stored()));
    assert.ok(reflector.stats.errors >= 1, 'the reset was seen');
    assert.equal(reflector.stats.lists, 1, 'resumed from the version it had');
    assert.ok(reflector.stats.watches >= 2);
  });

  it('relists on 410 Gone when its resourceVersion was compacted away, and reports what it missed', async () => {
    reflector = open(kubeConfig);
    await reflector.synced();
    await waitFor(() => api.openWatches === 1);
    events.length = 0;
    // While the watch is down, changes happen and the history is compacted.
    const watches = reflector.stats.watches;
    api.dropWatches();
    api.store.delete('secrets', NS, 'e');
    api.store.create('secrets', NS, secret('h', { version: '1' }));
    api.store.compact();
    await waitFor(() => reflector !== undefined && reflector.stats.expired >= 1);
    await waitFor(() => JSON.stringify(cached()) === JSON.stringify(stored()));
    assert.equal(reflector.stats.lists, 2, 'listed again after 410');
    assert.ok(reflector.stats.watches > watches);
    assert.ok(events.includes('DELETED e'), 'a deletion it never saw over the watch is reported');
    assert.ok(events.includes('ADDED h'));
  });

  it('starts a new watch when the server ends one normally (its timeout)', async () => {
    reflector = open(kubeConfig);
    await reflector.synced();
    await waitFor(() => api.openWatches === 1);
    api.endWatches();
    await waitFor(() => reflector !== undefined && reflector.stats.watches >= 2 && api.openWatches === 1);
    api.store.create('secrets', NS, secret('i', { version: '1' }));
    await waitFor(() => JSON.stringify(cached()) === JSON.stringify(stored()));
    assert.equal(reflector.stats.lists, 1);
    assert.equal(reflector.stats.errors, 0);
  });

  it('backs off while the API server is unreachable, and syncs once it is back', async () => {
    const port = await findFreePort('127.0.0.1');
    const config = new KubeConfig();
    const path = join(dir, 'kubeconfig-later');
    await writeKubeconfig(path, `http://127.0.0.1:${port}`, NS);
    config.loadFromFile(path);
    reflector = open(config);
    await new Promise((r) => setTimeout(r, 1200));
    const errors = reflector.stats.errors;
    // 100, 200, 400, 400 … ms (with jitter): a handful of attempts, not a hot loop.
    assert.ok(errors >= 2 && errors <= 12, `${errors} attempts in 1.2 s`);
    const later = new FakeApiServer();
    await later.listen(port);
    try {
      later.store.create('secrets', NS, secret('z', { version: '1' }));
      await reflector.synced();
      assert.deepEqual(
        reflector.list().map((v) => v.name),
        ['z'],
      );
    } finally {
      await reflector.stop();
      reflector = undefined;
      await later.close();
    }
  });
});
