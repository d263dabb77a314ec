import type { HandshakeCheck, HandshakeReport } from '../../protocol/api.ts';
import { HANDSHAKE } from '../../protocol/handshake.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import type { RuntimeProvider } from '../runtime/runtime-provider.ts';
import { TIER_CATALOGUE } from '../tiers/tier-catalogue.ts';

export interface HandshakeDeps {
  canon: CanonStore;
  runtime: RuntimeProvider;
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
  const local = deps.runtime.name === 'local';
  const groups: Record<'55' | '45' | '17', Check[]> = {
    '55': [
      {
        id: 'kubernetes-health',
        label: 'Kubernetes health checks',
        applicable: !local,
        ok: false,
        evidence: local ? 'local runtime in use; no Kubernetes API configured' : 'not evaluated',
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
        applicable: false,
        ok: false,
        evidence: 'single-process deployment on embedded SQLite; Redis is used only with several replicas',
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
      notYet('billing', 'NexCoin billing integration', 'billing is not integrated yet'),
      notYet('data-privacy', 'Data privacy (GDPR/CCPA)', 'export and erasure are not built yet'),
      notYet(
        'session-timeout',
        'Session timeout enforcement',
        'idle and maximum-length timeouts are not built yet',
      ),
      notYet(
        'resource-quota',
        'Resource quota compliance',
        'per-user and per-tenant quotas are not built yet',
      ),
    ],
    '17': [
      notYet('tenant-registry', 'Integration with 13 canonical tenants', 'no tenant registry is loaded yet'),
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
