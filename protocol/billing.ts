import { Type, type Static } from '@sinclair/typebox';

/** REST contract of billing: usage and invoices, in integer micro-NexCoin (1 NexCoin = 1,000,000). */

const Money = Type.Integer({ minimum: 0, description: 'micro-NexCoin' });
const Month = Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM (UTC)' });

/** `GET /api/v1/usage?month=YYYY-MM`: `month` is optional (all sessions when absent). */
export const UsageQuerySchema = Type.Object({ month: Type.Optional(Month) }, { additionalProperties: false });
export type UsageQuery = Static<typeof UsageQuerySchema>;

/** `GET /api/v1/invoices?month=YYYY-MM`. */
export const InvoiceQuerySchema = Type.Object({ month: Month }, { additionalProperties: false });
export type InvoiceQuery = Static<typeof InvoiceQuerySchema>;

const Scope = Type.Union([Type.Literal('user'), Type.Literal('tenant')], {
  description: '`tenant` for a tenant admin (every user of the tenant), `user` otherwise',
});

/** One session's usage: the SuperCoreUsage record once it has ended, the cost so far before. */
export const UsageRecordSchema = Type.Object({
  sessionId: Type.String(),
  userId: Type.String(),
  tier: Type.String(),
  state: Type.String(),
  startTime: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  endTime: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  activeSeconds: Type.Integer({ minimum: 0 }),
  pausedSeconds: Type.Integer({ minimum: 0 }),
  /** The SuperCoreUsage cost once final; the cost of every period started so far before. */
  costMicroNexCoin: Money,
  /** Confirmed by the wallet. */
  chargedMicroNexCoin: Money,
  /** Charged but not (yet) confirmed: pending, or declined for lack of funds. */
  outstandingMicroNexCoin: Money,
  /** True once the session has ended and its SuperCoreUsage record is written. */
  final: Type.Boolean(),
});
export type UsageRecordResponse = Static<typeof UsageRecordSchema>;

export const UsageResponseSchema = Type.Object({
  scope: Scope,
  tenantId: Type.String(),
  userId: Type.Optional(Type.String()),
  month: Type.Optional(Month),
  /** The caller's NexCoin balance (user scope; absent when the wallet did not answer). */
  balanceMicroNexCoin: Type.Optional(Money),
  records: Type.Array(UsageRecordSchema),
  totals: Type.Object({
    costMicroNexCoin: Money,
    chargedMicroNexCoin: Money,
    outstandingMicroNexCoin: Money,
  }),
});
export type UsageResponse = Static<typeof UsageResponseSchema>;

export const InvoiceLineSchema = Type.Object({
  sessionId: Type.String(),
  userId: Type.String(),
  tier: Type.String(),
  activePeriods: Type.Integer({ minimum: 0 }),
  pausedPeriods: Type.Integer({ minimum: 0 }),
  /** Founding-tenant discount applied to this session's rates, basis points. */
  discountBasisPoints: Type.Integer({ minimum: 0, maximum: 10000 }),
  /** What the periods cost at list rates. */
  listPriceMicroNexCoin: Money,
  totalMicroNexCoin: Money,
  outstandingMicroNexCoin: Money,
});

export const InvoiceResponseSchema = Type.Object({
  month: Month,
  scope: Scope,
  tenantId: Type.String(),
  userId: Type.Optional(Type.String()),
  currency: Type.Literal('micro-NexCoin'),
  periodSeconds: Type.Integer({ minimum: 1, description: 'length of one billing period' }),
  lines: Type.Array(InvoiceLineSchema),
  totals: Type.Object({
    listPriceMicroNexCoin: Money,
    discountMicroNexCoin: Money,
    totalMicroNexCoin: Money,
    chargedMicroNexCoin: Money,
    outstandingMicroNexCoin: Money,
  }),
  /** Where the month's charges went: the 80/20 value distribution. */
  distribution: Type.Array(
    Type.Object({ shareId: Type.String(), account: Type.String(), amountMicroNexCoin: Money }),
  ),
});
export type InvoiceResponse = Static<typeof InvoiceResponseSchema>;
