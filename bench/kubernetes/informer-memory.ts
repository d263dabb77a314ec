// Memory of the Kubernetes runtime's pod informer with 10,000 session pods listed from the FAKE API server
// (paged, 500 per page), against keeping the client's full V1Pod objects as client-node's ListWatch cache does.
// Prints figures; never passes or fails.
//
//   node --expose-gc --import tsx bench/kubernetes/informer-memory.ts [pods, default 10000]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import { Reflector } from '../../backend-adapter/runtime/kubernetes/reflector.ts';
import { SESSION_SELECTOR, podFor } from '../../backend-adapter/runtime/kubernetes/session-objects.ts';
import { podView, type PodView } from '../../backend-adapter/runtime/kubernetes/views.ts';
import { findTier } from '../../backend-adapter/tiers/tier-catalogue.ts';
import { FakeApiServer } from '../../test/support/fake-kubernetes/api-server.ts';
import { writeKubeconfig } from '../../test/support/fake-kubernetes/fake-cluster.ts';
import type { KubeObject } from '../../test/support/fake-kubernetes/store.ts';

const count = Number(process.argv[2] ?? 10_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

const namespace = 'v-supercore';
const api = new FakeApiServer();
const dir = await mkdtemp(join(tmpdir(), 'vsc-informer-bench-'));
try {
  const url = await api.listen();
  const resources = findTier('basic')?.resources;
  if (!resources) throw new Error('no basic tier');
  const config = {
    namespace,
    image: 'ghcr.io/n3xus/v-supercore-session:0.1.0',
    storageClass: 'sc',
    runAsUser: 1000,
  };
  for (let i = 0; i < count; i++) {
    const id = `cccccccc-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const pod = podFor(
      `vsc-${id}-abcde`,
      { sessionId: id, tenantId: `tenant-${i % 13}`, tier: 'basic' },
      resources,
      {
        secretName: `vsc-${id}`,
        pvcName: `vsc-${id}`,
        owner: { name: `vsc-${id}`, uid: id },
      },
      config,
    );
    const created = api.store.create('pods', namespace, pod as unknown as KubeObject);
    api.store.update('pods', namespace, created.metadata.name ?? '', (o) => {
      o.status = {
        phase: 'Running',
        podIP: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({
          type,
          status: 'True',
        })),
        containerStatuses: [
          {
            name: 'desktop',
            ready: true,
            restartCount: 0,
            state: { running: { startedAt: '2026-01-12T10:00:00Z' } },
          },
        ],
      };
    });
  }
  await writeKubeconfig(join(dir, 'kubeconfig'), url, namespace);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(join(dir, 'kubeconfig'));
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const list = ({ limit, continue: c }: { limit: number; continue?: string }) =>
    core.listNamespacedPod({ namespace, labelSelector: SESSION_SELECTOR, limit, _continue: c });

  console.log(`Informer memory with ${count} session pods listed (paged by 500) from the fake API server`);
  const before = heap();
  const started = performance.now();
  const reflector = new Reflector<V1Pod, PodView>({
    kubeConfig,
    path: `/api/v1/namespaces/${namespace}/pods`,
    labelSelector: SESSION_SELECTOR,
    list,
    project: podView,
    name: (v) => v.name,
    logger: pino({ level: 'silent' }),
  });
  reflector.start();
  await reflector.synced();
  const listMs = performance.now() - started;
  const projected = heap() - before;
  console.log(
    `  runtime informer (projected views): ${mib(projected)} heap, ${(projected / count).toFixed(0)} bytes per pod; list + sync ${listMs.toFixed(0)} ms; ${reflector.size} pods cached`,
  );
  await reflector.stop();

  const raw = new Map<string, V1Pod>();
  const before2 = heap();
  let token: string | undefined;
  do {
    const page = await list({ limit: 500, continue: token });
    for (const p of page.items) raw.set(p.metadata?.name ?? '', p);
    token = page.metadata?._continue || undefined;
  } while (token);
  const full = heap() - before2;
  console.log(
    `  full V1Pod objects (what client-node's ListWatch keeps): ${mib(full)} heap, ${(full / count).toFixed(0)} bytes per pod (${raw.size} pods)`,
  );
} finally {
  await api.close();
  await rm(dir, { recursive: true, force: true });
}
