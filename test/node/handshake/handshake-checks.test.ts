// The checks of the 55-45-17 report that can be broken on purpose without a whole adapter: the auth guard as
// applied to routes (a real fastify app, the real guard), data privacy, and the Kubernetes pod template.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { API_PREFIX } from '../../../protocol/handshake.ts';
import { requireCaller } from '../../../backend-adapter/api/authenticate.ts';
import { installErrorHandling } from '../../../backend-adapter/api/error-handler.ts';
import { LocalIssuer } from '../../../backend-adapter/auth/local-issuer.ts';
import type { Authenticator } from '../../../backend-adapter/auth/principal.ts';
import type { SessionRow } from '../../../backend-adapter/canon/canon-store.ts';
import { loadConfig } from '../../../backend-adapter/config.ts';
import { AuthProbe } from '../../../backend-adapter/handshake/auth-probe.ts';
import { resourceLimits, resourceQuota } from '../../../backend-adapter/handshake/resource-checks.ts';
import { dataPrivacy } from '../../../backend-adapter/handshake/handshake-report.ts';
import {
  kubernetesIsolation,
  podIsolationProblems,
} from '../../../backend-adapter/handshake/session-isolation.ts';
import { podFor } from '../../../backend-adapter/runtime/kubernetes/session-objects.ts';
import type { KubernetesRuntimeHandle } from '../../../backend-adapter/runtime/runtime-provider.ts';
import { TIER_CATALOGUE } from '../../../backend-adapter/tiers/tier-catalogue.ts';

const counters = { handshakeChecks: { inc: () => undefined }, authAttempts: { inc: () => undefined } };
const ok = async () => ({ ok: true });

/** An app shaped like the adapter's: `/api/v1` routes, most inside a scope guarded by the real bearer check. */
async function appWith(
  auth: Authenticator,
  routes: {
    guarded: Array<['GET' | 'POST', string]>;
    outside?: Array<['GET' | 'POST', string]>;
  },
  publicRoutes: ReadonlyMap<string, string> = new Map(),
): Promise<{ app: FastifyInstance; probe: AuthProbe }> {
  const app = Fastify();
  installErrorHandling(app);
  const probe = new AuthProbe(publicRoutes);
  app.addHook('onRoute', (route) => probe.noteRoute(route));
  await app.register(
    async (api) => {
      for (const [method, url] of routes.outside ?? []) api.route({ method, url, handler: ok });
      await api.register(async (guarded) => {
        guarded.addHook('onRoute', (route) => probe.noteGuarded(route));
        guarded.addHook('preHandler', requireCaller(auth, counters));
        for (const [method, url] of routes.guarded) guarded.route({ method, url, handler: ok });
      });
    },
    { prefix: API_PREFIX },
  );
  await app.ready();
  return { app, probe };
}

describe('auth-required: the guard as applied to the routes', () => {
  let dir: string;
  let issuer: LocalIssuer;
  const apps: FastifyInstance[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-auth-probe-'));
    issuer = await LocalIssuer.open(join(dir, 'issuer-key.json'));
  });
  after(async () => {
    for (const app of apps) await app.close();
    await rm(dir, { recursive: true, force: true });
  });
  const build = async (...args: Parameters<typeof appWith>) => {
    const built = await appWith(...args);
    apps.push(built.app);
    return built;
  };

  it('holds when every route is guarded and the guard refuses missing and unsigned tokens', async () => {
    const { app, probe } = await build(
      issuer,
      {
        guarded: [
          ['GET', '/sessions'],
          ['POST', '/sessions'],
        ],
        outside: [['GET', '/openapi.json']],
      },
      new Map([[`GET ${API_PREFIX}/openapi.json`, 'the API description']]),
    );
    const result = await probe.check(app);
    assert.deepEqual(result, {
      ok: true,
      evidence:
        '2 /api/v1 routes behind the bearer-token check; public by design: GET /api/v1/openapi.json (the API description); probe GET /api/v1/sessions without a token → 401 AUTH_REQUIRED, with an unsigned token → 401 AUTH_INVALID',
    });
  });

  it('fails, naming the route, when one is registered outside the guarded scope', async () => {
    const { app, probe } = await build(issuer, {
      guarded: [['GET', '/sessions']],
      outside: [['POST', '/privacy/erase']],
    });
    const result = await probe.check(app);
    assert.equal(result.ok, false);
    assert.equal(result.evidence, 'served without the bearer-token check: POST /api/v1/privacy/erase');
  });

  it('fails when the authenticator accepts a token nobody signed', async () => {
    const acceptsAnything: Authenticator = { verify: async () => ({ userId: 'anyone', tenantId: 't' }) };
    const { app, probe } = await build(acceptsAnything, { guarded: [['GET', '/sessions']] });
    const result = await probe.check(app);
    assert.equal(result.ok, false);
    assert.equal(
      result.evidence,
      'GET /api/v1/sessions with an unsigned token answered 200, not 401 AUTH_INVALID',
    );
  });

  it('fails when the sessions route is not served at all', async () => {
    const { app, probe } = await build(issuer, { guarded: [['GET', '/tiers']] });
    const result = await probe.check(app);
    assert.equal(result.ok, false);
    assert.match(result.evidence, /^GET \/api\/v1\/sessions is not served; .*answered 404/);
  });

  it('data-privacy holds only when the service is wired and export and erasure are served behind the guard', async () => {
    const privacy = { coverage: () => ['Canon Memory', 'content', 'analytics', 'ledger'] };
    const full = await build(issuer, {
      guarded: [
        ['GET', '/privacy/export'],
        ['POST', '/privacy/erase'],
      ],
    });
    const wired = dataPrivacy({ auth: full.probe, privacy });
    assert.equal(wired.ok, true);
    assert.match(wired.evidence, /they reach Canon Memory, content, analytics, ledger/);

    assert.deepEqual(dataPrivacy({ auth: full.probe }), {
      ok: false,
      evidence: 'the privacy service is not wired',
    });
    const noErase = await build(issuer, { guarded: [['GET', '/privacy/export']] });
    assert.deepEqual(dataPrivacy({ auth: noErase.probe, privacy }), {
      ok: false,
      evidence: 'POST /api/v1/privacy/erase is not served',
    });
    const open = await build(issuer, {
      guarded: [['GET', '/privacy/export']],
      outside: [['POST', '/privacy/erase']],
    });
    assert.deepEqual(dataPrivacy({ auth: open.probe, privacy }), {
      ok: false,
      evidence: 'POST /api/v1/privacy/erase is served without the bearer-token check',
    });
  });
});

describe('session-isolation on Kubernetes: the pod the runtime builds', () => {
  const objects = {
    namespace: 'v-supercore',
    image: 'ghcr.io/n3xus/v-supercore-session:0.1.0',
    storageClass: 'v-supercore-encrypted',
    runAsUser: 1000,
  };
  const basic = TIER_CATALOGUE[0]?.resources;
  assert.ok(basic);
  const refs = { secretName: 's-1', pvcName: 's-1', owner: { name: 's-1', uid: 'u' } };
  const pod = () => podFor('s-1-pod', { sessionId: 's-1', tier: 'basic' }, basic, refs, objects);

  it('finds nothing to object to in the runtime’s own pod', () => {
    assert.deepEqual(podIsolationProblems(pod(), refs), []);
    const result = kubernetesIsolation([], objects, basic);
    assert.equal(result.ok, true);
    assert.match(result.evidence, /runs as non-root uid 1000 in namespace v-supercore/);
  });

  it('names each weakening of the pod', () => {
    const cases: Array<[string, (p: ReturnType<typeof pod>) => void]> = [
      ['the pod does not require a non-root user', (p) => delete p.spec?.securityContext?.runAsNonRoot],
      [
        'the pod mounts a service-account token',
        (p) => p.spec && (p.spec.automountServiceAccountToken = true),
      ],
      ["the pod shares the node's namespaces", (p) => p.spec && (p.spec.hostPID = true)],
      [
        'volume docker mounts a node path',
        (p) => p.spec?.volumes?.push({ name: 'docker', hostPath: { path: '/var/run/docker.sock' } }),
      ],
      [
        'container desktop allows privilege escalation',
        (p) => {
          const sc = p.spec?.containers[0]?.securityContext;
          if (sc) sc.allowPrivilegeEscalation = true;
        },
      ],
      [
        "container desktop does not take VNC_PASSWORD from the session's own Secret",
        (p) => {
          const env = p.spec?.containers[0]?.env?.find((e) => e.name === 'VNC_PASSWORD');
          if (env) env.valueFrom = { secretKeyRef: { name: 'shared-secret', key: 'vnc-password' } };
        },
      ],
      [
        "volume home is not the session's own PVC",
        (p) => {
          const home = p.spec?.volumes?.find((v) => v.name === 'home');
          if (home?.persistentVolumeClaim) home.persistentVolumeClaim.claimName = 'someone-else';
        },
      ],
    ];
    for (const [problem, weaken] of cases) {
      const p = pod();
      weaken(p);
      assert.deepEqual(podIsolationProblems(p, refs), [problem]);
    }
  });

  it('fails when two live sessions in Canon Memory share a Secret or a home volume', () => {
    const handle = (secret: string, password: string): KubernetesRuntimeHandle => ({
      kind: 'kubernetes',
      namespace: 'v-supercore',
      podName: `${secret}-pod`,
      pvcName: secret,
      secretName: secret,
      tier: 'basic',
      hibernated: false,
      host: '10.0.0.1',
      port: 5900,
      password,
      display: 1,
    });
    const row = (id: string, h: KubernetesRuntimeHandle): SessionRow => ({
      session: {
        sessionId: id,
        userId: id,
        tenantId: 't',
        tier: 'basic',
        resources: basic,
        state: 'active',
        createdAt: '2026-01-12T10:00:00.000Z',
        canonTimestamp: '2026-01-12T10:00:00.000Z',
        handshake: '55-45-17',
      },
      runtime: h,
      lastActivityAt: '2026-01-12T10:00:00.000Z',
    });
    const result = kubernetesIsolation(
      [row('a', handle('s-a', 'p1')), row('b', handle('s-a', 'p2'))],
      objects,
      basic,
    );
    assert.deepEqual(result, {
      ok: false,
      evidence: 'sessions a and b share a Secret; sessions a and b share a home volume',
    });
  });
});

describe('resource-limits and resource-quota from the loaded limits', () => {
  const limits = loadConfig({ DATA_DIR: '/tmp/x' }).policy.limits;

  it('resource-limits names a tier whose resources are not set', () => {
    const [first, ...rest] = TIER_CATALOGUE;
    assert.ok(first);
    const broken = { ...first, resources: { ...first.resources, cpuMillicores: 0, storageGiB: Number.NaN } };
    assert.deepEqual(resourceLimits([broken, ...rest], limits.cluster), {
      ok: false,
      evidence: 'tier basic has no CPU set; tier basic has no storage set',
    });
    assert.deepEqual(resourceLimits([], limits.cluster), {
      ok: false,
      evidence: 'the tier catalogue is empty',
    });
  });

  it('resource-quota names a limit that is not a finite number', () => {
    const unbounded = { ...limits, maxCpuMillicoresPerUser: Number.POSITIVE_INFINITY };
    assert.deepEqual(resourceQuota(unbounded, '3.0', []), {
      ok: false,
      evidence: 'the CPU per user limit is not a finite number (Infinity)',
    });
    assert.equal(resourceQuota(limits, '3.0', []).ok, true);
  });
});
