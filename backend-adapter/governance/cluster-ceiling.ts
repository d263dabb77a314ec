import type { ClusterLimits } from '../canon/canon-store.ts';
import { PHASE_TABLE, type DeploymentPhase } from './deployment-phase.ts';

/**
 * The cluster-wide ceiling Genesis enforces: the namespace's ResourceQuota (the spec's figures unless
 * configured otherwise) with its pod count further bounded by the deployment phase's concurrent-session
 * ceiling — whichever is lower binds. The volume limit applies only where sessions hold persistent volumes.
 */
export function clusterCeiling(
  phase: DeploymentPhase,
  quota: Required<ClusterLimits>,
  sessionsHoldVolumes: boolean,
): ClusterLimits {
  const { maxVolumes, ...rest } = quota;
  return {
    ...rest,
    maxSessions: Math.min(PHASE_TABLE[phase].maxConcurrentSessions, quota.maxSessions),
    ...(sessionsHoldVolumes ? { maxVolumes } : {}),
  };
}
