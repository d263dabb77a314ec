import type { SessionState } from '../../protocol/session.ts';
import { TRANSITIONAL_SESSION_STATES } from '../../protocol/session-states.ts';

/**
 * The IMVU state machine. Each user action names the states it may start from, the transitional state
 * it passes through while the runtime works, and where it lands.
 */
export const ACTIONS = {
  pause: { from: ['active'], via: 'pausing', to: 'paused' },
  resume: { from: ['paused', 'hibernated'], via: 'resuming', to: 'active' },
  terminate: { from: ['active', 'paused', 'hibernated', 'failed'], via: 'terminating', to: 'terminated' },
} as const satisfies Record<string, { from: readonly SessionState[]; via: SessionState; to: SessionState }>;

export type SessionAction = keyof typeof ACTIONS;

/**
 * A tier change keeps the session's state: recorded as `tier.changed` (and `tier.applied` once the runtime has
 * given the desktop the new resources), from and to the same state; under the session's lock like any action.
 */
export const TIER_CHANGE_FROM: readonly SessionState[] = ['active', 'paused'];

/**
 * What the system does on its own, with no transitional state: a session paused longer than the runtime's
 * hibernate-after is hibernated (its processes end, its disk stays); written only once the runtime has done it.
 */
export const SYSTEM_TRANSITIONS = {
  hibernate: { from: ['paused'], to: 'hibernated' },
} as const satisfies Record<string, { from: readonly SessionState[]; to: SessionState }>;

/**
 * The watchdog's restart of a stuck desktop (its agent stopped answering): active → restarting → active, or
 * failed with the reason once every attempt failed. `restarting` is not billed.
 */
export const RESTART = { from: ['active'], via: 'restarting', to: 'active' } as const satisfies {
  from: readonly SessionState[];
  via: SessionState;
  to: SessionState;
};

/**
 * States a session only passes through while someone holds its lock and works on it. Found in one with its
 * lock free and older than a transition can take, it was left by a holder that died: reconciled, never kept.
 */
export const TRANSITIONAL_STATES: readonly SessionState[] = TRANSITIONAL_SESSION_STATES;
