/**
 * Share of launches served by a warm desktop: the warm pool sized by the launch predictions (planWarmPool,
 * the production planner) against fixed pools, on a generated weekly pattern. Prints figures; never fails.
 *
 * A SIMULATION of the pool (a week cannot run on the fake cluster): users with weekly habits
 * (generateWeeklyUser), the planner refit on every launch before "now" every planning interval, and a pool
 * per tier in which a new desktop is ready `podStartS` seconds after it is created (a cold start on a real
 * cluster: scheduling, volume attach, image already pulled). A launch takes a ready warm desktop if there
 * is one (then the pool starts a replacement while below its target), else it starts cold. Surplus desktops
 * above a lowered target are deleted at once (still-starting ones first). The cost is warm desktop-hours
 * (ready or starting, unclaimed).
 *
 *   node --import tsx bench/ai/warm-pool.ts [users=60] [floor=1] [ceiling=6] [podStartS=90]
 */
import { HOUR_MS, WEEK_MS, generateWeeklyUser } from '../../backend-adapter/ai/evaluation.ts';
import { DEFAULT_WARM_POOL_PLAN, planWarmPool } from '../../backend-adapter/ai/warm-pool-planner.ts';
import type { LaunchRecord } from '../../backend-adapter/canon/canon-store.ts';
import type { TierId } from '../../protocol/session.ts';

const users = Number(process.argv[2] ?? 60);
const floor = Number(process.argv[3] ?? 1);
const ceiling = Number(process.argv[4] ?? 6);
const podStartMs = Number(process.argv[5] ?? 90) * 1000;
const TRAIN_WEEKS = 8;
const TEST_WEEKS = 2;
const PLAN_INTERVAL_MS = 5 * 60_000;
const TIERS: TierId[] = ['basic', 'standard', 'pro'];

const launches: LaunchRecord[] = [];
for (let u = 0; u < users; u++) {
  for (const h of generateWeeklyUser(7_000 + u, TRAIN_WEEKS + TEST_WEEKS).history) {
    launches.push({ userId: `u${u}`, tenantId: 't', tier: h.tier, createdAt: h.createdAt });
  }
}
launches.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
const start = Date.parse('2026-01-05T00:00:00.000Z') + TRAIN_WEEKS * WEEK_MS;
const end = start + TEST_WEEKS * WEEK_MS;
const evaluated = launches.filter((l) => {
  const t = Date.parse(l.createdAt);
  return t >= start && t < end;
});

interface Outcome {
  warm: number;
  cold: number;
  warmHours: number;
  planMs: number;
}

/** Runs the evaluation weeks with `targetAt(now)` as the pool's target per tier, re-read every interval. */
function simulate(targetAt: (now: number) => Partial<Record<TierId, number>>): Outcome {
  // Per tier: when each unclaimed desktop is (or will be) ready.
  const pool = new Map<TierId, number[]>(TIERS.map((t) => [t, []]));
  const target = new Map<TierId, number>();
  let warm = 0;
  let cold = 0;
  let warmMs = 0;
  let planMs = 0;
  let clock = start;
  const advance = (to: number) => {
    for (const ready of pool.values()) warmMs += ready.length * (to - clock);
    clock = to;
  };
  const topUp = (tier: TierId, now: number) => {
    const ready = pool.get(tier) ?? [];
    const want = target.get(tier) ?? 0;
    while (ready.length < want) ready.push(now + podStartMs);
    // Surplus: the desktops that would be ready last go first.
    ready.sort((a, b) => a - b);
    ready.length = Math.min(ready.length, want);
  };
  let next = 0;
  for (let tick = start; tick < end; tick += PLAN_INTERVAL_MS) {
    advance(tick);
    const t0 = performance.now();
    const targets = targetAt(tick);
    planMs += performance.now() - t0;
    for (const tier of TIERS) {
      target.set(tier, targets[tier] ?? 0);
      topUp(tier, tick);
    }
    for (; next < evaluated.length; next++) {
      const launch = evaluated[next] as LaunchRecord;
      const at = Date.parse(launch.createdAt);
      if (at >= tick + PLAN_INTERVAL_MS) break;
      advance(at);
      const ready = pool.get(launch.tier) ?? [];
      const i = ready.findIndex((r) => r <= at);
      if (i >= 0) {
        ready.splice(i, 1);
        warm++;
        topUp(launch.tier, at);
      } else cold++;
    }
  }
  advance(end);
  return { warm, cold, warmHours: warmMs / HOUR_MS, planMs };
}

const bounds = Object.fromEntries(TIERS.map((t) => [t, { floor, ceiling }])) as Record<
  TierId,
  { floor: number; ceiling: number }
>;
const fixed = (n: number) => () => Object.fromEntries(TIERS.map((t) => [t, n]));
const predicted = (now: number) =>
  planWarmPool(
    launches.filter((l) => Date.parse(l.createdAt) < now),
    new Date(now),
    bounds,
    DEFAULT_WARM_POOL_PLAN,
  );

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
console.log(
  `# Warm pool on a generated weekly pattern: ${users} users, ${TRAIN_WEEKS} weeks of history, ${TEST_WEEKS} weeks evaluated`,
);
console.log(
  `# ${evaluated.length} launches evaluated over tiers ${TIERS.join(', ')}; a new desktop is ready ${podStartMs / 1000} s after creation; plans every ${PLAN_INTERVAL_MS / 60_000} min, lead ${DEFAULT_WARM_POOL_PLAN.leadMs / 60_000} min, miss rate ${DEFAULT_WARM_POOL_PLAN.missRate}`,
);
console.log('pool                                 served warm    warm desktop-hours per tier per week');
const row = (name: string, r: Outcome) =>
  console.log(
    `${name.padEnd(37)}${pct(r.warm / (r.warm + r.cold)).padStart(11)}    ${(r.warmHours / TIERS.length / TEST_WEEKS).toFixed(0).padStart(6)}`,
  );
const byPrediction = simulate(predicted);
const sameCost = Math.round(byPrediction.warmHours / TIERS.length / TEST_WEEKS / 168);
row(`fixed WARM_POOL=${floor} per tier`, simulate(fixed(floor)));
row(`fixed ${sameCost} per tier (about the same cost)`, simulate(fixed(sameCost)));
row(`fixed ${ceiling} per tier (the ceiling)`, simulate(fixed(ceiling)));
row(`predicted, ${floor}…${ceiling} per tier`, byPrediction);
console.log(
  `planning: ${(byPrediction.planMs / ((end - start) / PLAN_INTERVAL_MS)).toFixed(1)} ms per round (${users} user models refit)`,
);
