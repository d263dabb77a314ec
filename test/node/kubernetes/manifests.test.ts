import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { podFor, pvcFor, secretFor } from '../../../backend-adapter/runtime/kubernetes/session-objects.ts';
import { loadConfig } from '../../../backend-adapter/config.ts';
import { findTier } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import { renderKustomization, type Manifest } from '../../support/kustomize-lite.ts';

interface IngressSpec {
  rules: Array<{
    http: { paths: Array<{ path: string; pathType: string; backend: { service: { name: string } } }> };
  }>;
}

const ROOT = fileURLToPath(new URL('../../../manifest/', import.meta.url));
const KUSTOMIZE = join(ROOT, 'kubernetes');
const VARIANTS = {
  base: join(KUSTOMIZE, 'base'),
  dev: join(KUSTOMIZE, 'overlays', 'dev'),
  prod: join(KUSTOMIZE, 'overlays', 'prod'),
};

// The spec's YAML, verbatim (shared/spec/v-supercore-integration-spec.md).
const SPEC_QUOTA = `
apiVersion: v1
kind: ResourceQuota
metadata:
  name: v-supercore-quota
  namespace: v-supercore
spec:
  hard:
    requests.cpu: "500"
    requests.memory: 1Ti
    requests.storage: 10Ti
    persistentvolumeclaims: "100"
    pods: "50"
`;
const SPEC_NETWORK_POLICY = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: v-supercore-network-policy
  namespace: v-supercore
spec:
  podSelector:
    matchLabels:
      app: v-supercore
  policyTypes:
  - Ingress
  - Egress
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          name: v-supercore
    - podSelector:
        matchLabels:
          app: v-stream-gateway
  egress:
  - to:
    - namespaceSelector:
        matchLabels:
          name: nexus-core
`;
const SPEC_SERVICES = `
services:
  - hostname: v-supercore-orchestrator
    port: 8080
    network: n3xus-net
    handshake: 55-45-17
    
  - hostname: v-stream-gateway
    port: 8443
    network: n3xus-net
    handshake: 55-45-17
    
  - hostname: v-supercore-session-pool
    port: 5900
    network: n3xus-net
    handshake: 55-45-17
`;

type Validate = new (data: unknown) => { validate(): void };

/** The kubernetes-models class for an object (its JSON Schema validation). */
async function modelFor(apiVersion: string, kind: string): Promise<Validate> {
  const path = `kubernetes-models/${apiVersion}/${kind}`;
  const mod = (await import(path)) as Record<string, Validate>;
  const model = mod[kind];
  if (!model) throw new Error(`no kubernetes-models class for ${apiVersion} ${kind}`);
  return model;
}

async function validateAll(objects: readonly unknown[]): Promise<void> {
  for (const o of objects) {
    const m = o as Manifest;
    const Model = await modelFor(m.apiVersion, m.kind);
    assert.doesNotThrow(() => new Model(m).validate(), `${m.kind}/${m.metadata.name}`);
  }
}

const strip = (o: Manifest): Manifest => {
  // kustomize adds labels; compare the rest of the object with the spec.
  const copy = structuredClone(o);
  delete copy.metadata.labels;
  return copy;
};
const find = (objects: Manifest[], kind: string, name: string): Manifest => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind}/${name} is rendered`);
  return found;
};
const key = (o: Manifest) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

function kubectlPath(): string | undefined {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return 'kubectl';
  } catch {
    return undefined;
  }
}
const kubectl = kubectlPath();

describe('Kubernetes manifests (kustomize base and dev/prod overlays)', () => {
  const rendered = Object.fromEntries(
    Object.entries(VARIANTS).map(([name, dir]) => [name, renderKustomization(dir)]),
  ) as Record<keyof typeof VARIANTS, Manifest[]>;

  for (const [variant, objects] of Object.entries(rendered)) {
    it(`${variant}: every object is valid against the Kubernetes schemas (kubernetes-models)`, async () => {
      assert.ok(objects.length >= 20, `${objects.length} objects`);
      await validateAll(objects);
      assert.equal(new Set(objects.map(key)).size, objects.length, 'no duplicates');
    });

    it(`${variant}: the spec's ResourceQuota and NetworkPolicy exactly, everything in namespace v-supercore`, () => {
      assert.deepEqual(strip(find(objects, 'ResourceQuota', 'v-supercore-quota')), parse(SPEC_QUOTA));
      assert.deepEqual(
        strip(find(objects, 'NetworkPolicy', 'v-supercore-network-policy')),
        parse(SPEC_NETWORK_POLICY),
      );
      const ns = find(objects, 'Namespace', 'v-supercore');
      assert.equal(ns.metadata.labels?.name, undefined, 'the namespace does not opt every pod in');
      for (const o of objects.filter((o) => !['Namespace', 'StorageClass'].includes(o.kind))) {
        assert.equal(o.metadata.namespace, 'v-supercore', key(o));
      }
    });

    it(`${variant}: only the gateway reaches session pods on 5900, only the orchestrator their agent`, () => {
      const policy = find(objects, 'NetworkPolicy', 'v-supercore-session-ingress') as Manifest & {
        spec: {
          podSelector: { matchLabels: Record<string, string> };
          ingress: Array<{ from: unknown; ports: unknown }>;
        };
      };
      assert.deepEqual(policy.spec.podSelector.matchLabels, {
        app: 'v-supercore',
        'app.kubernetes.io/component': 'session',
      });
      assert.deepEqual(policy.spec.ingress, [
        {
          from: [{ podSelector: { matchLabels: { app: 'v-stream-gateway' } } }],
          ports: [{ protocol: 'TCP', port: 5900 }],
        },
        {
          from: [{ podSelector: { matchLabels: { app: 'v-supercore-orchestrator' } } }],
          ports: [{ protocol: 'TCP', port: 8090 }],
        },
      ]);
    });

    it(`${variant}: the ingress sends the routes that speak RFB to the gateway, and the rest of the API not`, () => {
      // ingress-nginx with use-regex: regex paths are matched case-insensitively from the start of the path,
      // and a regex location wins over the plain prefix `/`.
      const serviceFor = (path: string): string | undefined => {
        const rules = objects
          .filter((o) => o.kind === 'Ingress')
          .flatMap((o) => {
            const spec = (o as Manifest & { spec: IngressSpec }).spec;
            const annotations = (o.metadata.annotations ?? {}) as Record<string, string>;
            const regex = annotations['nginx.ingress.kubernetes.io/use-regex'] === 'true';
            return spec.rules.flatMap((r) =>
              r.http.paths.map((p) => ({ ...p, regex, service: p.backend.service.name })),
            );
          });
        const byRegex = rules.find((r) => r.regex && new RegExp(`^${r.path}`, 'i').test(path));
        return (byRegex ?? rules.find((r) => r.pathType === 'Prefix' && path.startsWith(r.path)))?.service;
      };
      // The two routes whose handlers open an RFB connection (stream-route.ts, thumbnail-service.ts).
      for (const path of ['/api/v1/sessions/0193a4b2/stream', '/api/v1/sessions/0193a4b2/thumbnail']) {
        assert.equal(serviceFor(path), 'v-stream-gateway', path);
      }
      for (const path of [
        '/api/v1/sessions',
        '/api/v1/sessions/0193a4b2',
        '/api/v1/sessions/0193a4b2/pause',
        '/api/v1/sessions/0193a4b2/thumbnails',
        '/api/v1/sessions/events',
        '/',
      ]) {
        assert.equal(serviceFor(path), 'v-supercore-orchestrator', path);
      }
    });

    it(`${variant}: Services with the spec's hostnames and ports; Deployments probe /healthz and /readyz`, () => {
      const ports = (name: string) =>
        (
          find(objects, 'Service', name) as Manifest & { spec: { ports: Array<{ port: number }> } }
        ).spec.ports.map((p) => p.port);
      assert.deepEqual(ports('v-supercore-orchestrator'), [8080]);
      assert.deepEqual(ports('v-stream-gateway'), [8443]);
      assert.deepEqual(ports('v-supercore-session-pool'), [5900]);
      for (const [name, port, role] of [
        ['v-supercore-orchestrator', 8080, 'orchestrator'],
        ['v-stream-gateway', 8443, 'stream-gateway'],
      ] as const) {
        type C = {
          env: Array<{ name: string; value: string }>;
          ports: Array<{ containerPort: number }>;
          readinessProbe: { httpGet: { path: string } };
          livenessProbe: { httpGet: { path: string } };
          securityContext: { readOnlyRootFilesystem: boolean; runAsNonRoot: boolean };
        };
        const d = find(objects, 'Deployment', name) as Manifest & {
          spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: C[] } } };
        };
        const c = d.spec.template.spec.containers[0];
        assert.equal(d.spec.template.metadata.labels.app, name);
        assert.equal(c?.ports[0]?.containerPort, port);
        // One role per Deployment, a value the adapter accepts (loadConfig refuses any other).
        const env = Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));
        assert.equal(env.ADAPTER_ROLE, role);
        assert.equal(loadConfig({ ADAPTER_ROLE: env.ADAPTER_ROLE, REDIS_URL: 'redis://r:6379' }).role, role);
        assert.equal(c?.readinessProbe.httpGet.path, '/readyz');
        assert.equal(c?.livenessProbe.httpGet.path, '/healthz');
        assert.equal(c?.securityContext.runAsNonRoot, true);
        assert.ok(
          objects.some((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === name),
          `PDB for ${name}`,
        );
      }
    });

    it(`${variant}: encrypted storage class for session volumes (AES-256) and TLS 1.3 at the edge`, () => {
      const sc = find(objects, 'StorageClass', 'v-supercore-encrypted') as Manifest & {
        parameters: Record<string, string>;
      };
      assert.equal(
        sc.metadata.annotations &&
          (sc.metadata.annotations as Record<string, string>)['v-supercore.n3xus/encryption-at-rest'],
        'AES-256',
      );
      assert.equal(sc.parameters.encrypted, 'true');
      const config = find(objects, 'ConfigMap', 'v-supercore-config') as Manifest & {
        data: Record<string, string>;
      };
      assert.equal(config.data.SESSION_STORAGE_CLASS, 'v-supercore-encrypted');
      assert.equal(config.data.RUNTIME, 'kubernetes');
      for (const ingress of objects.filter((o) => o.kind === 'Ingress')) {
        const annotations = ingress.metadata.annotations as Record<string, string>;
        assert.equal(annotations['nginx.ingress.kubernetes.io/ssl-protocols'], 'TLSv1.3');
        assert.ok((ingress as Manifest & { spec: { tls: unknown[] } }).spec.tls.length > 0);
      }
    });
  }

  for (const variant of ['base', 'prod'] as const) {
    it(`${variant}: the spec's autoscaling — 5 to 50 replicas at 70 % CPU and 80 % memory`, () => {
      const hpas = rendered[variant].filter((o) => o.kind === 'HorizontalPodAutoscaler');
      assert.deepEqual(hpas.map((h) => h.metadata.name).sort(), [
        'v-stream-gateway',
        'v-supercore-orchestrator',
      ]);
      for (const h of hpas as Array<
        Manifest & {
          spec: {
            minReplicas: number;
            maxReplicas: number;
            metrics: Array<{ resource: { name: string; target: { averageUtilization: number } } }>;
          };
        }
      >) {
        assert.equal(h.spec.minReplicas, 5);
        assert.equal(h.spec.maxReplicas, 50);
        const target = Object.fromEntries(
          h.spec.metrics.map((m) => [m.resource.name, m.resource.target.averageUtilization]),
        );
        assert.deepEqual(target, { cpu: 70, memory: 80 });
      }
    });
  }

  it('dev scales down (one replica, HPA 1–2, no warm pool); prod keeps a warm pool per tier', () => {
    const hpa = find(rendered.dev, 'HorizontalPodAutoscaler', 'v-supercore-orchestrator') as Manifest & {
      spec: { minReplicas: number; maxReplicas: number };
    };
    assert.deepEqual([hpa.spec.minReplicas, hpa.spec.maxReplicas], [1, 2]);
    const data = (v: 'dev' | 'prod') =>
      (find(rendered[v], 'ConfigMap', 'v-supercore-config') as Manifest & { data: Record<string, string> })
        .data;
    assert.equal(data('dev').WARM_POOL, '');
    assert.equal(data('prod').WARM_POOL, 'basic=3,standard=2,pro=1');
    assert.equal(data('prod').SESSION_STORAGE_CLASS, 'v-supercore-encrypted', 'patches merge, not replace');
  });

  it('the n3xus-net registration is the spec’s, and every service in it exists on its port', () => {
    const registration = parse(readFileSync(join(ROOT, 'n3xus-net', 'services.yaml'), 'utf8')) as {
      services: Array<{ hostname: string; port: number }>;
    };
    assert.deepEqual(registration, parse(SPEC_SERVICES));
    for (const s of registration.services) {
      const service = find(rendered.prod, 'Service', s.hostname) as Manifest & {
        spec: { ports: Array<{ port: number }> };
      };
      assert.ok(
        service.spec.ports.some((p) => p.port === s.port),
        `${s.hostname}:${s.port}`,
      );
    }
  });

  it('the objects the Kubernetes runtime creates per session are valid too (Secret, PVC, Pod of each tier)', async () => {
    const config = {
      namespace: 'v-supercore',
      image: 'ghcr.io/n3xus/v-supercore-session:0.1.0',
      storageClass: 'v-supercore-encrypted',
      runAsUser: 1000,
    };
    const owner = { name: 'vsc-s', uid: '00000000-0000-0000-0000-000000000001' };
    for (const tier of ['basic', 'gpu'] as const) {
      const resources = findTier(tier)?.resources;
      assert.ok(resources);
      const who = { sessionId: '7f0c8a52-3f0e-4c1e-9d55-3a1d2b9e0c11', tenantId: 'tenant a/β', tier };
      const objects = [
        secretFor('vsc-s', who, { agentToken: 't'.repeat(32), vncPassword: 'p'.repeat(8) }, config),
        pvcFor('vsc-s', who, resources, owner, config),
        podFor('vsc-s-abcde', who, resources, { secretName: 'vsc-s', pvcName: 'vsc-s', owner }, config),
      ];
      await validateAll(objects);
      const pod = objects[2] as {
        spec: { containers: Array<{ resources: { limits: Record<string, string> } }> };
      };
      assert.equal(
        pod.spec.containers[0]?.resources.limits['nvidia.com/gpu'],
        tier === 'gpu' ? '1' : undefined,
      );
    }
  });

  const compareTitle = kubectl
    ? 'renders exactly what `kubectl kustomize` renders (base, dev, prod)'
    : 'renders exactly what `kubectl kustomize` renders — SKIPPED: kubectl is not on PATH';
  it(compareTitle, { skip: kubectl ? false : 'kubectl is not on PATH' }, () => {
    for (const [variant, dir] of Object.entries(VARIANTS)) {
      const output = execFileSync(kubectl ?? 'kubectl', ['kustomize', dir], { encoding: 'utf8' });
      const theirs = parseAllDocuments(output).map((d) => d.toJS() as Manifest);
      const ours = rendered[variant as keyof typeof VARIANTS];
      const byKey = (list: Manifest[]) => Object.fromEntries(list.map((o) => [key(o), o]));
      assert.deepEqual(byKey(ours), byKey(theirs), variant);
    }
  });
});
