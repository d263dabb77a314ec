import type { GenesisLimits } from '../canon/canon-store.ts';

/** The limits and time bounds the lifecycle enforces; from configuration. */
export interface LifecyclePolicy {
  limits: GenesisLimits;
  /** A runtime operation (start, pause, resume, stop) that takes longer fails the transition. */
  transitionTimeoutMs: number;
  /** Viewer input is written to Canon Memory at most this often per session. */
  activityWriteIntervalMs: number;
}

/** The spec's ResourceQuota (requests.cpu 500, requests.memory 1Ti, requests.storage 10Ti, pods 50). */
export const SPEC_CLUSTER_QUOTA: GenesisLimits['cluster'] = {
  maxCpuMillicores: 500_000,
  maxMemoryMiB: 1024 * 1024,
  maxStorageGiB: 10 * 1024,
  maxSessions: 50,
};

export const DEFAULT_POLICY: LifecyclePolicy = {
  limits: {
    maxLiveSessionsPerUser: 3,
    maxLiveSessionsPerTenant: 20,
    maxCpuMillicoresPerTenant: 64_000,
    maxMemoryMiBPerTenant: 256 * 1024,
    cluster: SPEC_CLUSTER_QUOTA,
  },
  transitionTimeoutMs: 30_000,
  activityWriteIntervalMs: 10_000,
};
