import type { HandshakeCheck, HandshakeReport } from '../../protocol/api.ts';
import { API_PREFIX, HANDSHAKE } from '../../protocol/handshake.ts';
import type { GovernanceReport } from '../billing/start-billing.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import type { DeploymentPhase } from '../governance/deployment-phase.ts';
import type { LifecyclePolicy } from '../lifecycle/lifecycle-policy.ts';
import type { SessionObjectsConfig } from '../runtime/kubernetes/session-objects.ts';
import type { RuntimeProvider } from '../runtime/runtime-provider.ts';
import type { EnforcerStatus } from '../timeouts/timeout-enforcer.ts';
import { TIER_CATALOGUE } from '../tiers/tier-catalogue.ts';
import { timeoutsOf } from '../tiers/tier-timeouts.ts';
import type { AuthProbe, CheckResult } from './auth-probe.ts';
import { resourceLimits, resourceQuota } from './resource-checks.ts';
import { kubernetesIsolation, localIsolation } from './session-isolation.ts';

export interface HandshakeDeps {
  canon: CanonStore;
  runtime: RuntimeProvider;
  policy: LifecyclePolicy;
  /** The deployment phase (its session ceiling is one bound of the cluster ceiling). */
  phase: DeploymentPhase;
  /** Where the local runtime keeps the sessions' directories. */
  sessionsDir: string;
  /** The settings of the pods the Kubernetes runtime builds. */
  kubernetes: SessionObjectsConfig;
  /** The periodic idle / maximum-length pass. */
  timeouts: { status(): EnforcerStatus };
  /** The bearer-token guard as applied to the routes, and a live probe of it. */
  auth: Pick<AuthProbe, 'routeStatus'> & { check(): Promise<CheckResult> };
  /** GDPR/CCPA export and erasure (privacy/privacy-service.ts), when wired. */
  privacy?: { coverage(): string[] };
  /** Present when several replicas share Redis. */
  redisPing?: () => Promise<boolean>;
  /** NexCoin billing and tenant/phase governance (billing/start-billing.ts): the 45 billing and 17 checks. */
  governance?: { governanceReport(): Promise<GovernanceReport> };
}

export type Check = Omit<HandshakeCheck, 'group'>;

/** How long a dependency may take to answer before its check counts as failed. */
const PROBE_DEADLINE_MS = 2000;

/** The work's result, or 'late' once the deadline passed (a hung dependency must not hang the report). */
export async function withinDeadline<T>(work: Promise<T>): Promise<T | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), PROBE_DEADLINE_MS);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The spec's 55-45-17 checks by id, as both the orchestrator's and the stream gateway's reports name them. */
export const CHECK_LABELS = {
  'kubernetes-health': 'Kubernetes health checks',
  database: 'Database connection validation',
  redis: 'Redis cache availability',
  'session-isolation': 'Session isolation verification',
  'resource-limits': 'Resource allocation limits',
  'auth-required': 'User authentication required',
  billing: 'NexCoin billing integration',
  'data-privacy': 'Data privacy (GDPR/CCPA)',
  'session-timeout': 'Session timeout enforcement',
  'resource-quota': 'Resource quota compliance',
  'tenant-registry': 'Integration with 13 canonical tenants',
  'value-distribution': '80/20 value distribution model',
  'founding-tenant-rights': 'Founding tenant rights respected',
  'phase-governance': 'Phase governance followed',
  'n3xus-law': 'N3XUS Law compliance',
} as const;
export type CheckId = keyof typeof CHECK_LABELS;

const notYet = (id: CheckId, evidence: string): Check => ({
  id,
  label: CHECK_LABELS[id],
  applicable: true,
  ok: false,
  evidence,
});

export const check = (id: CheckId, result: CheckResult): Check => ({
  id,
  label: CHECK_LABELS[id],
  applicable: true,
  ok: result.ok,
  evidence: result.evidence,
});

/** The 55 "Database connection validation": Canon Memory's own readiness probe, within the deadline. */
export function databaseCheck(answer: boolean | 'late'): Check {
  return check('database', {
    ok: answer === true,
    evidence:
      answer === true
        ? 'Canon Memory answered'
        : answer === 'late'
          ? `Canon Memory did not answer within ${PROBE_DEADLINE_MS} ms`
          : 'Canon Memory did not answer',
  });
}

/** The 55 "Redis cache availability": applicable with several replicas (REDIS_URL), which share it. */
export function redisCheck(configured: boolean, answer: boolean | 'late'): Check {
  return {
    id: 'redis',
    label: CHECK_LABELS.redis,
    applicable: configured,
    ok: answer === true,
    evidence: !configured
      ? 'single replica: events and locks are in-process; Redis is used only with several replicas'
      : answer === true
        ? 'Redis answered PING (events and session locks shared by the replicas)'
        : answer === 'late'
          ? `Redis did not answer within ${PROBE_DEADLINE_MS} ms`
          : 'Redis did not answer',
  };
}

/** The 45 "Data privacy (GDPR/CCPA)": export and erasure wired and served, only to authenticated callers. */
export function dataPrivacy(deps: {
  auth: Pick<AuthProbe, 'routeStatus'>;
  privacy?: HandshakeDeps['privacy'];
}): CheckResult {
  const routes = [
    ['GET', `${API_PREFIX}/privacy/export`],
    ['POST', `${API_PREFIX}/privacy/erase`],
  ] as const;
  const problems = routes.flatMap(([method, url]) => {
    const status = deps.auth.routeStatus(method, url);
    if (status === 'absent') return [`${method} ${url} is not served`];
    if (status === 'unguarded') return [`${method} ${url} is served without the bearer-token check`];
    return [];
  });
  if (!deps.privacy) problems.unshift('the privacy service is not wired');
  if (problems.length > 0) return { ok: false, evidence: problems.join('; ') };
  return {
    ok: true,
    evidence: `export (GET ${API_PREFIX}/privacy/export) and erasure (POST ${API_PREFIX}/privacy/erase) served to the user or their tenant admin; they reach ${deps.privacy?.coverage().join(', ')}; erased users' Canon records stay under a pseudonym whose link is destroyed`,
  };
}

/**
 * The 55-45-17 checks, each evaluated from the adapter's state with the evidence it rests on: dependencies
 * answering, the pods or processes the runtime makes, the guard on the routes, the timeout pass's last run,
 * the limits loaded and what live sessions hold.
 */
export async function buildHandshakeReport(deps: HandshakeDeps): Promise<HandshakeReport> {
  const [db, redis, kubernetes, gov, rows, auth] = await Promise.all([
    withinDeadline(deps.canon.ping().catch(() => false)),
    deps.redisPing ? withinDeadline(deps.redisPing().catch(() => false)) : Promise.resolve(false),
    deps.runtime.health ? deps.runtime.health().catch(() => undefined) : Promise.resolve(undefined),
    deps.governance ? deps.governance.governanceReport() : Promise.resolve(undefined),
    withinDeadline(deps.canon.listUnfinished().catch(() => undefined)),
    deps.auth.check(),
  ]);
  const live = rows === 'late' ? undefined : rows;
  const { limits } = deps.policy;
  const local = deps.runtime.name === 'local';
  const onKubernetes = deps.runtime.name === 'kubernetes';
  const unread = { ok: false, evidence: 'Canon Memory could not be read' };
  const basic = TIER_CATALOGUE[0]?.resources;

  const isolation: CheckResult = !live
    ? unread
    : local
      ? await localIsolation(live, deps.sessionsDir)
      : onKubernetes && basic
        ? kubernetesIsolation(live, deps.kubernetes, basic)
        : { ok: false, evidence: `the ${deps.runtime.name} runtime has no isolation check` };

  const enforcer = deps.timeouts.status();
  const perTier = TIER_CATALOGUE.map((t) => {
    const { idleMinutes, maxSessionMinutes } = timeoutsOf(t, deps.policy.tierTimeouts);
    return `${t.id} ${idleMinutes}/${maxSessionMinutes} min`;
  }).join(', ');

  const groups: Record<'55' | '45' | '17', Check[]> = {
    '55': [
      {
        id: 'kubernetes-health',
        label: CHECK_LABELS['kubernetes-health'],
        applicable: !local,
        ok: kubernetes?.ok ?? false,
        evidence: local
          ? 'local runtime in use; no Kubernetes API configured'
          : (kubernetes?.evidence ?? 'not evaluated'),
      },
      databaseCheck(db),
      redisCheck(deps.redisPing !== undefined, redis),
      check('session-isolation', isolation),
      check(
        'resource-limits',
        resourceLimits(TIER_CATALOGUE, limits.cluster, onKubernetes ? deps.kubernetes : undefined),
      ),
    ],
    '45': [
      check('auth-required', auth),
      gov ? check('billing', gov.billing) : notYet('billing', 'billing is not integrated yet'),
      check('data-privacy', dataPrivacy(deps)),
      check('session-timeout', {
        ok: enforcer.ok,
        evidence: `${enforcer.evidence}; idle timeout / maximum length per tier: ${perTier}; read from Canon Memory, so a restart does not reset them`,
      }),
      check('resource-quota', live ? resourceQuota(limits, deps.phase, live) : unread),
    ],
    '17': gov
      ? [
          check('tenant-registry', gov.tenantRegistry),
          check('value-distribution', gov.valueDistribution),
          check('founding-tenant-rights', gov.foundingRights),
          check('phase-governance', gov.phase),
          check('n3xus-law', {
            ok: [gov.tenantRegistry, gov.valueDistribution, gov.foundingRights, gov.phase].every((c) => c.ok),
            evidence: `80/20 value distribution, tenant governance and phase ${gov.phase.phase} governance evaluated above; Canon Memory is the source of truth (append-only records); the handshake is verified on every call`,
          }),
        ]
      : [
          notYet('tenant-registry', 'no tenant registry is loaded yet'),
          notYet('value-distribution', 'not configured yet'),
          notYet('founding-tenant-rights', 'no tenant registry is loaded yet'),
          notYet('phase-governance', 'the deployment phase is not governed yet'),
          notYet('n3xus-law', 'depends on the checks above'),
        ],
  };
  return reportOf(groups);
}

/** The report of these checks, in group order: ok when every applicable check passes. */
export function reportOf(groups: Record<'55' | '45' | '17', Check[]>): HandshakeReport {
  const checks: HandshakeCheck[] = (['55', '45', '17'] as const).flatMap((group) =>
    groups[group].map((c) => ({ group, ...c })),
  );
  return { handshake: HANDSHAKE, ok: checks.every((c) => !c.applicable || c.ok), checks };
}
