import { Type, type Static } from '@sinclair/typebox';
import { AllocatedResourcesSchema, SessionSchema, TIER_IDS } from './session.ts';
import { StoredFileSchema } from './content.ts';

/**
 * GDPR/CCPA: `GET /api/v1/privacy/export` (all of a user's data as JSON) and `POST /api/v1/privacy/erase`.
 * Both are for the caller themself, or — with `userId` — for a tenant admin acting for a user of the tenant.
 */

const UserIdSchema = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._@-]+$' });

export const PrivacyExportQuerySchema = Type.Object(
  { userId: Type.Optional(UserIdSchema) },
  { additionalProperties: false },
);

const CanonRecordSchema = Type.Object({
  seq: Type.Integer(),
  recordId: Type.String(),
  entity: Type.String(),
  entityId: Type.String(),
  action: Type.String(),
  fromState: Type.Union([Type.String(), Type.Null()]),
  toState: Type.Union([Type.String(), Type.Null()]),
  /** The user, a `system:` actor, or `another-user` (someone else acted: their identity is not disclosed). */
  actor: Type.String(),
  tenantId: Type.String(),
  payload: Type.Record(Type.String(), Type.Unknown()),
  canonTimestamp: Type.String(),
  handshake: Type.Literal('55-45-17'),
});

const UsageSchema = Type.Object({
  userId: Type.String(),
  tenantId: Type.String(),
  sessionId: Type.String(),
  startTime: Type.String(),
  endTime: Type.String(),
  resourceConsumption: Type.Object({
    activeSeconds: Type.Number(),
    pausedSeconds: Type.Number(),
    cpuMillicoreSeconds: Type.Number(),
    memoryMiBSeconds: Type.Number(),
  }),
  /** Integer micro-NexCoin. */
  cost: Type.Integer(),
  canonRecord: Type.Literal(true),
});

const AllocationSchema = Type.Object({
  sessionId: Type.String(),
  tier: Type.Union(TIER_IDS.map((t) => Type.Literal(t))),
  resources: AllocatedResourcesSchema,
  allocatedAt: Type.String(),
  releasedAt: Type.Union([Type.String(), Type.Null()]),
});

const AnalyticsEventSchema = Type.Object({
  event: Type.String(),
  userId: Type.String(),
  properties: Type.Record(Type.String(), Type.Unknown()),
  timestamp: Type.String(),
});

export const PrivacyExportSchema = Type.Object({
  format: Type.Literal('v-supercore.privacy-export.v1'),
  exportedAt: Type.String({ format: 'date-time' }),
  subject: Type.Object({ userId: Type.String(), tenantId: Type.String() }),
  sessions: Type.Array(SessionSchema),
  /** Canon Memory records about the user: their sessions (state changes, usage), preferences, privacy actions. */
  canonRecords: Type.Array(CanonRecordSchema),
  usage: Type.Array(UsageSchema),
  preferences: Type.Union([
    Type.Object({ preferences: Type.Record(Type.String(), Type.Unknown()), updatedAt: Type.String() }),
    Type.Null(),
  ]),
  allocations: Type.Array(AllocationSchema),
  /** Files uploaded to the user's sessions (metadata; download each with GET /sessions/{id}/files/{name}). */
  files: Type.Array(StoredFileSchema),
  analytics: Type.Object({
    heldBy: Type.Union([Type.Literal('local-file'), Type.Literal('v-analytics')]),
    events: Type.Array(AnalyticsEventSchema),
    note: Type.Optional(Type.String()),
  }),
  /** What other holders of personal data contributed (e.g. the wallet), by holder name. */
  other: Type.Record(Type.String(), Type.Unknown()),
});
export type PrivacyExport = Static<typeof PrivacyExportSchema>;

export const EraseRequestSchema = Type.Object(
  {
    /** Another user of the caller's tenant (tenant admins only); the caller when absent. */
    userId: Type.Optional(UserIdSchema),
    /** Must be `true`: erasure cannot be undone. */
    confirm: Type.Literal(true),
  },
  { additionalProperties: false },
);
export type EraseRequest = Static<typeof EraseRequestSchema>;

export const ErasureResponseSchema = Type.Object({
  /** What now stands for the erased user in usage, ledger and audit records. */
  pseudonym: Type.String(),
  erasedAt: Type.String({ format: 'date-time' }),
  sessionsEnded: Type.Integer({ minimum: 0 }),
  sessionsPseudonymised: Type.Integer({ minimum: 0 }),
  usageRecordsPseudonymised: Type.Integer({ minimum: 0 }),
  allocationsPseudonymised: Type.Integer({ minimum: 0 }),
  preferencesDeleted: Type.Boolean(),
  /** What each other holder did (content: files deleted; analytics: events pseudonymised, …). */
  holders: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
  /** The `privacy.erased` Canon record (read it under entity `privacy:<tenant>:<pseudonym>`). */
  auditRecordId: Type.String(),
});
export type ErasureResponse = Static<typeof ErasureResponseSchema>;
