import type { Logger } from 'pino';
import type { RemediationAction } from '../../protocol/ai.ts';
import type { Session } from '../../protocol/session.ts';
import type { Analytics } from '../analytics/analytics.ts';

/** One remediation that was applied or failed: a warning in the log and a `supercore.ai.remediation` event. */
export function reportRemediation(
  to: { logger: Logger; analytics?: Analytics | undefined },
  session: Session,
  action: RemediationAction,
  at: Date,
): void {
  to.logger.warn(
    { sessionId: session.sessionId, action: action.kind, status: action.status, reason: action.reason },
    'N.E.X.U.S AI remediation',
  );
  to.analytics?.track({
    event: 'supercore.ai.remediation',
    userId: session.userId,
    properties: { sessionId: session.sessionId, tenantId: session.tenantId, tier: session.tier, ...action },
    timestamp: at.toISOString(),
  });
}
