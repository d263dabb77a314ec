import type { HandshakeReport } from '../../protocol/api.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import type { CheckResult } from './auth-probe.ts';
import {
  check,
  CHECK_LABELS,
  databaseCheck,
  redisCheck,
  reportOf,
  withinDeadline,
  type Check,
  type CheckId,
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
const elsewhere = (id: CheckId, why: string): Check => ({
  id,
  label: CHECK_LABELS[id],
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
      elsewhere('kubernetes-health', 'the gateway makes no pods'),
      databaseCheck(db),
      redisCheck(deps.redisPing !== undefined, redis),
      elsewhere(
        'session-isolation',
        'the gateway streams only what Canon Memory says the caller may watch; the sessions’ isolation is their pods’',
      ),
      elsewhere('resource-limits', 'the gateway allocates nothing'),
    ],
    '45': [
      check('auth-required', auth),
      elsewhere('billing', 'the gateway bills nothing'),
      elsewhere('data-privacy', 'the gateway keeps no personal data'),
      elsewhere(
        'session-timeout',
        'the gateway records viewers’ input as activity; the idle timeout is enforced',
      ),
      elsewhere('resource-quota', 'the gateway launches nothing'),
    ],
    '17': [
      elsewhere('tenant-registry', 'tenants are governed at launch'),
      elsewhere('value-distribution', 'the gateway charges nothing'),
      elsewhere('founding-tenant-rights', 'tenants are governed at launch'),
      elsewhere('phase-governance', 'the deployment phase governs launches'),
      elsewhere('n3xus-law', 'tenants are governed at launch'),
    ],
  });
}
