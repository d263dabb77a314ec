import type { Logger } from 'pino';
import type { TierId } from '../../protocol/session.ts';
import type { LaunchRecord } from '../canon/canon-store.ts';
import type { WarmPoolBounds, WarmPoolControl } from '../runtime/runtime-provider.ts';
import { DEFAULT_LAUNCH_MODEL, LaunchModel, type LaunchModelOptions } from './launch-predictor.ts';

const HOUR_MS = 3_600_000;
const WEEK_MS = 168 * HOUR_MS;

export interface WarmPoolPlanOptions {
  /** How far ahead to look: every hour from now to now + lead counts (a desktop must be warm in time). */
  leadMs: number;
  /** The pool may leave this share of busy hours with more launches than warm desktops (a few go cold). */
  missRate: number;
  launchModel: LaunchModelOptions;
}

export const DEFAULT_WARM_POOL_PLAN: WarmPoolPlanOptions = {
  leadMs: 15 * 60_000,
  missRate: 0.1,
  launchModel: DEFAULT_LAUNCH_MODEL,
};

/**
 * How many warm desktops cover the launches of users who each launch with probability `p` (independently):
 * the smallest k with P(launches > k) ≤ `missRate`, at most `cap`. The count of launches is Poisson-binomial;
 * its distribution is built exactly, one user at a time, with everything above `cap` in one bucket.
 */
export function warmDesktopsNeeded(probabilities: readonly number[], missRate: number, cap: number): number {
  let dist = new Float64Array(cap + 2);
  dist[0] = 1;
  for (const raw of probabilities) {
    const p = Math.min(1, Math.max(0, raw));
    if (p === 0) continue;
    const next = new Float64Array(cap + 2);
    for (let k = 0; k <= cap + 1; k++) {
      const mass = dist[k] ?? 0;
      if (mass === 0) continue;
      next[k] = (next[k] ?? 0) + mass * (1 - p);
      const up = Math.min(k + 1, cap + 1);
      next[up] = (next[up] ?? 0) + mass * p;
    }
    dist = next;
  }
  let atMost = 0;
  for (let k = 0; k <= cap; k++) {
    atMost += dist[k] ?? 0;
    if (1 - atMost <= missRate + 1e-12) return k;
  }
  return cap;
}

/**
 * Warm desktops wanted per tier from every user's hour-of-week launch model (launch-predictor.ts): for each
 * hour from now to now + lead, each user's probability of launching, counted under the tier they would
 * likely launch; the tier's target is what the busiest of those hours needs, within its bounds.
 */
export function planWarmPool(
  history: readonly LaunchRecord[],
  now: Date,
  bounds: Partial<Record<TierId, WarmPoolBounds>>,
  options: WarmPoolPlanOptions = DEFAULT_WARM_POOL_PLAN,
): Partial<Record<TierId, number>> {
  const byUser = new Map<string, LaunchRecord[]>();
  for (const launch of history) {
    const key = `${launch.tenantId}\u0000${launch.userId}`;
    const list = byUser.get(key);
    if (list) list.push(launch);
    else byUser.set(key, [launch]);
  }
  const models = [...byUser.values()].map((launches) => LaunchModel.fit(launches, now, options.launchModel));
  const hours: Date[] = [];
  const first = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
  for (let t = first; t <= now.getTime() + options.leadMs; t += HOUR_MS) hours.push(new Date(t));

  const targets: Partial<Record<TierId, number>> = {};
  for (const [tier, b] of Object.entries(bounds) as Array<[TierId, WarmPoolBounds]>) {
    let wanted = 0;
    for (const hour of hours) {
      const probabilities: number[] = [];
      for (const model of models) {
        const p = model.predict(hour);
        if (p.likelyTier === tier) probabilities.push(model.probabilityAt(hour));
      }
      wanted = Math.max(wanted, warmDesktopsNeeded(probabilities, options.missRate, b.ceiling));
    }
    targets[tier] = Math.min(b.ceiling, Math.max(b.floor, wanted));
  }
  return targets;
}

export interface WarmPoolPlannerDeps {
  /** Launches since a date (Canon Memory's sessions, every tenant). */
  launches(since: Date): Promise<LaunchRecord[]>;
  pool: WarmPoolControl;
  logger: Logger;
  options?: Partial<WarmPoolPlanOptions>;
  clock?: () => Date;
  /** Called with every plan applied (metrics). */
  onPlan?(targets: Partial<Record<TierId, number>>): void;
}

/**
 * Feeds the warm pool from the launch predictions: every interval it refits the per-user models on Canon
 * Memory's launch history and sets each tier's target, so the pool grows before a predicted busy hour and
 * shrinks back to its floor after it.
 */
export class WarmPoolPlanner {
  private readonly options: WarmPoolPlanOptions;
  private readonly clock: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly deps: WarmPoolPlannerDeps) {
    this.options = { ...DEFAULT_WARM_POOL_PLAN, ...deps.options };
    this.clock = deps.clock ?? (() => new Date());
  }

  /** One round: returns the targets set (undefined when a round is already running or the pool is fixed). */
  async planOnce(): Promise<Partial<Record<TierId, number>> | undefined> {
    const bounds = this.deps.pool.warmPoolBounds();
    if (this.running || !Object.values(bounds).some((b) => b.ceiling > b.floor)) return undefined;
    this.running = true;
    try {
      const now = this.clock();
      const since = new Date(now.getTime() - this.options.launchModel.maxWeeks * WEEK_MS);
      const targets = planWarmPool(await this.deps.launches(since), now, bounds, this.options);
      this.deps.pool.setWarmTargets(targets);
      this.deps.onPlan?.(targets);
      this.deps.logger.debug({ targets }, 'warm pool targets from the launch predictions');
      return targets;
    } finally {
      this.running = false;
    }
  }

  start(intervalMs: number): void {
    const round = () =>
      void this.planOnce().catch((err: unknown) =>
        this.deps.logger.warn({ err }, 'warm pool planning failed; the pool keeps its last targets'),
      );
    this.timer ??= setInterval(round, intervalMs);
    this.timer.unref();
    round();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
