import { Type, type Static } from '@sinclair/typebox';

/**
 * The NexCoin wallet service's HTTP contract as v-SuperCore speaks it (`@nexus/nexcoin-wallet`'s
 * `deductNexCoin` over HTTP). The adapter (http-wallet.ts) and the test server (test/node/wallet/) both
 * validate with these schemas.
 *
 *   GET  /v1/wallets/{tenantId}/{userId}                     → 200 WalletBalance
 *   POST /v1/wallets/{tenantId}/{userId}/deductions          → 201 WalletResult (200 + Idempotent-Replayed: true on replay)
 *   POST /v1/transactions/{transactionId}/refunds            → 201 WalletResult (200 on replay)
 *   GET  /v1/wallets/{tenantId}/{userId}/entries?from=&to=   → 200 { entries }
 *
 * Money movements need an `Idempotency-Key` header. Errors: 400 INVALID_REQUEST, 402 INSUFFICIENT_FUNDS
 * (with balance and requested), 409 IDEMPOTENCY_CONFLICT; 5xx and 429 are worth retrying.
 */

const Amount = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const WireShareSchema = Type.Object({
  shareId: Type.String({ minLength: 1 }),
  account: Type.String({ minLength: 1 }),
  amount: Amount,
});

export const WireDeductBodySchema = Type.Object(
  {
    amount: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    description: Type.String({ maxLength: 500 }),
    category: Type.Literal('compute'),
    module: Type.Literal('v-supercore'),
    distribution: Type.Array(WireShareSchema, { maxItems: 16 }),
    metadata: Type.Record(Type.String(), Type.String()),
  },
  { additionalProperties: false },
);
export type WireDeductBody = Static<typeof WireDeductBodySchema>;

export const WireRefundBodySchema = Type.Object(
  {
    amount: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    reason: Type.String({ maxLength: 500 }),
  },
  { additionalProperties: false },
);
export type WireRefundBody = Static<typeof WireRefundBodySchema>;

export const WireEntrySchema = Type.Object({
  transactionId: Type.String(),
  idempotencyKey: Type.String(),
  kind: Type.Union([Type.Literal('deduct'), Type.Literal('refund'), Type.Literal('credit')]),
  owner: Type.Object({ tenantId: Type.String(), userId: Type.String() }),
  amount: Amount,
  description: Type.String(),
  category: Type.String(),
  module: Type.String(),
  metadata: Type.Record(Type.String(), Type.String()),
  refundOf: Type.Union([Type.String(), Type.Null()]),
  distribution: Type.Array(WireShareSchema),
  createdAt: Type.String(),
});

export const WireResultSchema = Type.Object({
  entry: WireEntrySchema,
  balanceAfter: Amount,
});

export const WireBalanceSchema = Type.Object({
  tenantId: Type.String(),
  userId: Type.String(),
  balance: Amount,
});

export const WireEntriesSchema = Type.Object({ entries: Type.Array(WireEntrySchema) });

export const WireErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    balance: Type.Optional(Amount),
    requested: Type.Optional(Amount),
  }),
});

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
