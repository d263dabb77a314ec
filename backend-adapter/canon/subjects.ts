import { randomUUID } from 'node:crypto';
import type { CanonRecord } from './canon-store.ts';

/**
 * Pseudonymous subjects (GDPR Art. 4(5) pseudonymisation, Art. 17 erasure).
 *
 * Canon records are append-only: a trigger refuses every UPDATE and DELETE, so a user id written into one
 * could never be erased. Records therefore never hold a user id. Wherever a record refers to a person — its
 * `actor` (unless a `system:` actor), `payload.userId`, and the entity id of a per-user entity
 * (`preferences:<tenant>:<user>`, `privacy:<tenant>:<user>`) — the store writes the user's *subject
 * reference* instead: a random `subj_…` token, mapped to the user id by the mutable `subjects` table.
 * Reads map it back, so callers see user ids as before.
 *
 * Erasing a user clears the mapping's `user_id` (the row stays, marked erased) and replaces the user id in
 * the mutable current-state tables (sessions, usage, allocations) by the reference, which then is the
 * user's pseudonym: usage and money stay complete and attributable to "one former user", and nothing in
 * the database names the person any more. A user who comes back after erasure gets a new reference.
 */
export const SUBJECT_PREFIX = 'subj_';
const SUBJECT_PATTERN = /^subj_[0-9a-f]{32}$/;
/** Per-user entity kinds whose entity id is `<kind>:<tenantId>:<userId>`. */
const PER_USER_ENTITIES = ['preferences', 'privacy'] as const;

/** A new, random subject reference (`subj_` and 32 hex digits). */
export function newSubjectRef(): string {
  return `${SUBJECT_PREFIX}${randomUUID().replace(/-/g, '')}`;
}

export function isSubjectRef(value: string): boolean {
  return SUBJECT_PATTERN.test(value);
}

/** Actors that are not people: the lifecycle, timeouts, reconciliation, the AI, billing… */
export function isSystemActor(actor: string): boolean {
  return actor.startsWith('system:');
}

/** The Canon entity id under which privacy actions about a user (export, erasure) are recorded. */
export function privacyEntityId(owner: { userId: string; tenantId: string }): string {
  return `privacy:${owner.tenantId}:${owner.userId}`;
}

/** The user named by a per-user entity id, or undefined for any other entity id. */
export function userOfEntityId(
  entityId: string,
  tenantId?: string,
): { kind: string; tenantId: string; userId: string } | undefined {
  for (const kind of PER_USER_ENTITIES) {
    const prefix = `${kind}:`;
    if (!entityId.startsWith(prefix)) continue;
    const rest = entityId.slice(prefix.length);
    if (tenantId !== undefined) {
      if (!rest.startsWith(`${tenantId}:`)) return undefined;
      return { kind, tenantId, userId: rest.slice(tenantId.length + 1) };
    }
    // Tenant ids never contain ':' (they come from validated tokens); split at the first one.
    const colon = rest.indexOf(':');
    if (colon <= 0) return undefined;
    return { kind, tenantId: rest.slice(0, colon), userId: rest.slice(colon + 1) };
  }
  return undefined;
}

/**
 * Every way a per-user entity id can be read as kind, tenant and user: tenant and user ids from v-auth may
 * themselves contain ':' (e.g. URN tenants), so the store tries each split against the subjects it knows.
 */
export function ownerSplits(entityId: string): Array<{ kind: string; tenantId: string; userId: string }> {
  for (const kind of PER_USER_ENTITIES) {
    const prefix = `${kind}:`;
    if (!entityId.startsWith(prefix)) continue;
    const rest = entityId.slice(prefix.length);
    const out: Array<{ kind: string; tenantId: string; userId: string }> = [];
    for (let i = rest.indexOf(':'); i > 0; i = rest.indexOf(':', i + 1)) {
      out.push({ kind, tenantId: rest.slice(0, i), userId: rest.slice(i + 1) });
    }
    return out;
  }
  return [];
}

type RecordFields = Pick<CanonRecord, 'entityId' | 'actor' | 'tenantId' | 'payload'>;

/**
 * Every person a record refers to, as the strings found in its slots (user ids before writing, subject
 * references after reading).
 */
export function subjectSlots(r: RecordFields): string[] {
  const found = new Set<string>();
  if (!isSystemActor(r.actor)) found.add(r.actor);
  const payloadUser = r.payload['userId'];
  if (typeof payloadUser === 'string') found.add(payloadUser);
  const owner = userOfEntityId(r.entityId, r.tenantId);
  if (owner) found.add(owner.userId);
  return [...found];
}

/** The record with each person slot replaced by `map(value)`; everything else untouched. */
export function mapSubjects<R extends RecordFields>(r: R, map: (value: string) => string): R {
  const out: R = { ...r };
  if (!isSystemActor(r.actor)) out.actor = map(r.actor);
  const payloadUser = r.payload['userId'];
  if (typeof payloadUser === 'string') out.payload = { ...r.payload, userId: map(payloadUser) };
  const owner = userOfEntityId(r.entityId, r.tenantId);
  if (owner) out.entityId = `${owner.kind}:${owner.tenantId}:${map(owner.userId)}`;
  return out;
}

/** What erasing one user changed; the audit record's payload. */
export interface ErasureResult {
  /** The subject reference that now stands for the erased user everywhere. */
  pseudonym: string;
  erasedAt: string;
  sessionsPseudonymised: number;
  usageRecordsPseudonymised: number;
  allocationsPseudonymised: number;
  preferencesDeleted: boolean;
  /** recordId of the `privacy.erased` Canon record. */
  auditRecordId: string;
}

export interface ErasureRequest {
  subject: { userId: string; tenantId: string };
  /** Who asked: the user themself, a tenant admin, or a system actor. */
  actor: string;
  at: Date;
  /** What other holders of personal data did (content store, analytics…), kept in the audit record. */
  details: Record<string, unknown>;
}
