import type { Logger } from 'pino';
import type { Preferences } from '../../protocol/preferences.ts';
import { DEFAULT_PREFERENCES } from '../../protocol/preferences-defaults.ts';
import type { CanonStore, SessionRow } from '../canon/canon-store.ts';
import type { TierTimeouts } from '../lifecycle/lifecycle-policy.ts';
import type { TierId } from '../../protocol/session.ts';
import { findTier } from '../tiers/tier-catalogue.ts';
import { timeoutsOf } from '../tiers/tier-timeouts.ts';

export interface TimeoutEnforcerDeps {
  /** The lifecycle's pass: idle → Paused, past the maximum length → Termination, stuck transitions settled. */
  lifecycle: { enforceTimeouts(idleMinutesFor: (row: SessionRow) => Promise<number>): Promise<void> };
  canon: Pick<CanonStore, 'getPreferences'>;
  tierTimeouts?: Partial<Record<TierId, TierTimeouts>>;
  intervalMs: number;
  logger: Logger;
  clock?: () => number;
}

/** Whether timeouts are being enforced, with the evidence (the 45 "Session timeout enforcement" check). */
export interface EnforcerStatus {
  ok: boolean;
  evidence: string;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/**
 * Runs the timeout pass every interval and remembers when one last completed, so the handshake can tell a
 * working enforcer from one that stopped, hangs or keeps failing. A pass still running when the next is due
 * is not started twice.
 */
export class TimeoutEnforcer {
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: { since: number; done: Promise<void> } | undefined;
  private startedAt: number | undefined;
  private lastPassAt: number | undefined;
  private lastFailure: { at: number; reason: string } | undefined;

  constructor(private readonly deps: TimeoutEnforcerDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.startedAt = this.clock();
    this.timer = setInterval(() => void this.runPass(), this.deps.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass now (or the one already running); never rejects — a failure is logged and reported. */
  runPass(): Promise<void> {
    if (this.running) return this.running.done;
    const since = this.clock();
    const done = this.deps.lifecycle
      .enforceTimeouts((row) => this.idleMinutesFor(row))
      .then(
        () => {
          this.lastPassAt = this.clock();
        },
        (err: unknown) => {
          this.lastFailure = { at: this.clock(), reason: err instanceof Error ? err.message : String(err) };
          this.deps.logger.error({ err }, 'timeout enforcement pass failed');
        },
      )
      .finally(() => {
        this.running = undefined;
      });
    this.running = { since, done };
    return done;
  }

  /** Idle timeout: the user's preference, never above the tier's (configured) bound. */
  async idleMinutesFor(row: SessionRow): Promise<number> {
    const tier = findTier(row.session.tier);
    const tierBound = tier
      ? timeoutsOf(tier, this.deps.tierTimeouts).idleMinutes
      : DEFAULT_PREFERENCES.idleTimeoutMinutes;
    const prefs = await this.deps.canon.getPreferences(row.session);
    const chosen = (prefs?.preferences as Partial<Preferences> | undefined)?.idleTimeoutMinutes;
    return Math.min(typeof chosen === 'number' ? chosen : tierBound, tierBound);
  }

  /** Healthy while a pass completed (or, before the first, the enforcer started) within two intervals. */
  status(): EnforcerStatus {
    const interval = this.deps.intervalMs;
    const every = `every ${seconds(interval)}`;
    if (!this.timer || this.startedAt === undefined) {
      const last =
        this.lastPassAt === undefined
          ? 'never ran'
          : `last pass ${seconds(this.clock() - this.lastPassAt)} ago`;
      return { ok: false, evidence: `the timeout enforcer is not running (${last})` };
    }
    const now = this.clock();
    const reference = this.lastPassAt ?? this.startedAt;
    const age = now - reference;
    if (age <= 2 * interval) {
      return {
        ok: true,
        evidence:
          this.lastPassAt === undefined
            ? `started ${seconds(age)} ago, first pass due ${every}`
            : `last pass completed ${seconds(age)} ago (${every})`,
      };
    }
    const why: string[] = [];
    if (this.running) why.push(`a pass has been running for ${seconds(now - this.running.since)}`);
    if (this.lastFailure && this.lastFailure.at >= reference)
      why.push(`the last pass failed: ${this.lastFailure.reason}`);
    const silence =
      this.lastPassAt === undefined
        ? `no pass completed in the ${seconds(age)} since start`
        : `no pass completed for ${seconds(age)}`;
    return {
      ok: false,
      evidence: `${silence}, more than two intervals (${every})${why.length ? `: ${why.join('; ')}` : ''}`,
    };
  }
}
