import { Type, type Static } from '@sinclair/typebox';
import { SessionSchema, SUBSCRIPTIONS, TierSchema, TIER_IDS } from './session.ts';

/** REST contract of the backend adapter, under API_PREFIX. Server validates with these; the client takes the types. */

export const DevLoginRequestSchema = Type.Object(
  {
    userId: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._@-]+$' }),
    tenantId: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._@-]+$' }),
    subscription: Type.Optional(Type.Union(SUBSCRIPTIONS.map((s) => Type.Literal(s)))),
    roles: Type.Optional(Type.Array(Type.Literal('admin'), { maxItems: 1 })),
  },
  { additionalProperties: false },
);
export type DevLoginRequest = Static<typeof DevLoginRequestSchema>;
export const DevLoginResponseSchema = Type.Object({ token: Type.String() });
export type DevLoginResponse = Static<typeof DevLoginResponseSchema>;

export const CreateSessionRequestSchema = Type.Object(
  // Any string is accepted here so that an unknown tier gets its own error code, not a generic 400.
  { tier: Type.String({ minLength: 1, maxLength: 32 }) },
  { additionalProperties: false },
);
export type CreateSessionRequest = Static<typeof CreateSessionRequestSchema>;
/** `POST /sessions/:id/tier`: the tier an Active or Paused session changes to. */
export const ChangeTierRequestSchema = Type.Object(
  { tier: Type.String({ minLength: 1, maxLength: 32 }) },
  { additionalProperties: false },
);
export type ChangeTierRequest = Static<typeof ChangeTierRequestSchema>;
export const KNOWN_TIERS: readonly string[] = TIER_IDS;

export const SessionResponseSchema = SessionSchema;
export const SessionListResponseSchema = Type.Object({ sessions: Type.Array(SessionSchema) });
export type SessionListResponse = Static<typeof SessionListResponseSchema>;
export const TierListResponseSchema = Type.Object({ tiers: Type.Array(TierSchema) });
export type TierListResponse = Static<typeof TierListResponseSchema>;

export const SessionIdParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
});

export const HandshakeCheckSchema = Type.Object({
  id: Type.String(),
  group: Type.Union([Type.Literal('55'), Type.Literal('45'), Type.Literal('17')]),
  label: Type.String(),
  /** False when the check does not apply to this deployment (e.g. Kubernetes health on the local runtime). */
  applicable: Type.Boolean(),
  ok: Type.Boolean(),
  evidence: Type.String(),
});
export type HandshakeCheck = Static<typeof HandshakeCheckSchema>;
export const HandshakeReportSchema = Type.Object({
  handshake: Type.Literal('55-45-17'),
  ok: Type.Boolean(),
  checks: Type.Array(HandshakeCheckSchema),
});
export type HandshakeReport = Static<typeof HandshakeReportSchema>;

export const ErrorResponseSchema = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }),
});
