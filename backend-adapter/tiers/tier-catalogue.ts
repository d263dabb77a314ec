import { SUBSCRIPTIONS, type Subscription } from '../../protocol/session-states.ts';
import type { Tier, TierId } from '../../protocol/session.ts';

const display = (width: number, height: number) => ({ width, height });

/** A tier as the catalogue holds it: the storage rate is always set here (optional only on the wire). */
export type CatalogueTier = Tier & { storageMicroNexCoinPerHour: number };

/**
 * The resource tiers a user can launch. Rates are integer micro-NexCoin per hour (money is never a float):
 * `microNexCoinPerHour` while Active, `storageMicroNexCoinPerHour` while Paused (the desktop's memory and
 * disk are kept). The display size is what the desktop starts with. GPU tiers need deployment phase 3.5;
 * `earlyAccess` tiers are open only to tenants with the early-access right (founding tenants).
 */
export const TIER_CATALOGUE: readonly CatalogueTier[] = [
  {
    id: 'basic',
    label: 'Basic',
    resources: { cpuMillicores: 1000, memoryMiB: 2048, storageGiB: 10, gpus: 0, display: display(1280, 720) },
    microNexCoinPerHour: 500_000,
    storageMicroNexCoinPerHour: 50_000,
    minimumSubscription: 'free',
    idleTimeoutMinutes: 30,
    maxSessionMinutes: 8 * 60,
  },
  {
    id: 'standard',
    label: 'Standard',
    resources: { cpuMillicores: 2000, memoryMiB: 4096, storageGiB: 25, gpus: 0, display: display(1280, 800) },
    microNexCoinPerHour: 1_000_000,
    storageMicroNexCoinPerHour: 100_000,
    minimumSubscription: 'standard',
    idleTimeoutMinutes: 60,
    maxSessionMinutes: 12 * 60,
  },
  {
    id: 'pro',
    label: 'Pro',
    resources: { cpuMillicores: 4000, memoryMiB: 8192, storageGiB: 50, gpus: 0, display: display(1600, 900) },
    microNexCoinPerHour: 2_500_000,
    storageMicroNexCoinPerHour: 250_000,
    minimumSubscription: 'pro',
    idleTimeoutMinutes: 120,
    maxSessionMinutes: 24 * 60,
  },
  {
    id: 'ultra',
    label: 'Ultra',
    resources: {
      cpuMillicores: 8000,
      memoryMiB: 16384,
      storageGiB: 100,
      gpus: 0,
      display: display(1920, 1080),
    },
    microNexCoinPerHour: 6_000_000,
    storageMicroNexCoinPerHour: 600_000,
    minimumSubscription: 'ultra',
    idleTimeoutMinutes: 240,
    maxSessionMinutes: 48 * 60,
  },
  {
    id: 'gpu',
    label: 'GPU',
    resources: {
      cpuMillicores: 8000,
      memoryMiB: 32768,
      storageGiB: 200,
      gpus: 1,
      display: display(1920, 1080),
    },
    microNexCoinPerHour: 15_000_000,
    storageMicroNexCoinPerHour: 1_500_000,
    earlyAccess: true,
    minimumSubscription: 'ultra',
    idleTimeoutMinutes: 120,
    maxSessionMinutes: 24 * 60,
  },
];

export function findTier(id: string): CatalogueTier | undefined {
  return TIER_CATALOGUE.find((t) => t.id === id);
}

export function isTierId(id: string): id is TierId {
  return findTier(id) !== undefined;
}

function rank(subscription: string | undefined): number {
  return SUBSCRIPTIONS.indexOf(subscription as Subscription);
}

/** Whether a subscription may launch the tier; an unknown or missing subscription may launch nothing. */
export function subscriptionAllows(subscription: string | undefined, tier: Tier): boolean {
  const have = rank(subscription);
  return have >= 0 && have >= rank(tier.minimumSubscription);
}
