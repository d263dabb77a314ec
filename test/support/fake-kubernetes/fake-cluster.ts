// A FAKE Kubernetes cluster for tests and benchmarks: the fake API server, its simulated kubelet, a namespace's
// ResourceQuota when asked for, and a kubeconfig file pointing at it. The Kubernetes runtime under test is the
// production code; only the kubeconfig it loads differs.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { FAKE_TOKEN, FakeApiServer } from './api-server.ts';
import { FakeKubelet, type FakeNode } from './kubelet.ts';

export const FAKE_SESSION_IMAGE = 'ghcr.io/n3xus/v-supercore-session:test';
const AGENT_ENTRY = fileURLToPath(new URL('../../../session-agent/main.ts', import.meta.url));

export interface FakeCluster {
  api: FakeApiServer;
  kubelet: FakeKubelet;
  namespace: string;
  /** A kubeconfig file whose current context is this cluster (token auth, plain HTTP on loopback). */
  kubeconfigPath: string;
  dir: string;
  /** Environment for an adapter that runs its sessions on this cluster. */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export interface FakeClusterOptions {
  namespace?: string;
  node?: Partial<FakeNode>;
  images?: string[];
  /** spec.hard of a ResourceQuota named v-supercore-quota in the namespace. */
  quota?: Record<string, string>;
}

/** A kubeconfig whose current context is the fake API server at `url` (token auth, plain HTTP on loopback). */
export async function writeKubeconfig(path: string, url: string, namespace: string): Promise<void> {
  await writeFile(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // Plain HTTP on loopback: client-node accepts http:// only with TLS verification switched off.
      clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'orchestrator', user: { token: FAKE_TOKEN } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'orchestrator', namespace } }],
      'current-context': 'fake',
    }),
    { mode: 0o600 },
  );
}

export async function startFakeCluster(options: FakeClusterOptions = {}): Promise<FakeCluster> {
  const namespace = options.namespace ?? 'v-supercore';
  const dir = await mkdtemp(join(tmpdir(), 'vsc-fake-k8s-'));
  const api = new FakeApiServer();
  const url = await api.listen();
  const kubelet = new FakeKubelet({
    store: api.store,
    agentEntry: AGENT_ENTRY,
    images: options.images ?? [FAKE_SESSION_IMAGE],
    node: options.node,
    dataDir: join(dir, 'node'),
  });
  kubelet.start();
  if (options.quota) {
    api.store.create('resourcequotas', namespace, {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'v-supercore-quota', namespace },
      spec: { hard: options.quota },
    });
  }
  const kubeconfigPath = join(dir, 'kubeconfig.yaml');
  await writeKubeconfig(kubeconfigPath, url, namespace);
  return {
    api,
    kubelet,
    namespace,
    kubeconfigPath,
    dir,
    env: (extra = {}) => ({
      RUNTIME: 'kubernetes',
      KUBECONFIG: kubeconfigPath,
      K8S_NAMESPACE: namespace,
      SESSION_IMAGE: FAKE_SESSION_IMAGE,
      ...extra,
    }),
    async close() {
      await kubelet.close();
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
