import type { Logger } from 'pino';
import type { RemediationAction } from '../../protocol/ai.ts';
import type { Session } from '../../protocol/session.ts';
import type { Analytics } from '../analytics/analytics.ts';

/**
 * What a monitor did about a session: every action acted on (applied, skipped, failed) is counted by kind and
 * status, and every one applied or failed is reported.
 */
export function recordRemediation(
  to: {
    logger: Logger;
    analytics?: Pick<Analytics, 'track'> | undefined;
    metrics?: { aiRemediations: { inc(labels: { kind: string; status: string }): void } } | undefined;
  },
  session: Session,
  actions: readonly RemediationAction[],
  at: Date,
): void {
  for (const action of actions) {
    if (action.status === 'applied' || action.status === 'skipped' || action.status === 'failed')
      to.metrics?.aiRemediations.inc({ kind: action.kind, status: action.status });
    if (action.status === 'applied' || action.status === 'failed') reportRemediation(to, session, action, at);
  }
}

/** One remediation that was applied or failed: a warning in the log and a `supercore.ai.remediation` event. */
export function reportRemediation(
  to: { logger: Logger; analytics?: Pick<Analytics, 'track'> | undefined },
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
