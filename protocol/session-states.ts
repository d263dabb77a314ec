// Plain constants, free of TypeBox, so the browser bundle and the worker can import them.

/**
 * IMVU lifecycle states. Genesis covers `requested` and `provisioning`; Termination covers
 * `terminating` and `terminated`; `failed` carries a reason. `paused` keeps the desktop's memory;
 * `hibernated` (a runtime that hibernates, e.g. Kubernetes, after a while paused) keeps its disk only.
 * `restarting`: the desktop stopped answering while active and is being started again (home kept, memory lost).
 */
export const SESSION_STATES = [
  'requested',
  'provisioning',
  'active',
  'pausing',
  'paused',
  'hibernated',
  'resuming',
  'restarting',
  'terminating',
  'terminated',
  'failed',
] as const;
export type SessionState = (typeof SESSION_STATES)[number];

/** States a session only passes through on its way to a stable one (while someone works on it). */
export const TRANSITIONAL_SESSION_STATES: readonly SessionState[] = [
  'requested',
  'provisioning',
  'pausing',
  'resuming',
  'restarting',
  'terminating',
];

export const TIER_IDS = ['basic', 'standard', 'pro', 'ultra', 'gpu'] as const;
export type TierId = (typeof TIER_IDS)[number];

/** v-auth subscriptions, lowest first: each one may launch the tiers of those below it. */
export const SUBSCRIPTIONS = ['free', 'standard', 'pro', 'ultra', 'enterprise'] as const;
export type Subscription = (typeof SUBSCRIPTIONS)[number];
