import type { Logger } from 'pino';
import type { RemediationAction } from '../../protocol/ai.ts';
import type { Session } from '../../protocol/session.ts';
import type { Analytics } from '../analytics/analytics.ts';
import type { SessionRow } from '../canon/canon-store.ts';
import type { DesktopLiveness, RuntimeHandle } from '../runtime/runtime-provider.ts';
import { reportRemediation } from './report-remediation.ts';

export interface WatchdogPolicy {
  /** Health checks in a row a desktop must fail before it is restarted (one slow answer is not a hang). */
  failuresBeforeRestart: number;
  /** Restart attempts (with doubling backoff from `backoffMs`) before the session fails. */
  attempts: number;
  backoffMs: number;
  /** A desktop restarted this often within `windowMs` that gets stuck again fails instead. */
  maxRestarts: number;
  windowMs: number;
}

export const DEFAULT_WATCHDOG_POLICY: WatchdogPolicy = {
  failuresBeforeRestart: 3,
  attempts: 3,
  backoffMs: 2000,
  maxRestarts: 3,
  windowMs: 3_600_000,
};

export interface DesktopWatchdogDeps {
  canon: { listUnfinished(): Promise<SessionRow[]> };
  runtime: { liveness?(handle: RuntimeHandle): Promise<DesktopLiveness> };
  lifecycle: {
    restartStuck(
      sessionId: string,
      why: string,
      actor: string,
      retry: { attempts: number; backoffMs: number },
    ): Promise<Session>;
  };
  logger: Logger;
  analytics?: Analytics;
  /** Restarts by outcome (`restarted`, `failed`). */
  metrics?: { desktopRestarts: { inc(labels: { outcome: string }): void } };
  policy?: Partial<WatchdogPolicy>;
  /** The actor recorded in Canon Memory for the restart. */
  actor: string;
  clock?: () => Date;
}

/**
 * "Restart a stuck agent": asks every active desktop's agent whether it answers (and whether its display
 * server does) each round; after `failuresBeforeRestart` failures in a row the lifecycle restarts the desktop
 * (`restarting`, then `active` again or `failed` with the reason). Each restart is tracked as a
 * `supercore.ai.remediation` event of kind `restart-desktop` and counted in the metrics.
 */
export class DesktopWatchdog {
  private readonly policy: WatchdogPolicy;
  private readonly clock: () => Date;
  private readonly failures = new Map<string, number>();
  private readonly restarts = new Map<string, number[]>();
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(private readonly deps: DesktopWatchdogDeps) {
    this.policy = { ...DEFAULT_WATCHDOG_POLICY, ...deps.policy };
    this.clock = deps.clock ?? (() => new Date());
  }

  /** One round of health checks; resolves once any restart it started has finished. */
  async checkOnce(): Promise<Array<{ sessionId: string; action: RemediationAction }>> {
    const liveness = this.deps.runtime.liveness?.bind(this.deps.runtime);
    if (!liveness || this.checking) return [];
    this.checking = true;
    const started: Array<Promise<{ sessionId: string; action: RemediationAction }>> = [];
    try {
      const rows = await this.deps.canon.listUnfinished();
      const active = rows.filter((r) => r.session.state === 'active' && r.runtime);
      const live = new Set(rows.map((r) => r.session.sessionId));
      for (const id of this.failures.keys()) if (!live.has(id)) this.failures.delete(id);
      for (const id of this.restarts.keys()) if (!live.has(id)) this.restarts.delete(id);
      await Promise.all(
        active.map(async (row) => {
          const id = row.session.sessionId;
          if (this.inFlight.has(id) || !row.runtime) return;
          const answer = await liveness(row.runtime).catch((error: unknown): DesktopLiveness => ({
            ok: false,
            reason: String(error),
          }));
          if (answer.ok) {
            this.failures.delete(id);
            return;
          }
          const failed = (this.failures.get(id) ?? 0) + 1;
          this.failures.set(id, failed);
          this.deps.logger.warn(
            { sessionId: id, failed, reason: answer.reason },
            'desktop health check failed',
          );
          if (failed >= this.policy.failuresBeforeRestart) started.push(this.restart(row, answer.reason));
        }),
      );
    } finally {
      this.checking = false;
    }
    // Restarts run on: the next round checks the other desktops meanwhile.
    return Promise.all(started);
  }

  private async restart(
    row: SessionRow,
    why: string,
  ): Promise<{ sessionId: string; action: RemediationAction }> {
    const { sessionId } = row.session;
    this.failures.delete(sessionId);
    const now = this.clock().getTime();
    const recent = (this.restarts.get(sessionId) ?? []).filter((t) => now - t < this.policy.windowMs);
    const tooOften = recent.length >= this.policy.maxRestarts;
    this.restarts.set(sessionId, [...recent, now]);
    const reason = tooOften
      ? `${why}; it was already restarted ${recent.length} times within ${Math.round(this.policy.windowMs / 60_000)} minutes`
      : why;
    const work = this.deps.lifecycle
      .restartStuck(sessionId, reason, this.deps.actor, {
        attempts: tooOften ? 0 : this.policy.attempts,
        backoffMs: this.policy.backoffMs,
      })
      .then(
        (): RemediationAction => ({
          kind: 'restart-desktop',
          status: 'applied',
          reason: `The desktop stopped answering (${why}); it was restarted on its kept disk (memory lost).`,
        }),
        (error: unknown): RemediationAction => ({
          kind: 'restart-desktop',
          status: 'failed',
          reason: `The desktop stopped answering (${reason}) and could not be restarted: ${error instanceof Error ? error.message : String(error)}`,
        }),
      );
    this.inFlight.set(sessionId, work);
    const action = await work.finally(() => this.inFlight.delete(sessionId));
    this.deps.metrics?.desktopRestarts.inc({ outcome: action.status === 'applied' ? 'restarted' : 'failed' });
    reportRemediation(this.deps, row.session, action, this.clock());
    return { sessionId, action };
  }

  start(intervalMs: number): void {
    this.timer ??= setInterval(() => void this.checkOnce().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
