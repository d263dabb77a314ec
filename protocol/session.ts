import { Type, type Static } from '@sinclair/typebox';
import { SESSION_STATES, SUBSCRIPTIONS, TIER_IDS } from './session-states.ts';

export {
  SESSION_STATES,
  SUBSCRIPTIONS,
  TIER_IDS,
  type SessionState,
  type Subscription,
  type TierId,
} from './session-states.ts';

/**
 * A string that is one of `values`, as a JSON Schema `enum`. Not TypeBox's union of literals (`anyOf` of
 * consts): fast-json-stringify then runs one validator per alternative for every value it writes, which was
 * about a tenth of the server's time listing sessions (bench/orchestrator/api-latency.ts). Same values, same
 * static type.
 */
function stringEnum<T extends string>(values: readonly T[]) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values] });
}

export const AllocatedResourcesSchema = Type.Object({
  cpuMillicores: Type.Integer({ minimum: 0 }),
  memoryMiB: Type.Integer({ minimum: 0 }),
  storageGiB: Type.Integer({ minimum: 0 }),
  gpus: Type.Integer({ minimum: 0 }),
  display: Type.Object({ width: Type.Integer(), height: Type.Integer() }),
});
export type AllocatedResources = Static<typeof AllocatedResourcesSchema>;

/** The spec's SuperCoreSession, as the API returns it. */
export const SessionSchema = Type.Object({
  sessionId: Type.String(),
  userId: Type.String(),
  tenantId: Type.String(),
  tier: stringEnum(TIER_IDS),
  resources: AllocatedResourcesSchema,
  state: stringEnum(SESSION_STATES),
  failureReason: Type.Optional(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  canonTimestamp: Type.String({ format: 'date-time' }),
  handshake: Type.Literal('55-45-17'),
  /**
   * What the session has cost so far in integer micro-NexCoin: every billing period started up to now at
   * the session's rates (the final cost once it has ended). Filled in on the session list and reads.
   */
  costSoFarMicroNexCoin: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type Session = Static<typeof SessionSchema>;

/**
 * What the caller pays for a tier when it is not the list price: a founding tenant's (or another tenant's
 * negotiated) discount, applied to both rates. Integer micro-NexCoin per hour, rounded up as billing rounds.
 */
export const TierPriceSchema = Type.Object({
  microNexCoinPerHour: Type.Integer({ minimum: 0 }),
  storageMicroNexCoinPerHour: Type.Integer({ minimum: 0 }),
  discountBasisPoints: Type.Integer({ minimum: 1, maximum: 10_000 }),
  /** `founding`: the tenant is a founding tenant of N3XUS v-COS; `tenant`: the tenant's own agreement. */
  reason: Type.Union([Type.Literal('founding'), Type.Literal('tenant')]),
});
export type TierPrice = Static<typeof TierPriceSchema>;

export const TierSchema = Type.Object({
  id: Type.Union(TIER_IDS.map((t) => Type.Literal(t))),
  label: Type.String(),
  resources: AllocatedResourcesSchema,
  microNexCoinPerHour: Type.Integer({ minimum: 0 }),
  /** The lowest v-auth subscription that may launch this tier. */
  minimumSubscription: Type.Union(SUBSCRIPTIONS.map((s) => Type.Literal(s))),
  /** Without input for this long an active session is paused (a user may choose less, not more). */
  idleTimeoutMinutes: Type.Integer({ minimum: 1 }),
  /** A session older than this is terminated. */
  maxSessionMinutes: Type.Integer({ minimum: 1 }),
  /** Whether the caller's subscription allows it (filled per request by the server). */
  allowed: Type.Optional(Type.Boolean()),
  /** Paused time (memory and disk kept) is billed at this rate, integer micro-NexCoin per hour. */
  storageMicroNexCoinPerHour: Type.Optional(Type.Integer({ minimum: 0 })),
  /** A tier in early access: only tenants with the early-access right (founding tenants) may launch it. */
  earlyAccess: Type.Optional(Type.Boolean()),
  /** Why `allowed` is false: subscription, deployment phase, early access or the tenant's configuration. */
  notAllowedReason: Type.Optional(Type.String()),
  /** The caller's own rates, present only when they differ from the list price (filled per request). */
  yourPrice: Type.Optional(TierPriceSchema),
});
export type Tier = Static<typeof TierSchema>;
