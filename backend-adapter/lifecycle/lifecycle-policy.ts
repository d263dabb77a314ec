import type { ClusterLimits, GenesisLimits } from '../canon/canon-store.ts';
import type { TierId } from '../../protocol/session.ts';

/** A tier's time bounds: no input for `idleMinutes` → Paused; `maxSessionMinutes` after launch → Termination. */
export interface TierTimeouts {
  idleMinutes: number;
  maxSessionMinutes: number;
}

/** The limits and time bounds the lifecycle enforces; from configuration. */
export interface LifecyclePolicy {
  limits: GenesisLimits;
  /** A runtime operation (start, pause, resume, stop) that takes longer fails the transition. */
  transitionTimeoutMs: number;
  /** Viewer input is written to Canon Memory at most this often per session. */
  activityWriteIntervalMs: number;
  /** Configured per-tier timeouts (TIER_IDLE_TIMEOUT_MINUTES, TIER_MAX_SESSION_MINUTES); absent: the catalogue's. */
  tierTimeouts?: Partial<Record<TierId, TierTimeouts>>;
}

/**
 * The spec's ResourceQuota (requests.cpu 500, requests.memory 1Ti, requests.storage 10Ti, pods 50,
 * persistentvolumeclaims 100).
 */
export const SPEC_CLUSTER_QUOTA: Required<ClusterLimits> = {
  maxCpuMillicores: 500_000,
  maxMemoryMiB: 1024 * 1024,
  maxStorageGiB: 10 * 1024,
  maxSessions: 50,
  maxVolumes: 100,
};

export const DEFAULT_POLICY: LifecyclePolicy = {
  limits: {
    maxLiveSessionsPerUser: 3,
    // A quarter of a tenant's default: no single user can take the tenant's whole allocation.
    maxCpuMillicoresPerUser: 16_000,
    maxMemoryMiBPerUser: 64 * 1024,
    maxLiveSessionsPerTenant: 20,
    maxCpuMillicoresPerTenant: 64_000,
    maxMemoryMiBPerTenant: 256 * 1024,
    cluster: SPEC_CLUSTER_QUOTA,
  },
  transitionTimeoutMs: 30_000,
  activityWriteIntervalMs: 10_000,
};
