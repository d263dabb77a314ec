import type { HandshakeCheck, HandshakeReport } from '../../protocol/api.ts';
import { HANDSHAKE } from '../../protocol/handshake.ts';
import type { GovernanceReport } from '../billing/start-billing.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import type { RuntimeProvider } from '../runtime/runtime-provider.ts';
import type { LifecyclePolicy } from '../lifecycle/lifecycle-policy.ts';
import { TIER_CATALOGUE } from '../tiers/tier-catalogue.ts';

export interface HandshakeDeps {
  canon: CanonStore;
  runtime: RuntimeProvider;
  policy: LifecyclePolicy;
  timeoutCheckIntervalMs: number;
  /** Present when several replicas share Redis. */
  redisPing?: () => Promise<boolean>;
  /** NexCoin billing and tenant/phase governance (billing/start-billing.ts): the 45 billing and 17 checks. */
  governance?: { governanceReport(): Promise<GovernanceReport> };
}

type Check = Omit<HandshakeCheck, 'group'>;

const notYet = (id: string, label: string, evidence: string): Check => ({
  id,
  label,
  applicable: true,
  ok: false,
  evidence,
});

/**
 * The 55-45-17 checks this component can evaluate, each with the evidence it rests on. A check that is
 * not built yet reports ok: false rather than pretending.
 */
export async function buildHandshakeReport(deps: HandshakeDeps): Promise<HandshakeReport> {
  const dbOk = await deps.canon.ping().catch(() => false);
  const redisOk = deps.redisPing ? await deps.redisPing().catch(() => false) : false;
  const { limits } = deps.policy;
  const local = deps.runtime.name === 'local';
  const kubernetes = deps.runtime.health ? await deps.runtime.health().catch(() => undefined) : undefined;
  const gov = deps.governance ? await deps.governance.governanceReport() : undefined;
  const check = (id: string, label: string, result: { ok: boolean; evidence: string }): Check => ({
    id,
    label,
    applicable: true,
    ok: result.ok,
    evidence: result.evidence,
  });
  const groups: Record<'55' | '45' | '17', Check[]> = {
    '55': [
      {
        id: 'kubernetes-health',
        label: 'Kubernetes health checks',
        applicable: !local,
        ok: kubernetes?.ok ?? false,
        evidence: local
          ? 'local runtime in use; no Kubernetes API configured'
          : (kubernetes?.evidence ?? 'not evaluated'),
      },
      {
        id: 'database',
        label: 'Database connection validation',
        applicable: true,
        ok: dbOk,
        evidence: dbOk ? 'Canon Memory answered SELECT 1' : 'Canon Memory did not answer',
      },
      {
        id: 'redis',
        label: 'Redis cache availability',
        applicable: deps.redisPing !== undefined,
        ok: redisOk,
        evidence: !deps.redisPing
          ? 'single replica: events and locks are in-process; Redis is used only with several replicas'
          : redisOk
            ? 'Redis answered PING'
            : 'Redis did not answer',
      },
      {
        id: 'session-isolation',
        label: 'Session isolation verification',
        applicable: true,
        ok: local,
        evidence: local
          ? 'each desktop runs in its own process group and directory, on loopback only, behind its own VNC password'
          : 'not evaluated',
      },
      {
        id: 'resource-limits',
        label: 'Resource allocation limits',
        applicable: true,
        ok: TIER_CATALOGUE.length > 0,
        evidence: `${TIER_CATALOGUE.length} tiers with fixed CPU, memory, storage and GPU allocations`,
      },
    ],
    '45': [
      {
        id: 'auth-required',
        label: 'User authentication required',
        applicable: true,
        ok: true,
        evidence: 'every /api/v1 route and stream requires a verified bearer token',
      },
      gov
        ? check('billing', 'NexCoin billing integration', gov.billing)
        : notYet('billing', 'NexCoin billing integration', 'billing is not integrated yet'),
      notYet('data-privacy', 'Data privacy (GDPR/CCPA)', 'export and erasure are not built yet'),
      {
        id: 'session-timeout',
        label: 'Session timeout enforcement',
        applicable: true,
        ok: true,
        evidence: `idle timeout and maximum length per tier (${TIER_CATALOGUE.map((t) => `${t.id} ${t.idleTimeoutMinutes}/${t.maxSessionMinutes} min`).join(', ')}), checked every ${Math.round(deps.timeoutCheckIntervalMs / 1000)} s from Canon Memory`,
      },
      {
        id: 'resource-quota',
        label: 'Resource quota compliance',
        applicable: true,
        ok: true,
        evidence: `checked atomically at Genesis: ${limits.maxLiveSessionsPerUser} live sessions per user, ${limits.maxLiveSessionsPerTenant} per tenant, ${limits.maxCpuMillicoresPerTenant} mCPU and ${limits.maxMemoryMiBPerTenant} MiB per tenant; cluster ceiling ${limits.cluster.maxSessions} sessions, ${limits.cluster.maxCpuMillicores / 1000} CPU`,
      },
    ],
    '17': gov
      ? [
          check('tenant-registry', 'Integration with 13 canonical tenants', gov.tenantRegistry),
          check('value-distribution', '80/20 value distribution model', gov.valueDistribution),
          check('founding-tenant-rights', 'Founding tenant rights respected', gov.foundingRights),
          check('phase-governance', 'Phase governance followed', gov.phase),
          check('n3xus-law', 'N3XUS Law compliance', {
            ok: [gov.tenantRegistry, gov.valueDistribution, gov.foundingRights, gov.phase].every((c) => c.ok),
            evidence: `80/20 value distribution, tenant governance and phase ${gov.phase.phase} governance evaluated above; Canon Memory is the source of truth (append-only records); the handshake is verified on every call`,
          }),
        ]
      : [
          notYet(
            'tenant-registry',
            'Integration with 13 canonical tenants',
            'no tenant registry is loaded yet',
          ),
          notYet('value-distribution', '80/20 value distribution model', 'not configured yet'),
          notYet(
            'founding-tenant-rights',
            'Founding tenant rights respected',
            'no tenant registry is loaded yet',
          ),
          notYet('n3xus-law', 'N3XUS Law compliance', 'depends on the checks above'),
        ],
  };
  const checks: HandshakeCheck[] = (['55', '45', '17'] as const).flatMap((group) =>
    groups[group].map((c) => ({ group, ...c })),
  );
  return { handshake: HANDSHAKE, ok: checks.every((c) => !c.applicable || c.ok), checks };
}
