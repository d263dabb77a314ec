import type { Tier, TierId } from '../../protocol/session.ts';

/**
 * The resource tiers a user can launch. Rates are integer micro-NexCoin per hour (money is never a float).
 * The display size is what the desktop starts with.
 */
export const TIER_CATALOGUE: readonly Tier[] = [
  {
    id: 'basic',
    label: 'Basic',
    resources: {
      cpuMillicores: 1000,
      memoryMiB: 2048,
      storageGiB: 10,
      gpus: 0,
      display: { width: 1280, height: 720 },
    },
    microNexCoinPerHour: 500_000,
  },
  {
    id: 'standard',
    label: 'Standard',
    resources: {
      cpuMillicores: 2000,
      memoryMiB: 4096,
      storageGiB: 25,
      gpus: 0,
      display: { width: 1280, height: 800 },
    },
    microNexCoinPerHour: 1_000_000,
  },
  {
    id: 'pro',
    label: 'Pro',
    resources: {
      cpuMillicores: 4000,
      memoryMiB: 8192,
      storageGiB: 50,
      gpus: 0,
      display: { width: 1600, height: 900 },
    },
    microNexCoinPerHour: 2_500_000,
  },
  {
    id: 'ultra',
    label: 'Ultra',
    resources: {
      cpuMillicores: 8000,
      memoryMiB: 16384,
      storageGiB: 100,
      gpus: 0,
      display: { width: 1920, height: 1080 },
    },
    microNexCoinPerHour: 6_000_000,
  },
  {
    id: 'gpu',
    label: 'GPU',
    resources: {
      cpuMillicores: 8000,
      memoryMiB: 32768,
      storageGiB: 200,
      gpus: 1,
      display: { width: 1920, height: 1080 },
    },
    microNexCoinPerHour: 15_000_000,
  },
];

export function findTier(id: string): Tier | undefined {
  return TIER_CATALOGUE.find((t) => t.id === id);
}

export function isTierId(id: string): id is TierId {
  return findTier(id) !== undefined;
}
