import { TIER_IDS, type TierId } from '../../protocol/session-states.ts';
import { ConfigError } from '../env-vars.ts';
import type { TierTimeouts } from '../lifecycle/lifecycle-policy.ts';
import { TIER_CATALOGUE, type CatalogueTier } from './tier-catalogue.ts';

export type TierTimeoutTable = Record<TierId, TierTimeouts>;

/** At most 30 days: a bound that catches a value given in seconds or milliseconds by mistake. */
const MAX_MINUTES = 30 * 24 * 60;

/** "basic=30,pro=120": minutes per tier; tiers left out keep `fallback`. */
function minutesPerTier(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: (tier: CatalogueTier) => number,
): Record<TierId, number> {
  const table = Object.fromEntries(TIER_CATALOGUE.map((t) => [t.id, fallback(t)])) as Record<TierId, number>;
  const seen = new Set<string>();
  for (const part of (env[name] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [tier = '', minutes = ''] = part.split('=').map((s) => s.trim());
    const n = Number(minutes);
    if (
      !(TIER_IDS as readonly string[]).includes(tier) ||
      !/^\d+$/.test(minutes) ||
      n < 1 ||
      n > MAX_MINUTES
    ) {
      throw new ConfigError(
        `${name} must look like "basic=30,pro=120" (tiers: ${TIER_IDS.join(', ')}; minutes from 1 to ${MAX_MINUTES}), got "${part}"`,
      );
    }
    if (seen.has(tier)) throw new ConfigError(`${name} names ${tier} twice`);
    seen.add(tier);
    table[tier as TierId] = n;
  }
  return table;
}

/**
 * The idle timeout and maximum session length per tier: TIER_IDLE_TIMEOUT_MINUTES and
 * TIER_MAX_SESSION_MINUTES override the catalogue's values for the tiers they name.
 */
export function loadTierTimeouts(env: NodeJS.ProcessEnv): TierTimeoutTable {
  const idle = minutesPerTier(env, 'TIER_IDLE_TIMEOUT_MINUTES', (t) => t.idleTimeoutMinutes);
  const max = minutesPerTier(env, 'TIER_MAX_SESSION_MINUTES', (t) => t.maxSessionMinutes);
  return Object.fromEntries(
    TIER_CATALOGUE.map((t) => [t.id, { idleMinutes: idle[t.id], maxSessionMinutes: max[t.id] }]),
  ) as TierTimeoutTable;
}

/** The catalogue as this deployment runs it: each tier with its configured timeouts (what GET /tiers shows). */
export function withTimeouts(
  catalogue: readonly CatalogueTier[],
  timeouts: Partial<Record<TierId, TierTimeouts>> | undefined,
): CatalogueTier[] {
  return catalogue.map((t) => {
    const { idleMinutes, maxSessionMinutes } = timeoutsOf(t, timeouts);
    return { ...t, idleTimeoutMinutes: idleMinutes, maxSessionMinutes };
  });
}

/** One tier's timeouts: the configured ones, else the catalogue's. */
export function timeoutsOf(
  tier: CatalogueTier,
  timeouts: Partial<Record<TierId, TierTimeouts>> | undefined,
): TierTimeouts {
  return (
    timeouts?.[tier.id] ?? { idleMinutes: tier.idleTimeoutMinutes, maxSessionMinutes: tier.maxSessionMinutes }
  );
}
