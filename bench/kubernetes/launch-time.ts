// Launch time through the Kubernetes runtime on the FAKE cluster, cold vs warm pool, and the API calls of one
// session lifecycle. Prints figures; never passes or fails on time.
//
// Real here: the runtime's API work (HTTP to an API server, informer events), the session agent's start and the
// Xvnc desktop it runs, readiness (tcpSocket probe), the agent's health check. Left out by the fake: image pull,
// scheduling latency, CNI/volume attach, kubelet sync periods (its probe runs every 100 ms) — on a real
// cluster a cold launch adds those (seconds to minutes for a first pull); a warm launch does not.
//
//   node --import tsx bench/kubernetes/launch-time.ts [launches per mode, default 5]
import pino from 'pino';
import { loadConfig } from '../../backend-adapter/config.ts';
import { KubernetesRuntime } from '../../backend-adapter/runtime/kubernetes/kubernetes-runtime.ts';
import type { KubernetesRuntimeHandle } from '../../backend-adapter/runtime/runtime-provider.ts';
import { findTier } from '../../backend-adapter/tiers/tier-catalogue.ts';
import { startFakeCluster, type FakeCluster } from '../../test/support/fake-kubernetes/fake-cluster.ts';

const runs = Number(process.argv[2] ?? 5);
const resources = findTier('basic')?.resources;
if (!resources) throw new Error('no basic tier');
const context = { tier: 'basic' as const, tenantId: 'bench', userId: 'bench' };
let sessions = 0;
const nextId = () => `bbbbbbbb-0000-4000-8000-${String(++sessions).padStart(12, '0')}`;

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const median = s[Math.floor(s.length / 2)] ?? 0;
  return `median ${median.toFixed(0)} ms, min ${s[0]?.toFixed(0)} ms, max ${s.at(-1)?.toFixed(0)} ms (n=${s.length})`;
}

async function waitFor(ok: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function countCalls(cluster: FakeCluster, from: number): string {
  const calls = cluster.api.requests.slice(from).filter((r) => r.verb !== 'watch');
  const by = new Map<string, number>();
  for (const c of calls) by.set(`${c.verb} ${c.resource}`, (by.get(`${c.verb} ${c.resource}`) ?? 0) + 1);
  return `${calls.length} (${[...by].map(([k, n]) => `${n}× ${k}`).join(', ')})`;
}

async function measure(warmPool: string): Promise<number[]> {
  const cluster = await startFakeCluster();
  const config = loadConfig(cluster.env({ WARM_POOL: warmPool })).kubernetes;
  const runtime = await KubernetesRuntime.open(config, pino({ level: 'silent' }));
  const warmReady = () =>
    runtime.pods.list().some((p) => p.labels['v-supercore.n3xus/pool'] === 'warm' && p.ready && !p.deleting);
  const times: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      if (warmPool) await waitFor(warmReady);
      const started = performance.now();
      const handle = await runtime.start(nextId(), resources as NonNullable<typeof resources>, context);
      times.push(performance.now() - started);
      await runtime.stop(handle);
    }
  } finally {
    await runtime.close();
    await cluster.close();
  }
  return times;
}

async function apiCallsPerLifecycle(): Promise<void> {
  const cluster = await startFakeCluster();
  const runtime = await KubernetesRuntime.open(
    loadConfig(cluster.env()).kubernetes,
    pino({ level: 'silent' }),
  );
  try {
    let mark = cluster.api.requests.length;
    const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
      const result = await work();
      console.log(`  ${name.padEnd(22)} ${countCalls(cluster, mark)}`);
      mark = cluster.api.requests.length;
      return result;
    };
    console.log('API calls per session lifecycle (cold start; watches are long-lived and not counted):');
    const handle = (await step('launch', () =>
      runtime.start(nextId(), resources as NonNullable<typeof resources>, context),
    )) as KubernetesRuntimeHandle;
    await step('pause', () => runtime.pause(handle));
    await step('resume (memory kept)', () => runtime.resume(handle));
    await step('pause', () => runtime.pause(handle));
    const hibernated = await step('hibernate', () => runtime.hibernate(handle));
    const woke = await step('wake from hibernation', () => runtime.wake(hibernated));
    await step('status × 100', async () => {
      for (let i = 0; i < 100; i++) await runtime.status(woke);
    });
    await step('terminate', () => runtime.stop(woke));
    const total = cluster.api.requests.filter((r) => r.verb !== 'watch').length;
    console.log(`  total requests in this run (incl. the informers' two initial lists): ${total}`);
  } finally {
    await runtime.close();
    await cluster.close();
  }
}

console.log(
  `Launch time through the Kubernetes runtime on the fake cluster (basic tier, ${runs} launches each)`,
);
const cold = await measure('');
console.log(`  cold (Secret, PVC, pod, agent + Xvnc start): ${stats(cold)}`);
const warm = await measure('basic=1');
console.log(`  warm pool (claim a ready desktop):           ${stats(warm)}`);
await apiCallsPerLifecycle();
