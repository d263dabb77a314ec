import type { Tier } from '../../protocol/session.ts';

/** The spec's deployment phases, oldest first. A deployment declares one (env DEPLOYMENT_PHASE). */
export const DEPLOYMENT_PHASES = ['3.0', '3.5', '4.0'] as const;
export type DeploymentPhase = (typeof DEPLOYMENT_PHASES)[number];

export interface PhaseRules {
  phase: DeploymentPhase;
  /** The spec's "Deployment Strategy" line for the phase. */
  label: string;
  /** Concurrent live sessions cluster-wide (all tenants together). */
  maxConcurrentSessions: number;
  /** Whether tiers with GPUs may be launched. */
  gpu: boolean;
}

/** The spec's deployment table: 3.0 MVP (100 sessions), 3.5 GPU support (1,000), 4.0 enterprise (10,000+). */
export const PHASE_TABLE: Record<DeploymentPhase, PhaseRules> = {
  '3.0': {
    phase: '3.0',
    label: 'Phase 3.0 (Q1 2026): MVP, web browser access, basic resource tiers',
    maxConcurrentSessions: 100,
    gpu: false,
  },
  '3.5': {
    phase: '3.5',
    label: 'Phase 3.5 (Q2 2026): cross-platform clients, GPU support',
    maxConcurrentSessions: 1_000,
    gpu: true,
  },
  '4.0': {
    phase: '4.0',
    label: 'Phase 4.0 (Q3-Q4 2026): enterprise features, global edge',
    maxConcurrentSessions: 10_000,
    gpu: true,
  },
};

export function isDeploymentPhase(value: string): value is DeploymentPhase {
  return (DEPLOYMENT_PHASES as readonly string[]).includes(value);
}

/** The first phase whose rules allow `tier`, for the message when it is refused. */
export function firstPhaseFor(tier: Tier): DeploymentPhase {
  return DEPLOYMENT_PHASES.find((p) => phaseAllows(p, tier)) ?? '4.0';
}

export function phaseAllows(phase: DeploymentPhase, tier: Tier): boolean {
  return tier.resources.gpus === 0 || PHASE_TABLE[phase].gpu;
}
