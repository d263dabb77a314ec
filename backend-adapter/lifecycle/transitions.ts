import type { SessionState } from '../../protocol/session.ts';

/**
 * The IMVU state machine. Each user action names the states it may start from, the transitional state
 * it passes through while the runtime works, and where it lands.
 */
export const ACTIONS = {
  pause: { from: ['active'], via: 'pausing', to: 'paused' },
  resume: { from: ['paused'], via: 'resuming', to: 'active' },
  terminate: { from: ['active', 'paused', 'failed'], via: 'terminating', to: 'terminated' },
} as const satisfies Record<string, { from: readonly SessionState[]; via: SessionState; to: SessionState }>;

export type SessionAction = keyof typeof ACTIONS;
