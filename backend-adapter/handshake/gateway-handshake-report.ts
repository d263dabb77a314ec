import type { HandshakeReport } from '../../protocol/api.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import type { CheckResult } from './auth-probe.ts';
import {
  check,
  databaseCheck,
  redisCheck,
  reportOf,
  withinDeadline,
  type Check,
} from './handshake-report.ts';

export interface GatewayHandshakeDeps {
  canon: Pick<CanonStore, 'ping'>;
  /** Present when the gateway shares Redis with the orchestrators (always, in a split deployment). */
  redisPing?: () => Promise<boolean>;
  /** The bearer-token guard on the gateway's routes, probed live. */
  auth: { check(): Promise<CheckResult> };
}

const ORCHESTRATOR = 'GET /api/v1/handshake on v-supercore-orchestrator';

/** A check the gateway has nothing to do with: reported, not counted, and said where it is evaluated. */
const elsewhere = (id: string, label: string, why: string): Check => ({
  id,
  label,
  applicable: false,
  ok: false,
  evidence: `${why}; evaluated by the orchestrator (${ORCHESTRATOR})`,
});

/**
 * The stream gateway's own 55-45-17 report: what it depends on and guards — Canon Memory, which says who may
 * watch what; Redis, which carries the changes that end a viewer's access; and the bearer-token check on its
 * routes. The rest of the handshake is the orchestrator's (launches, billing, quotas, timeouts, tenants): it is
 * listed here as not applicable, with where to read it, so both reports have the same checks.
 */
export async function buildGatewayHandshakeReport(deps: GatewayHandshakeDeps): Promise<HandshakeReport> {
  const [db, redis, auth] = await Promise.all([
    withinDeadline(deps.canon.ping().catch(() => false)),
    deps.redisPing ? withinDeadline(deps.redisPing().catch(() => false)) : Promise.resolve(false),
    deps.auth.check(),
  ]);
  return reportOf({
    '55': [
      elsewhere('kubernetes-health', 'Kubernetes health checks', 'the gateway makes no pods'),
      databaseCheck(db),
      redisCheck(deps.redisPing !== undefined, redis),
      elsewhere(
        'session-isolation',
        'Session isolation verification',
        'the gateway streams only what Canon Memory says the caller may watch; the sessions’ isolation is their pods’',
      ),
      elsewhere('resource-limits', 'Resource allocation limits', 'the gateway allocates nothing'),
    ],
    '45': [
      check('auth-required', 'User authentication required', auth),
      elsewhere('billing', 'NexCoin billing integration', 'the gateway bills nothing'),
      elsewhere('data-privacy', 'Data privacy (GDPR/CCPA)', 'the gateway keeps no personal data'),
      elsewhere(
        'session-timeout',
        'Session timeout enforcement',
        'the gateway records viewers’ input as activity; the idle timeout is enforced',
      ),
      elsewhere('resource-quota', 'Resource quota compliance', 'the gateway launches nothing'),
    ],
    '17': [
      elsewhere('tenant-registry', 'Integration with 13 canonical tenants', 'tenants are governed at launch'),
      elsewhere('value-distribution', '80/20 value distribution model', 'the gateway charges nothing'),
      elsewhere(
        'founding-tenant-rights',
        'Founding tenant rights respected',
        'tenants are governed at launch',
      ),
      elsewhere('phase-governance', 'Phase governance followed', 'the deployment phase governs launches'),
      elsewhere('n3xus-law', 'N3XUS Law compliance', 'tenants are governed at launch'),
    ],
  });
}
