import { HANDSHAKE } from '../../protocol/handshake.ts';
import type { Session } from '../../protocol/session.ts';
import {
  ALLOCATION_INSERT_COLUMNS,
  allocationValues,
  genesisRecords,
  quotaChecks,
  SESSION_INSERT_COLUMNS,
  sessionValues,
} from './canon-shared.ts';
import type { GenesisLimits, SessionRow } from './canon-store.ts';
import { isSystemActor, newSubjectRef } from './subjects.ts';
import { timeOrderedId } from '../time-ordered-id.ts';

/**
 * The live sums the quotas bound, as one FROM clause over `$1` (tenant) and `$2` (user), its columns named
 * as canon-shared's LIVE_FIGURES: the user's open allocations (a handful, bounded by the per-user limits) and
 * the tenant's and cluster's from the sums the allocations' trigger keeps (migration 6).
 */
export const LIVE_SUMS = `(SELECT count(*) AS user_sessions, coalesce(sum(cpu_millicores), 0) AS user_cpu,
          coalesce(sum(memory_mib), 0) AS user_memory
     FROM allocations WHERE released_at IS NULL AND tenant_id = $1 AND user_id = $2) u,
  (SELECT coalesce(sum(sessions) FILTER (WHERE tenant_id = $1), 0) AS tenant_sessions,
          coalesce(sum(cpu_millicores) FILTER (WHERE tenant_id = $1), 0) AS tenant_cpu,
          coalesce(sum(memory_mib) FILTER (WHERE tenant_id = $1), 0) AS tenant_memory,
          coalesce(sum(sessions), 0) AS cluster_sessions,
          coalesce(sum(cpu_millicores), 0) AS cluster_cpu,
          coalesce(sum(memory_mib), 0) AS cluster_memory,
          coalesce(sum(storage_gib), 0) AS cluster_storage
     FROM live_tenant_usage) t`;

/** Transaction-level advisory lock serialising quota-checked creates across every replica (per schema). */
export const GENESIS_LOCK = "SELECT pg_advisory_xact_lock(hashtext('v-supercore:canon:genesis:' || $1))";

export interface Statement {
  text: string;
  values: unknown[];
}

/**
 * A quota-checked Genesis on PostgreSQL as statements that leave in one round trip (pipelinedTransaction):
 * the actor's subject reference ensured, the global Genesis lock, then one statement that reads the live sums
 * under the lock and, only if the new session fits every quota, writes its row, its allocation and its
 * Genesis records. Its one row carries the sums and `fits`.
 *
 * Why one round trip matters: the cluster-wide ceiling makes every quota-checked Genesis wait for one lock.
 * Held across round trips to the adapter (sums read, checked in JavaScript, then COMMIT), it was held about
 * a third of the time at 300 launches/s, with up to seven launches queued behind it; now it is held only
 * while the server runs the last statement and the COMMIT.
 *
 * The subject row is written before the lock and kept even when the session does not fit: a reference that
 * no record names yet, which an erasure of the user handles like any other. `subjectKnown` leaves that insert
 * out (a user whose row an earlier Genesis here ensured). A subject missing all the same when the records are
 * written (an erasure in between) fails their NOT NULL actor, and the store takes its general path.
 */
export function genesisStatements(
  row: SessionRow,
  actor: string,
  limits: GenesisLimits,
  schema: string,
  subjectKnown = false,
): Statement[] {
  const s = row.session;
  const values: unknown[] = [s.tenantId, s.userId];
  const param = (value: unknown): string => `$${values.push(value)}`;
  const fits = quotaChecks(limits, s.resources)
    .map((c) => `${c.figure} + ${param(c.adding)} <= ${param(c.limit)}`)
    .join(' AND ');
  const session = sessionValues(row).map(param).join(', ');
  const allocation = allocationValues(s, s.createdAt).map(param).join(', ');
  const text = `WITH fit AS (SELECT u.*, t.*, (${fits}) AS fits FROM ${LIVE_SUMS}),
     created AS (INSERT INTO sessions (${SESSION_INSERT_COLUMNS}) SELECT ${session} FROM fit WHERE fits),
     opened AS (INSERT INTO allocations (${ALLOCATION_INSERT_COLUMNS}) SELECT ${allocation} FROM fit WHERE fits),
     recorded AS (${recordsInsert(s, actor, param)})
     SELECT * FROM fit`;
  const statements: Statement[] = [];
  if (!isSystemActor(actor) && !subjectKnown) {
    statements.push({
      text: 'INSERT INTO subjects (subject_ref, tenant_id, user_id) VALUES ($1, $2, $3) ON CONFLICT (tenant_id, user_id) DO NOTHING',
      values: [newSubjectRef(), s.tenantId, actor],
    });
  }
  statements.push({ text: GENESIS_LOCK, values: [schema] }, { text, values });
  return statements;
}

/**
 * The Genesis records (canon-shared's genesisRecords; a person as their subject reference, read by the
 * statement) as one INSERT written only when the session fits: one INSERT of several rows, in their order,
 * since two INSERTs in one statement would take their sequence numbers in no defined order.
 */
function recordsInsert(s: Session, actor: string, param: (value: unknown) => string): string {
  const sessionId = param(s.sessionId);
  const tenant = param(s.tenantId);
  const actorValue = isSystemActor(actor)
    ? param(actor)
    : `(SELECT subject_ref FROM subjects WHERE tenant_id = ${tenant} AND user_id = ${param(actor)})`;
  const rows = genesisRecords(s, actor).map(
    (r, ord) =>
      `(${ord}, ${param(timeOrderedId())}::uuid, ${param(r.action)}::text, ${param(r.fromState)}::text, ${param(r.toState)}::text, ${param(JSON.stringify(r.payload))}::jsonb)`,
  );
  return `INSERT INTO canon_records (record_id, entity, entity_id, action, from_state, to_state, actor, tenant_id, payload, canon_timestamp, handshake)
       SELECT r.record_id, 'session', ${sessionId}, r.action, r.from_state, r.to_state, ${actorValue}, ${tenant}, r.payload,
              ${param(s.canonTimestamp)}::timestamptz, '${HANDSHAKE}'
         FROM fit, (VALUES ${rows.join(', ')}) AS r(ord, record_id, action, from_state, to_state, payload)
        WHERE fit.fits
        ORDER BY r.ord`;
}
