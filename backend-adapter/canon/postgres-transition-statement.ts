import { HANDSHAKE } from '../../protocol/handshake.ts';
import { isFinished } from './canon-shared.ts';
import type { TransitionRequest } from './canon-store.ts';
import { isSystemActor } from './subjects.ts';
import { timeOrderedId } from '../time-ordered-id.ts';

/**
 * A lifecycle transition on PostgreSQL as one statement, so one round trip with no BEGIN / COMMIT: the
 * compare-and-set of the session row, its Canon record (and the usage record with its own), the release of
 * the allocation and the usage row, all applied by one atomic statement or not at all. The general path in
 * postgres-canon-store.ts (a transaction of five to ten statements) stays for what this does not cover.
 *
 * Why it is as safe as that transaction: `UPDATE … WHERE session_id = $1 AND state = $2` waits for a row lock
 * held by a racing transition (any replica) and then re-checks the state on the row that transition wrote
 * (READ COMMITTED's re-check of an updated row), so exactly one of two racing moves applies; every other
 * part reads the UPDATE's result and writes nothing when it changed no row.
 *
 * People in records are written as subject references (subjects.ts), looked up by the statement itself. A
 * person with no subject row yet (or an erased one) makes the lookup NULL and the statement fail on
 * canon_records' NOT NULL columns, before anything is written: `needsGeneralPath` then sends the request
 * down the general path, which creates the reference.
 */
export function coversTransition(req: TransitionRequest): boolean {
  const [from] = req.from;
  return (
    req.from.length === 1 &&
    from !== undefined &&
    req.tierChange === undefined &&
    // Leaving a finished state would take an allocation again: the general path does that.
    !(isFinished(from) && !isFinished(req.to))
  );
}

/** The statement failed only because a person in a record has no subject reference yet. */
export function needsGeneralPath(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; table?: unknown };
  return e.code === '23502' && e.table === 'canon_records';
}

interface RecordInput {
  ord: number;
  record_id: string;
  entity: string;
  action: string;
  from_state: string | null;
  to_state: string | null;
  /** A `system:` actor as written; null when the actor is a person (then `actor_user`). */
  actor_system: string | null;
  actor_user: string | null;
  /** The record's tenant when it is not the session's. */
  tenant_id: string | null;
  payload: Record<string, unknown>;
  /** The payload's `userId`, replaced by that person's subject reference. */
  payload_user: string | null;
}

export interface TransitionStatement {
  text: string;
  values: unknown[];
}

/** The statement for a request `coversTransition` accepts. */
export function transitionStatement(req: TransitionRequest): TransitionStatement {
  const at = req.at.toISOString();
  const actor = isSystemActor(req.actor)
    ? { actor_system: req.actor, actor_user: null }
    : { actor_system: null, actor_user: req.actor };
  const payload: Record<string, unknown> = {};
  if (req.failureReason !== undefined) payload.failureReason = req.failureReason;
  if (req.runtime)
    payload.runtime = { kind: req.runtime.kind, display: req.runtime.display, port: req.runtime.port };
  const records: RecordInput[] = [
    {
      ord: 1,
      record_id: timeOrderedId(),
      entity: 'session',
      action: req.action,
      from_state: req.from[0] ?? null,
      to_state: req.to,
      ...actor,
      tenant_id: null,
      payload,
      payload_user: null,
    },
  ];
  const u = req.usage;
  if (u) {
    records.push({
      ord: 2,
      record_id: timeOrderedId(),
      entity: 'usage',
      action: 'usage.recorded',
      from_state: null,
      to_state: null,
      ...actor,
      tenant_id: u.tenantId,
      payload: { ...u },
      payload_user: u.userId,
    });
  }
  const values: unknown[] = [
    req.sessionId,
    req.from[0],
    req.to,
    req.failureReason ?? null,
    at,
    JSON.stringify(records),
  ];
  const param = (value: unknown): string => `$${values.push(value)}`;
  const runtime =
    req.runtime === undefined
      ? ''
      : `, runtime = ${param(req.runtime === null ? null : JSON.stringify(req.runtime))}::jsonb`;
  const parts = [
    `WITH upd AS (
       UPDATE sessions SET state = $3, failure_reason = coalesce($4, failure_reason)${runtime}, canon_timestamp = $5::timestamptz
        WHERE session_id = $1 AND state = $2
       RETURNING *
     ), recs AS (
       INSERT INTO canon_records (record_id, entity, entity_id, action, from_state, to_state, actor, tenant_id, payload, canon_timestamp, handshake)
       SELECT r.record_id, r.entity, $1, r.action, r.from_state, r.to_state,
              coalesce(r.actor_system, (SELECT s.subject_ref FROM subjects s
                                         WHERE s.tenant_id = coalesce(r.tenant_id, upd.tenant_id) AND s.user_id = r.actor_user)),
              coalesce(r.tenant_id, upd.tenant_id),
              CASE WHEN r.payload_user IS NULL THEN r.payload
                   ELSE jsonb_set(r.payload, '{userId}', to_jsonb((SELECT s.subject_ref FROM subjects s
                                         WHERE s.tenant_id = coalesce(r.tenant_id, upd.tenant_id) AND s.user_id = r.payload_user)))
              END,
              $5::timestamptz, '${HANDSHAKE}'
         FROM upd, jsonb_to_recordset($6::jsonb) AS r(ord int, record_id uuid, entity text, action text, from_state text,
              to_state text, actor_system text, actor_user text, tenant_id text, payload jsonb, payload_user text)
        ORDER BY r.ord
     )`,
  ];
  if (isFinished(req.to)) {
    parts.push(`released AS (
       UPDATE allocations SET released_at = $5::timestamptz
        WHERE session_id = $1 AND released_at IS NULL AND EXISTS (SELECT 1 FROM upd)
     )`);
  }
  if (u) {
    parts.push(`used AS (
       INSERT INTO usage (session_id, user_id, tenant_id, start_time, end_time, resource_consumption, cost, canon_record)
       SELECT $1, ${param(u.userId)}, ${param(u.tenantId)}, ${param(u.startTime)}::timestamptz, ${param(u.endTime)}::timestamptz,
              ${param(JSON.stringify(u.resourceConsumption))}::jsonb, ${param(String(u.cost))}, TRUE
         FROM upd
     )`);
  }
  return { text: `${parts.join(', ')} SELECT * FROM upd`, values };
}
