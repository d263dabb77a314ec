// The one behaviour every CanonStore adapter must have. Each adapter's *.contract.test.ts runs it against a
// real database of its kind; the hooks below are the only adapter-specific parts.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Session, SessionState } from '../../../protocol/session.ts';
import {
  QuotaExceededError,
  type CanonStore,
  type GenesisLimits,
  type LiveUsage,
  type QuotaScope,
  type SessionRow,
  type TransitionRequest,
  type UsageRecord,
} from '../../../backend-adapter/canon/canon-store.ts';
import { preferencesEntityId } from '../../../backend-adapter/canon/canon-shared.ts';
import { SubjectHasLiveSessionsError } from '../../../backend-adapter/canon/canon-store.ts';
import { isSubjectRef, privacyEntityId } from '../../../backend-adapter/canon/subjects.ts';
import type { RuntimeHandle } from '../../../backend-adapter/runtime/runtime-provider.ts';
import {
  newWorkspace,
  WorkspaceChangeError,
  type WorkspaceChange,
  type WorkspaceRefusal,
} from '../../../backend-adapter/canon/workspace-changes.ts';

export type SqlRows = Array<Record<string, unknown>>;

export interface CanonStoreFixture {
  /** A store on a fresh, empty database at the current schema. */
  store: CanonStore;
  /** Opens another store on the same database with the current code, as a restart or a second replica would. */
  reopen(): Promise<CanonStore>;
  /** Raw SQL on the same database through a connection of its own; rejects with the database's own error. */
  sql(statement: string): Promise<SqlRows>;
  /** Closes `store` if the test has not, and drops the database. */
  cleanup(): Promise<void>;
}

export interface PreviousSchemaFixture {
  /** Raw SQL on a fresh database that has only migration 1 applied (the previous schema version). */
  sql(statement: string): Promise<SqlRows>;
  /** Opens the current code on that database, which applies the pending migrations. */
  open(): Promise<CanonStore>;
  cleanup(): Promise<void>;
}

/** Migration versions the current code knows; the upgrade test expects exactly these rows. */
const CURRENT_VERSIONS = [1, 2, 3, 4, 5, 6, 7];

const OWNER = { userId: 'u1', tenantId: 't1' };
const BASE = Date.parse('2026-01-12T10:00:00.000Z');
const iso = (offsetSeconds: number): string => new Date(BASE + offsetSeconds * 1000).toISOString();
const date = (offsetSeconds: number): Date => new Date(BASE + offsetSeconds * 1000);

const BASIC: Session['resources'] = {
  cpuMillicores: 1000,
  memoryMiB: 2048,
  storageGiB: 10,
  gpus: 0,
  display: { width: 1280, height: 720 },
};

const HANDLE: RuntimeHandle = {
  kind: 'local',
  pgid: 4242,
  pid: 4242,
  display: 12,
  host: '127.0.0.1',
  port: 5912,
  password: 'secret',
  workDir: '/tmp/vsc-session',
};

/** A basic-tier session row of `owner` (u1 of t1), created `createdOffset` seconds after the base time. */
export function sessionRow(
  sessionId: string,
  owner: { userId: string; tenantId: string } = OWNER,
  createdOffset = 0,
  state: SessionState = 'requested',
): SessionRow {
  const at = iso(createdOffset);
  return {
    session: {
      sessionId,
      userId: owner.userId,
      tenantId: owner.tenantId,
      tier: 'basic',
      resources: BASIC,
      state,
      createdAt: at,
      canonTimestamp: at,
      handshake: '55-45-17',
    },
    runtime: null,
    lastActivityAt: at,
  };
}

function usageFor(sessionId: string, cost = 139): UsageRecord {
  return {
    userId: OWNER.userId,
    tenantId: OWNER.tenantId,
    sessionId,
    startTime: iso(0),
    endTime: iso(60),
    resourceConsumption: {
      activeSeconds: 60,
      pausedSeconds: 0,
      cpuMillicoreSeconds: 60000,
      memoryMiBSeconds: 122880,
    },
    cost,
    canonRecord: true,
  };
}

const HUGE = 1_000_000_000;
/** Genesis limits no test reaches, but for `overrides`. */
export function limits(
  overrides: Partial<Omit<GenesisLimits, 'cluster'>> & { cluster?: Partial<GenesisLimits['cluster']> } = {},
): GenesisLimits {
  return {
    maxLiveSessionsPerUser: overrides.maxLiveSessionsPerUser ?? HUGE,
    maxCpuMillicoresPerUser: overrides.maxCpuMillicoresPerUser ?? HUGE,
    maxMemoryMiBPerUser: overrides.maxMemoryMiBPerUser ?? HUGE,
    maxLiveSessionsPerTenant: overrides.maxLiveSessionsPerTenant ?? HUGE,
    maxCpuMillicoresPerTenant: overrides.maxCpuMillicoresPerTenant ?? HUGE,
    maxMemoryMiBPerTenant: overrides.maxMemoryMiBPerTenant ?? HUGE,
    cluster: {
      maxCpuMillicores: HUGE,
      maxMemoryMiB: HUGE,
      maxStorageGiB: HUGE,
      maxSessions: HUGE,
      ...overrides.cluster,
    },
  };
}

function isQuota(scope: QuotaScope, limit: number, current: number): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof QuotaExceededError, `expected QuotaExceededError, got ${String(error)}`);
    assert.equal(error.code, 'QUOTA_EXCEEDED');
    assert.deepEqual([error.scope, error.limit, error.current], [scope, limit, current]);
    return true;
  };
}

const count = async (sql: (s: string) => Promise<SqlRows>, statement: string): Promise<number> =>
  Number((await sql(statement))[0]?.n);

export function describeCanonStoreContract(
  name: string,
  open: () => Promise<CanonStoreFixture>,
  openPreviousSchema: () => Promise<PreviousSchemaFixture>,
): void {
  describe(`CanonStore contract: ${name}`, () => {
    let fx: CanonStoreFixture;
    let store: CanonStore;
    let others: CanonStore[];

    beforeEach(async () => {
      fx = await open();
      store = fx.store;
      others = [];
    });
    afterEach(async () => {
      for (const other of others) await other.close();
      await fx.cleanup();
    });

    /** A second store on the same database (a second replica); closed after the test. */
    async function second(): Promise<CanonStore> {
      const other = await fx.reopen();
      others.push(other);
      return other;
    }

    const move = (
      s: CanonStore,
      sessionId: string,
      from: SessionState[],
      to: SessionState,
      at: number,
      extra: { runtime?: RuntimeHandle | null; failureReason?: string; usage?: UsageRecord } = {},
    ) =>
      s.transition({
        sessionId,
        from,
        to,
        action: `${from.join('|')}->${to}`,
        actor: 'u1',
        at: date(at),
        ...extra,
      });

    it('creates a session and reads it back exactly, with its genesis record', async () => {
      const row = { ...sessionRow('s1'), runtime: HANDLE };
      await store.createSession(row, 'u1');
      assert.deepEqual(await store.getSession('s1'), row);
      assert.equal(await store.getSession('nope'), undefined);
      const [genesis, ...rest] = await store.listRecords('s1');
      assert.deepEqual(rest, []);
      assert.ok(genesis);
      assert.equal(genesis.entity, 'session');
      assert.equal(genesis.action, 'genesis.requested');
      assert.deepEqual(
        [genesis.fromState, genesis.toState, genesis.actor, genesis.tenantId],
        [null, 'requested', 'u1', 't1'],
      );
      assert.equal(genesis.canonTimestamp, iso(0));
      assert.equal(genesis.handshake, '55-45-17');
      assert.deepEqual(genesis.payload, { tier: 'basic', resources: BASIC });
      assert.ok(await store.ping());
    });

    it('reads several sessions’ records, rows and usage in one call each, exactly as one at a time', async () => {
      await store.createSession(sessionRow('r1', OWNER, 0, 'provisioning'), 'u1');
      await store.createSession(sessionRow('r2', OWNER, 1), 'system:test');
      await move(store, 'r1', ['provisioning'], 'active', 2);
      await move(store, 'r1', ['active'], 'terminating', 3);
      await move(store, 'r1', ['terminating'], 'terminated', 4, { usage: usageFor('r1') });
      const many = await store.listSessionRecords(['r2', 'r1', 'never-created', 'r1']);
      assert.deepEqual([...many.keys()].sort(), ['r1', 'r2'], 'a session without records is left out');
      assert.deepEqual(many.get('r1'), await store.listRecords('r1'));
      assert.deepEqual(many.get('r2'), await store.listRecords('r2'));
      assert.deepEqual(
        many.get('r1')?.map((r) => [r.action, r.actor]),
        [
          ['genesis.requested', 'u1'],
          ['genesis.provisioning', 'u1'],
          ['provisioning->active', 'u1'],
          ['active->terminating', 'u1'],
          ['terminating->terminated', 'u1'],
          ['usage.recorded', 'u1'],
        ],
        'in order, people as user ids',
      );
      assert.equal(many.get('r1')?.at(-1)?.payload.userId, 'u1');
      assert.deepEqual(await store.listSessionRecords([]), new Map());

      // Rows and usage records of a page of sessions, as getSession and getUsage read each.
      const rows = await store.getSessions(['r2', 'never-created', 'r1']);
      assert.deepEqual([...rows.keys()].sort(), ['r1', 'r2']);
      assert.deepEqual(rows.get('r1'), await store.getSession('r1'));
      assert.deepEqual(rows.get('r2'), await store.getSession('r2'));
      const usages = await store.getUsages(['r1', 'r2', 'never-created']);
      assert.deepEqual([...usages.keys()], ['r1'], 'only a session that has one');
      assert.deepEqual(usages.get('r1'), await store.getUsage('r1'));
      assert.deepEqual(await store.getSessions([]), new Map());
      assert.deepEqual(await store.getUsages([]), new Map());
    });

    it('records a launch created in provisioning as requested, then provisioning, with or without limits', async () => {
      const checked = limits({ maxLiveSessionsPerUser: 2 });
      for (const [id, withLimits] of [
        ['plain', undefined],
        ['checked', checked],
      ] as const) {
        const row = sessionRow(id, OWNER, 3, 'provisioning');
        await store.createSession(row, 'u1', withLimits);
        assert.deepEqual(await store.getSession(id), row);
        const records = await store.listRecords(id);
        assert.deepEqual(
          records.map((r) => [r.action, r.fromState, r.toState, r.actor, r.canonTimestamp, r.payload]),
          [
            ['genesis.requested', null, 'requested', 'u1', iso(3), { tier: 'basic', resources: BASIC }],
            ['genesis.provisioning', 'requested', 'provisioning', 'u1', iso(3), {}],
          ],
          id,
        );
        assert.ok((records[1]?.seq ?? 0) > (records[0]?.seq ?? Infinity), `${id}: in order`);
      }
      // The third is past the limit: neither record, no session, no allocation.
      await assert.rejects(
        store.createSession(sessionRow('third', OWNER, 4, 'provisioning'), 'u1', checked),
        isQuota('user-sessions', 2, 2),
      );
      assert.equal(await store.getSession('third'), undefined);
      assert.deepEqual(await store.listRecords('third'), []);
      assert.equal((await store.liveUsageOf(OWNER)).user.sessions, 2);
    });

    it('returns from a transition the row exactly as it is then stored, whatever the transition changed', async () => {
      await store.createSession(sessionRow('s1'), 'u1');
      const cases: Array<Omit<TransitionRequest, 'sessionId' | 'actor' | 'at'>> = [
        { from: ['requested'], to: 'provisioning', action: 'genesis.provisioning' },
        { from: ['provisioning'], to: 'active', action: 'genesis.active', runtime: HANDLE },
        {
          from: ['active'],
          to: 'active',
          action: 'tier.changed',
          tierChange: { tier: 'pro', resources: { ...BASIC, cpuMillicores: 4000 } },
        },
        { from: ['active'], to: 'pausing', action: 'pause.started' },
        { from: ['pausing'], to: 'failed', action: 'pause.failed', runtime: null, failureReason: 'lost' },
        { from: ['failed'], to: 'terminating', action: 'terminate.started' },
      ];
      for (const [i, c] of cases.entries()) {
        const returned = await store.transition({ ...c, sessionId: 's1', actor: 'u1', at: date(i + 1) });
        assert.deepEqual(returned, await store.getSession('s1'), c.action);
      }
      assert.equal((await store.getSession('s1'))?.session.failureReason, 'lost');
      assert.equal((await store.getSession('s1'))?.session.tier, 'pro');
    });

    it('lists only the owner’s sessions (user and tenant), newest first, and the unfinished ones', async () => {
      await store.createSession(sessionRow('a1', OWNER, 0), 'u1');
      await store.createSession(sessionRow('a2', OWNER, 10), 'u1');
      await store.createSession(sessionRow('b1', { userId: 'u2', tenantId: 't1' }, 5), 'u2');
      await store.createSession(sessionRow('c1', { userId: 'u1', tenantId: 't2' }, 5), 'u1');
      const ids = async (owner: { userId?: string; tenantId: string }) =>
        (await store.listSessions(owner)).map((r) => r.session.sessionId);
      assert.deepEqual(await ids(OWNER), ['a2', 'a1']);
      assert.deepEqual(await ids({ tenantId: 't1' }), ['a2', 'b1', 'a1'], 'a whole tenant, for its admins');
      assert.deepEqual(await ids({ tenantId: 't3' }), []);
      assert.deepEqual(await ids({ userId: 'u2', tenantId: 't1' }), ['b1']);
      assert.deepEqual(await ids({ userId: 'u1', tenantId: 't2' }), ['c1']);
      assert.deepEqual(await ids({ userId: 'u2', tenantId: 't2' }), []);

      await move(store, 'a1', ['requested'], 'failed', 20, { failureReason: 'boom' });
      await move(store, 'b1', ['requested'], 'terminated', 21);
      assert.deepEqual(
        (await store.listUnfinished()).map((r) => r.session.sessionId),
        ['c1', 'a2'], // oldest first
      );
      assert.equal((await store.getSession('a1'))?.session.failureReason, 'boom');
    });

    it('lists every unfinished session past one page (500) of the scan, oldest first, ties by id', async () => {
      // Many share a creation time, so pages end inside a run of equal times.
      const ids = Array.from({ length: 1203 }, (_, i) => `s${String(i).padStart(4, '0')}`);
      for (const [i, id] of ids.entries()) {
        await store.createSession(sessionRow(id, OWNER, (i * 7) % 5), 'u1');
      }
      const finished = new Set(['s0003', 's0500', 's1202']);
      for (const id of finished) await move(store, id, ['requested'], 'terminated', 9);
      const expected = ids
        .filter((id) => !finished.has(id))
        .sort((a, b) => {
          const at = (id: string) => (Number(id.slice(1)) * 7) % 5;
          return at(a) - at(b) || (a < b ? -1 : 1);
        });
      assert.deepEqual(
        (await store.listUnfinished()).map((r) => r.session.sessionId),
        expected,
      );
    });

    it('applies a transition only from an allowed state (compare-and-set), writing nothing otherwise', async () => {
      await store.createSession(sessionRow('s1'), 'u1');
      const moved = await move(store, 's1', ['requested'], 'provisioning', 1);
      assert.equal(moved?.session.state, 'provisioning');
      assert.equal(moved?.session.canonTimestamp, iso(1));
      const active = await move(store, 's1', ['provisioning'], 'active', 2, { runtime: HANDLE });
      assert.deepEqual(active?.runtime, HANDLE);

      const before = await store.getSession('s1');
      const recordsBefore = await store.listRecords('s1');
      assert.equal(await move(store, 's1', ['paused'], 'resuming', 3), undefined);
      assert.equal(await move(store, 's1', ['requested', 'provisioning'], 'failed', 3), undefined);
      assert.equal(await move(store, 'missing', ['active'], 'pausing', 3), undefined);
      assert.deepEqual(await store.getSession('s1'), before);
      assert.deepEqual(await store.listRecords('s1'), recordsBefore);

      // Runtime kept when not given, cleared with null; the failure reason is kept once set.
      const paused = await move(store, 's1', ['active'], 'pausing', 4);
      assert.deepEqual(paused?.runtime, HANDLE);
      const failed = await move(store, 's1', ['pausing'], 'failed', 5, {
        runtime: null,
        failureReason: 'lost',
      });
      assert.equal(failed?.runtime, null);
      assert.equal(failed?.session.failureReason, 'lost');

      const records = await store.listRecords('s1');
      assert.deepEqual(
        records.map((r) => [r.fromState, r.toState, r.canonTimestamp]),
        [
          [null, 'requested', iso(0)],
          ['requested', 'provisioning', iso(1)],
          ['provisioning', 'active', iso(2)],
          ['active', 'pausing', iso(4)],
          ['pausing', 'failed', iso(5)],
        ],
      );
      assert.ok(records.every((r, i) => i === 0 || r.seq > (records[i - 1]?.seq ?? Infinity)));
      // The handle's secret never goes into the (append-only, widely read) record.
      assert.deepEqual(records[2]?.payload, { runtime: { kind: 'local', display: 12, port: 5912 } });
      assert.deepEqual(records[4]?.payload, { failureReason: 'lost' });
    });

    it('lets exactly one of many racing transitions win, across two store instances', async () => {
      await store.createSession(sessionRow('s1'), 'u1');
      await move(store, 's1', ['requested'], 'active', 1);
      const other = await second();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => move(i % 2 ? other : store, 's1', ['active'], 'pausing', 2)),
      );
      assert.equal(results.filter((r) => r !== undefined).length, 1);
      assert.equal((await store.listRecords('s1')).filter((r) => r.toState === 'pausing').length, 1);
    });

    it('keeps records append-only in the database itself: raw UPDATE and DELETE are refused', async () => {
      await store.createSession(sessionRow('s1'), 'u1');
      await move(store, 's1', ['requested'], 'provisioning', 1);
      const before = await store.listRecords('s1');
      await assert.rejects(fx.sql("UPDATE canon_records SET actor = 'mallory'"), /append-only/);
      await assert.rejects(
        fx.sql("UPDATE canon_records SET payload = '{}' WHERE entity_id = 's1'"),
        /append-only/,
      );
      await assert.rejects(fx.sql('DELETE FROM canon_records'), /append-only/);
      await assert.rejects(
        fx.sql(
          `INSERT INTO canon_records (record_id, entity, entity_id, action, actor, tenant_id, payload, canon_timestamp, handshake)
           VALUES ('00000000-0000-4000-8000-0000000000aa', 'session', 's1', 'forged', 'u', 't1', '{}', '${iso(9)}', '1-2-3')`,
        ),
        /check/i,
      );
      assert.deepEqual(await store.listRecords('s1'), before);
    });

    it('writes usage in the same transaction as the transition, and rolls both back when one fails', async () => {
      await store.createSession(sessionRow('s1'), 'u1');
      await move(store, 's1', ['requested'], 'terminating', 1);
      const done = await move(store, 's1', ['terminating'], 'terminated', 60, { usage: usageFor('s1') });
      assert.equal(done?.session.state, 'terminated');
      assert.deepEqual(await store.getUsage('s1'), usageFor('s1'));
      assert.equal(await store.getUsage('nope'), undefined);
      const usageRecords = (await store.listRecords('s1')).filter((r) => r.entity === 'usage');
      assert.equal(usageRecords.length, 1);
      assert.equal(usageRecords[0]?.payload.cost, 139);

      // A second usage row for the session violates its key: the transition carrying it must roll back whole.
      const recordsBefore = await store.listRecords('s1');
      await assert.rejects(move(store, 's1', ['terminated'], 'failed', 61, { usage: usageFor('s1', 1) }));
      assert.equal((await store.getSession('s1'))?.session.state, 'terminated');
      assert.deepEqual(await store.listRecords('s1'), recordsBefore);
      assert.equal((await store.getUsage('s1'))?.cost, 139);
    });

    it('keeps money exact beyond 32 bits', async () => {
      await store.createSession(sessionRow('s1'), 'u1');
      const big = 9_007_199_254_740_991; // Number.MAX_SAFE_INTEGER micro-NexCoin
      await move(store, 's1', ['requested'], 'terminated', 1, { usage: usageFor('s1', big) });
      assert.equal((await store.getUsage('s1'))?.cost, big);
    });

    it('survives closing and reopening: sessions, records, usage, preferences, allocations', async () => {
      await store.createSession({ ...sessionRow('s1'), runtime: HANDLE }, 'u1');
      await move(store, 's1', ['requested'], 'terminated', 30, { usage: usageFor('s1') });
      await store.createSession(sessionRow('s2', OWNER, 40), 'u1');
      await store.touchActivity('s2', date(45));
      await store.putPreferences(OWNER, { theme: 'dark' }, date(50));
      const snapshot = {
        sessions: await store.listSessions(OWNER),
        records: await store.listRecords('s1'),
        usage: await store.getUsage('s1'),
        preferences: await store.getPreferences(OWNER),
        allocations: await store.listAllocations(OWNER),
      };
      await store.close();
      assert.equal(await store.ping().catch(() => false), false, 'a closed store is not ready');
      const reopened = await second();
      assert.deepEqual(
        {
          sessions: await reopened.listSessions(OWNER),
          records: await reopened.listRecords('s1'),
          usage: await reopened.getUsage('s1'),
          preferences: await reopened.getPreferences(OWNER),
          allocations: await reopened.listAllocations(OWNER),
        },
        snapshot,
      );
    });

    it('applies migrations once: reopening again and again changes nothing', async () => {
      await store.createSession(sessionRow('s1'), 'u1');
      for (let i = 0; i < 3; i++) await (await second()).ping();
      const versions = (await fx.sql('SELECT version FROM schema_migrations ORDER BY version')).map((r) =>
        Number(r.version),
      );
      assert.deepEqual(versions, CURRENT_VERSIONS);
      assert.equal((await store.listRecords('s1')).length, 1);
    });

    it('upgrades a database at the previous schema version, keeping its data', async () => {
      const prev = await openPreviousSchema();
      try {
        assert.deepEqual(
          (await prev.sql('SELECT version FROM schema_migrations')).map((r) => Number(r.version)),
          [1],
        );
        const resources = JSON.stringify(BASIC);
        const seed = [
          `INSERT INTO sessions (session_id, user_id, tenant_id, tier, resources, state, failure_reason, runtime, created_at, canon_timestamp, handshake)
           VALUES ('old-live', 'u1', 't1', 'basic', '${resources}', 'active', NULL, NULL, '${iso(0)}', '${iso(5)}', '55-45-17')`,
          `INSERT INTO sessions (session_id, user_id, tenant_id, tier, resources, state, failure_reason, runtime, created_at, canon_timestamp, handshake)
           VALUES ('old-done', 'u1', 't1', 'basic', '${resources}', 'terminated', NULL, NULL, '${iso(1)}', '${iso(90)}', '55-45-17')`,
          `INSERT INTO canon_records (record_id, entity, entity_id, action, from_state, to_state, actor, tenant_id, payload, canon_timestamp, handshake)
           VALUES ('00000000-0000-4000-8000-000000000001', 'session', 'old-live', 'genesis.requested', NULL, 'requested', 'u1', 't1', '{"tier":"basic"}', '${iso(0)}', '55-45-17')`,
          `INSERT INTO canon_records (record_id, entity, entity_id, action, from_state, to_state, actor, tenant_id, payload, canon_timestamp, handshake)
           VALUES ('00000000-0000-4000-8000-000000000002', 'session', 'old-done', 'genesis.requested', NULL, 'requested', 'u1', 't1', '{"tier":"basic"}', '${iso(1)}', '55-45-17')`,
          `INSERT INTO canon_records (record_id, entity, entity_id, action, from_state, to_state, actor, tenant_id, payload, canon_timestamp, handshake)
           VALUES ('00000000-0000-4000-8000-000000000003', 'session', 'old-done', 'termination.completed', 'terminating', 'terminated', 'u1', 't1', '{}', '${iso(80)}', '55-45-17')`,
          `INSERT INTO usage (session_id, user_id, tenant_id, start_time, end_time, resource_consumption, cost)
           VALUES ('old-done', 'u1', 't1', '${iso(0)}', '${iso(60)}', '${JSON.stringify(usageFor('old-done').resourceConsumption)}', 139)`,
        ];
        for (const statement of seed) await prev.sql(statement);

        const upgraded = await prev.open();
        try {
          assert.deepEqual(
            (await prev.sql('SELECT version FROM schema_migrations ORDER BY version')).map((r) =>
              Number(r.version),
            ),
            CURRENT_VERSIONS,
          );
          const live = await upgraded.getSession('old-live');
          assert.equal(live?.session.state, 'active');
          // The sums Genesis checks start from the sessions the old schema held live.
          const one = { sessions: 1, cpuMillicores: BASIC.cpuMillicores, memoryMiB: BASIC.memoryMiB };
          assert.deepEqual(await upgraded.liveUsageOf(OWNER), {
            user: one,
            tenant: one,
            cluster: { ...one, storageGiB: BASIC.storageGiB },
          });
          assert.deepEqual(live?.session.resources, BASIC);
          assert.equal(live?.lastActivityAt, iso(5), 'the idle clock starts from the last recorded change');
          assert.deepEqual(
            (await upgraded.listRecords('old-done')).map((r) => r.action),
            ['genesis.requested', 'termination.completed'],
          );
          assert.deepEqual(await upgraded.getUsage('old-done'), usageFor('old-done'));
          // Version 3 rewrote the old records to name their users by subject reference only.
          const actors = (await prev.sql('SELECT DISTINCT actor FROM canon_records')).map((r) =>
            String(r.actor),
          );
          assert.equal(actors.length, 1);
          assert.ok(actors.every(isSubjectRef), actors.join());
          assert.equal(actors[0], await upgraded.pseudonymOf(OWNER));
          assert.deepEqual(
            (await upgraded.listRecords('old-done')).map((r) => r.actor),
            ['u1', 'u1'],
          );
          assert.deepEqual(await upgraded.listAllocations(OWNER), [
            {
              sessionId: 'old-done',
              tier: 'basic',
              resources: BASIC,
              allocatedAt: iso(1),
              releasedAt: iso(80),
            },
            { sessionId: 'old-live', tier: 'basic', resources: BASIC, allocatedAt: iso(0), releasedAt: null },
          ]);
          // Only the live old session counts against a limit.
          await upgraded.createSession(
            sessionRow('new-1', OWNER, 100),
            'u1',
            limits({ maxLiveSessionsPerUser: 2 }),
          );
          await assert.rejects(
            upgraded.createSession(
              sessionRow('new-2', OWNER, 101),
              'u1',
              limits({ maxLiveSessionsPerUser: 2 }),
            ),
            isQuota('user-sessions', 2, 2),
          );
          await upgraded.touchActivity('old-live', date(200));
          assert.equal((await upgraded.getSession('old-live'))?.lastActivityAt, iso(200));
        } finally {
          await upgraded.close();
        }
      } finally {
        await prev.cleanup();
      }
    });

    describe('limits at genesis', () => {
      type Case = {
        scope: QuotaScope;
        limits: GenesisLimits;
        fill: Array<{ userId: string; tenantId: string }>;
        next: { userId: string; tenantId: string };
        limit: number;
        current: number;
        /** Someone else who still fits: the limit is scoped, not global. */
        fits?: { userId: string; tenantId: string };
      };
      const u = (userId: string, tenantId = 't1') => ({ userId, tenantId });
      const cases: Case[] = [
        {
          scope: 'user-sessions',
          limits: limits({ maxLiveSessionsPerUser: 2 }),
          fill: [u('u1'), u('u1')],
          next: u('u1'),
          limit: 2,
          current: 2,
          fits: u('u2'),
        },
        {
          scope: 'user-cpu',
          limits: limits({ maxCpuMillicoresPerUser: 2500 }),
          fill: [u('u1'), u('u1')],
          next: u('u1'),
          limit: 2500,
          current: 2000,
          fits: u('u2'),
        },
        {
          scope: 'user-memory',
          limits: limits({ maxMemoryMiBPerUser: 5000 }),
          fill: [u('u1'), u('u1')],
          next: u('u1'),
          limit: 5000,
          current: 4096,
          fits: u('u1', 't2'),
        },
        {
          scope: 'tenant-sessions',
          limits: limits({ maxLiveSessionsPerTenant: 2 }),
          fill: [u('u1'), u('u2')],
          next: u('u3'),
          limit: 2,
          current: 2,
          fits: u('u3', 't2'),
        },
        {
          scope: 'tenant-cpu',
          limits: limits({ maxCpuMillicoresPerTenant: 2500 }),
          fill: [u('u1'), u('u2')],
          next: u('u3'),
          limit: 2500,
          current: 2000,
          fits: u('u3', 't2'),
        },
        {
          scope: 'tenant-memory',
          limits: limits({ maxMemoryMiBPerTenant: 5000 }),
          fill: [u('u1'), u('u2')],
          next: u('u3'),
          limit: 5000,
          current: 4096,
          fits: u('u1', 't2'),
        },
        {
          scope: 'cluster-sessions',
          limits: limits({ cluster: { maxSessions: 2 } }),
          fill: [u('u1', 't1'), u('u2', 't2')],
          next: u('u3', 't3'),
          limit: 2,
          current: 2,
        },
        {
          scope: 'cluster-cpu',
          limits: limits({ cluster: { maxCpuMillicores: 2500 } }),
          fill: [u('u1', 't1'), u('u2', 't2')],
          next: u('u3', 't3'),
          limit: 2500,
          current: 2000,
        },
        {
          scope: 'cluster-memory',
          limits: limits({ cluster: { maxMemoryMiB: 5000 } }),
          fill: [u('u1', 't1'), u('u2', 't2')],
          next: u('u3', 't3'),
          limit: 5000,
          current: 4096,
        },
        {
          scope: 'cluster-storage',
          limits: limits({ cluster: { maxStorageGiB: 25 } }),
          fill: [u('u1', 't1'), u('u2', 't2')],
          next: u('u3', 't3'),
          limit: 25,
          current: 20,
        },
        {
          scope: 'cluster-volumes',
          limits: limits({ cluster: { maxVolumes: 2 } }),
          fill: [u('u1', 't1'), u('u2', 't2')],
          next: u('u3', 't3'),
          limit: 2,
          current: 2,
        },
      ];
      for (const c of cases) {
        it(`refuses past ${c.scope}, writes nothing, and counts only live sessions`, async () => {
          for (const [i, owner] of c.fill.entries()) {
            await store.createSession(sessionRow(`fill-${i}`, owner, i), owner.userId, c.limits);
          }
          const allocationsBefore = await store.listAllocations(c.next);
          await assert.rejects(
            store.createSession(sessionRow('over', c.next, 10), c.next.userId, c.limits),
            isQuota(c.scope, c.limit, c.current),
          );
          assert.equal(await store.getSession('over'), undefined);
          assert.deepEqual(await store.listRecords('over'), []);
          assert.deepEqual(await store.listAllocations(c.next), allocationsBefore);
          if (c.fits) await store.createSession(sessionRow('fits', c.fits, 11), c.fits.userId, c.limits);
          else {
            // Without limits nothing is checked (the caller decides when limits apply).
            await store.createSession(sessionRow('unchecked', c.next, 11), c.next.userId);
            await move(store, 'unchecked', ['requested'], 'failed', 12);
          }
          // A finished session (terminated or failed) releases what it held.
          await move(store, 'fill-0', ['requested'], 'active', 20);
          await move(store, 'fill-0', ['active'], 'terminated', 21);
          await store.createSession(sessionRow('after', c.next, 30), c.next.userId, c.limits);
          assert.equal((await store.getSession('after'))?.session.state, 'requested');
        });
      }

      it('counts a hibernated session’s kept home volume until it is terminated', async () => {
        const max2 = limits({ cluster: { maxVolumes: 2 } });
        await store.createSession(sessionRow('a', u('u1', 't1'), 0), 'u1', max2);
        await store.createSession(sessionRow('b', u('u2', 't2'), 1), 'u2', max2);
        await move(store, 'a', ['requested'], 'active', 2);
        await move(store, 'a', ['active'], 'paused', 3);
        await move(store, 'a', ['paused'], 'hibernated', 4);
        await assert.rejects(
          store.createSession(sessionRow('c', u('u3', 't3'), 5), 'u3', max2),
          isQuota('cluster-volumes', 2, 2),
        );
        assert.equal(await store.getSession('c'), undefined);
        await move(store, 'a', ['hibernated'], 'terminated', 6);
        await store.createSession(sessionRow('c', u('u3', 't3'), 7), 'u3', max2);
        assert.equal((await store.getSession('c'))?.session.state, 'requested');
      });

      for (const [scope, perUser] of [
        ['user-cpu', { maxCpuMillicoresPerUser: 3500 }], // 3 basic (3 CPU) fit, a 4th (4 CPU) does not
        ['user-memory', { maxMemoryMiBPerUser: 7000 }], // 3 basic (6 GiB) fit, a 4th (8 GiB) does not
      ] as const) {
        it(`holds the per-user ${scope} limit under 24 concurrent creates of two users, across two store instances`, async () => {
          const other = await second();
          const users = [u('u1'), u('u2')] as const;
          const results = await Promise.allSettled(
            Array.from({ length: 24 }, (_, i) => {
              const owner = users[i % 2] as (typeof users)[number];
              const via = Math.floor(i / 2) % 2 ? other : store;
              return via.createSession(sessionRow(`p${i}`, owner, i), owner.userId, limits(perUser));
            }),
          );
          for (const r of results) {
            if (r.status === 'rejected') {
              assert.ok(r.reason instanceof QuotaExceededError, String(r.reason));
              assert.equal(r.reason.scope, scope);
            }
          }
          assert.equal(results.filter((r) => r.status === 'fulfilled').length, 6);
          for (const owner of users) {
            assert.equal((await store.listSessions(owner)).length, 3, owner.userId);
            assert.equal((await store.listAllocations(owner)).length, 3, owner.userId);
          }
          assert.equal(
            await count(fx.sql, "SELECT count(*) AS n FROM canon_records WHERE action = 'genesis.requested'"),
            6,
          );
        });
      }

      it('lets exactly 3 of 20 concurrent creates through a limit of 3, across two store instances', async () => {
        const other = await second();
        const max3 = limits({ maxLiveSessionsPerUser: 3 });
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 ? other : store).createSession(sessionRow(`c${i}`, OWNER, i), 'u1', max3),
          ),
        );
        const ok = results.filter((r) => r.status === 'fulfilled').length;
        assert.equal(ok, 3);
        for (const r of results) {
          if (r.status === 'rejected') {
            assert.ok(r.reason instanceof QuotaExceededError, String(r.reason));
            assert.equal(r.reason.scope, 'user-sessions');
          }
        }
        assert.equal((await store.listSessions(OWNER)).length, 3);
        assert.equal((await store.listAllocations(OWNER)).length, 3);
        assert.equal(
          await count(fx.sql, "SELECT count(*) AS n FROM canon_records WHERE action = 'genesis.requested'"),
          3,
        );
      });
    });

    it('records activity cheaply: forward only, no Canon record, unknown sessions ignored', async () => {
      await store.createSession(sessionRow('s1'), 'u1');
      assert.equal((await store.getSession('s1'))?.lastActivityAt, iso(0));
      await store.touchActivity('s1', date(30));
      await store.touchActivity('s1', date(30));
      assert.equal((await store.getSession('s1'))?.lastActivityAt, iso(30));
      await store.touchActivity('s1', date(10)); // a late, throttled touch does not rewind the clock
      assert.equal((await store.getSession('s1'))?.lastActivityAt, iso(30));
      await store.touchActivity('missing', date(40));
      assert.equal(await store.getSession('missing'), undefined);
      assert.equal((await store.listRecords('s1')).length, 1);
      // Transitions leave the idle clock alone; it is the lifecycle's to reset.
      await move(store, 's1', ['requested'], 'active', 50);
      assert.equal((await store.getSession('s1'))?.lastActivityAt, iso(30));
    });

    it('keeps preferences per user and tenant, last writer by server timestamp wins, a record per write', async () => {
      assert.equal(await store.getPreferences(OWNER), undefined);
      const first = await store.putPreferences(OWNER, { theme: 'dark', tier: 'basic' }, date(10));
      assert.deepEqual(first, {
        ...OWNER,
        preferences: { theme: 'dark', tier: 'basic' },
        updatedAt: iso(10),
      });
      const newer = await store.putPreferences(OWNER, { theme: 'light' }, date(20));
      assert.deepEqual(newer, { ...OWNER, preferences: { theme: 'light' }, updatedAt: iso(20) });
      // A write stamped earlier (a slower replica) arrives late: it loses, and the newer row is returned.
      const stale = await store.putPreferences(OWNER, { theme: 'stale' }, date(15));
      assert.deepEqual(stale, newer);
      assert.deepEqual(await store.getPreferences(OWNER), newer);

      await store.putPreferences({ userId: 'u1', tenantId: 't2' }, { theme: 'other-tenant' }, date(30));
      await store.putPreferences({ userId: 'u2', tenantId: 't1' }, { theme: 'other-user' }, date(30));
      assert.deepEqual(await store.getPreferences(OWNER), newer);
      assert.equal(
        (await store.getPreferences({ userId: 'u1', tenantId: 't2' }))?.preferences.theme,
        'other-tenant',
      );

      const records = await store.listRecords(preferencesEntityId(OWNER));
      assert.deepEqual(
        records.map((r) => [r.entity, r.action, r.actor, r.tenantId, r.canonTimestamp, r.payload.applied]),
        [
          ['preferences', 'preferences.updated', 'u1', 't1', iso(10), true],
          ['preferences', 'preferences.updated', 'u1', 't1', iso(20), true],
          ['preferences', 'preferences.superseded', 'u1', 't1', iso(15), false],
        ],
      );
      assert.deepEqual(records[2]?.payload.preferences, { theme: 'stale' });

      // Racing writers on two instances: the newest timestamp is what stays.
      const other = await second();
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? other : store).putPreferences(OWNER, { n: i }, date(100 + ((i * 7) % 10))),
        ),
      );
      const winner = await store.getPreferences(OWNER);
      assert.equal(winner?.updatedAt, iso(109));
      assert.deepEqual(winner?.preferences, { n: 7 });
      assert.equal((await store.listRecords(preferencesEntityId(OWNER))).length, 13);
    });

    /** s1 – s3 of OWNER; x1 of another user of OWNER's tenant; x2 of OWNER's user id in another tenant. */
    async function threeOwnedAndTwoOthers(): Promise<void> {
      await store.createSession(sessionRow('s1', OWNER, 0), 'u1');
      await store.createSession(sessionRow('s2', OWNER, 10), 'u1');
      await store.createSession(sessionRow('s3', OWNER, 20), 'u1');
      await store.createSession(sessionRow('x1', { userId: 'u2', tenantId: 't1' }, 0), 'u2');
      await store.createSession(sessionRow('x2', { userId: 'u1', tenantId: 't2' }, 0), 'u1');
    }

    it('keeps the allocation history: opened at genesis, released at terminated or failed', async () => {
      await threeOwnedAndTwoOthers();
      await move(store, 's1', ['requested'], 'active', 30);
      await move(store, 's1', ['active'], 'paused', 40); // a pause keeps the resources
      await move(store, 's1', ['paused'], 'terminated', 50);
      await move(store, 's2', ['requested'], 'failed', 60);
      const alloc = (sessionId: string, allocatedAt: number, releasedAt: number | null) => ({
        sessionId,
        tier: 'basic',
        resources: BASIC,
        allocatedAt: iso(allocatedAt),
        releasedAt: releasedAt === null ? null : iso(releasedAt),
      });
      assert.deepEqual(await store.listAllocations(OWNER), [
        alloc('s3', 20, null),
        alloc('s2', 10, 60),
        alloc('s1', 0, 50),
      ]);
      assert.deepEqual(await store.listAllocations({ userId: 'u2', tenantId: 't1' }), [alloc('x1', 0, null)]);
      assert.deepEqual(await store.listAllocations({ userId: 'u1', tenantId: 't2' }), [alloc('x2', 0, null)]);
      assert.deepEqual(await store.listAllocations({ userId: 'nobody', tenantId: 't1' }), []);
      // A second finishing move does not move the release time.
      await move(store, 's1', ['terminated'], 'failed', 70);
      assert.deepEqual((await store.listAllocations(OWNER))[2], alloc('s1', 0, 50));
    });

    it('sums what counts against the limits now, for the user, their tenant and the cluster', async () => {
      await threeOwnedAndTwoOthers();
      await move(store, 's1', ['requested'], 'active', 30);
      await move(store, 's1', ['active'], 'paused', 40); // paused still counts
      await move(store, 's2', ['requested'], 'failed', 60); // failed does not
      const n = (k: number) => ({
        sessions: k,
        cpuMillicores: k * BASIC.cpuMillicores,
        memoryMiB: k * BASIC.memoryMiB,
      });
      assert.deepEqual(await store.liveUsageOf(OWNER), {
        user: n(2),
        tenant: n(3),
        cluster: { ...n(4), storageGiB: 4 * BASIC.storageGiB },
      });
      assert.deepEqual((await store.liveUsageOf({ userId: 'nobody', tenantId: 't3' })).user, n(0));
    });

    it('keeps the tenant and cluster sums equal to the open allocations through every change to them', async () => {
      /** What liveUsageOf must say, counted afresh from the open allocations. */
      const recount = async (owner: { userId: string; tenantId: string }): Promise<LiveUsage> => {
        const sums = async (where: string) => {
          const [r] = await fx.sql(
            `SELECT count(*) AS n, coalesce(sum(cpu_millicores), 0) AS cpu, coalesce(sum(memory_mib), 0) AS memory,
                    coalesce(sum(storage_gib), 0) AS storage
               FROM allocations WHERE released_at IS NULL${where}`,
          );
          return {
            sessions: Number(r?.n),
            cpuMillicores: Number(r?.cpu),
            memoryMiB: Number(r?.memory),
            storageGiB: Number(r?.storage),
          };
        };
        const { storageGiB: _u, ...user } = await sums(
          ` AND tenant_id = '${owner.tenantId}' AND user_id = '${owner.userId}'`,
        );
        const { storageGiB: _t, ...tenant } = await sums(` AND tenant_id = '${owner.tenantId}'`);
        return { user, tenant, cluster: await sums('') };
      };
      const owners = [OWNER, { userId: 'u2', tenantId: 't1' }, { userId: 'u1', tenantId: 't2' }];
      const matches = async (step: string) => {
        for (const owner of owners) {
          assert.deepEqual(
            await store.liveUsageOf(owner),
            await recount(owner),
            `${step}: ${owner.tenantId}`,
          );
        }
      };
      const big = { ...BASIC, cpuMillicores: 4000, memoryMiB: 8192, storageGiB: 50 };

      await threeOwnedAndTwoOthers();
      await store.createSession(sessionRow('checked', OWNER, 1), 'u1', limits());
      await matches('created');
      assert.equal((await store.liveUsageOf(OWNER)).tenant.sessions, 5);
      await assert.rejects(
        store.createSession(sessionRow('refused', OWNER, 2), 'u1', limits({ maxLiveSessionsPerTenant: 5 })),
        isQuota('tenant-sessions', 5, 5),
      );
      await matches('a refused create');
      await move(store, 's1', ['requested'], 'active', 30);
      await store.transition({
        sessionId: 's1',
        from: ['active'],
        to: 'active',
        action: 'tier.changed',
        actor: 'u1',
        at: date(31),
        tierChange: { tier: 'pro', resources: big, limits: limits() },
      });
      await matches('a tier change');
      assert.equal((await store.liveUsageOf(OWNER)).tenant.cpuMillicores, 4 * BASIC.cpuMillicores + 4000);
      await assert.rejects(
        store.transition({
          sessionId: 's3',
          from: ['requested'],
          to: 'requested',
          action: 'tier.changed',
          actor: 'u1',
          at: date(32),
          tierChange: { tier: 'pro', resources: big, limits: limits({ maxCpuMillicoresPerTenant: 9000 }) },
        }),
        isQuota('tenant-cpu', 9000, 7000), // its own old allocation released first
      );
      await matches('a refused tier change');
      await move(store, 's2', ['requested'], 'failed', 40);
      await move(store, 's1', ['active'], 'terminated', 50);
      await move(store, 'x2', ['requested'], 'terminated', 60);
      await matches('releases');
      assert.deepEqual((await store.liveUsageOf(OWNER)).cluster.sessions, 3);
      // A second finishing move releases nothing more.
      await move(store, 's1', ['terminated'], 'failed', 70);
      await matches('a second finishing move');
      // Whatever else writes the table (a repair by hand, a future migration) moves the sums with it.
      await fx.sql("UPDATE allocations SET cpu_millicores = 1500, tenant_id = 't2' WHERE session_id = 's3'");
      await matches('an open allocation rewritten');
      await fx.sql("DELETE FROM allocations WHERE session_id = 'x1'");
      await matches('an open allocation deleted');
      assert.deepEqual((await store.liveUsageOf(OWNER)).tenant.sessions, 1);
      const reopened = await second();
      assert.deepEqual(await reopened.liveUsageOf(OWNER), await recount(OWNER));
    });

    it('counts live sessions and sums their tier resources per state and tier, in the database', async () => {
      assert.deepEqual(await store.liveTotals(), []);
      await store.createSession(sessionRow('s1', OWNER, 0), 'u1');
      await store.createSession(sessionRow('s2', OWNER, 10), 'u1');
      await store.createSession(sessionRow('s3', { userId: 'u2', tenantId: 't2' }, 20), 'u2');
      await store.createSession(sessionRow('s4', OWNER, 30), 'u1');
      const gpu = { cpuMillicores: 8000, memoryMiB: 32768, storageGiB: 100, gpus: 2, display: BASIC.display };
      const g = sessionRow('g1', OWNER, 35);
      await store.createSession({ ...g, session: { ...g.session, tier: 'gpu', resources: gpu } }, 'u1');
      await move(store, 's1', ['requested'], 'active', 40);
      await move(store, 's2', ['requested'], 'active', 41);
      await move(store, 'g1', ['requested'], 'active', 42);
      await move(store, 's4', ['requested'], 'failed', 43); // finished: not counted
      const basic = (state: SessionState, sessions: number) => ({
        state,
        tier: 'basic',
        sessions,
        cpuMillicores: sessions * BASIC.cpuMillicores,
        memoryMiB: sessions * BASIC.memoryMiB,
        gpus: sessions * BASIC.gpus,
      });
      assert.deepEqual(await store.liveTotals(), [
        basic('active', 2),
        { state: 'active', tier: 'gpu', sessions: 1, cpuMillicores: 8000, memoryMiB: 32768, gpus: 2 },
        basic('requested', 1),
      ]);
    });

    describe('pseudonymous subjects and erasure (GDPR)', () => {
      // Distinctive ids, so finding them as substrings of raw rows means exactly them.
      const ERIN = { userId: 'erin.rossi@example.test', tenantId: 't1' };
      const FRED = { userId: 'fred.keller@example.test', tenantId: 't1' };
      const PERSONAL_TABLES = [
        'canon_records',
        'sessions',
        'usage',
        'allocations',
        'preferences',
        'subjects',
      ];
      const rawDump = async (): Promise<string> => {
        const parts: string[] = [];
        for (const table of PERSONAL_TABLES)
          parts.push(JSON.stringify(await fx.sql(`SELECT * FROM ${table}`)));
        return parts.join('\n');
      };
      const usageOf = (sessionId: string, owner: { userId: string; tenantId: string }, cost: number) => ({
        ...usageFor(sessionId, cost),
        userId: owner.userId,
        tenantId: owner.tenantId,
      });
      /** One finished session with usage, one failed one, preferences: what a user leaves behind. */
      async function history(owner: { userId: string; tenantId: string }, prefix: string): Promise<void> {
        // With limits: the quota-checked Genesis (a store may write it its own way) names the user first.
        await store.createSession(sessionRow(`${prefix}-1`, owner, 0), owner.userId, limits());
        await store.transition({
          sessionId: `${prefix}-1`,
          from: ['requested'],
          to: 'active',
          action: 'genesis.active',
          actor: 'system:lifecycle',
          at: date(1),
        });
        await store.transition({
          sessionId: `${prefix}-1`,
          from: ['active'],
          to: 'terminated',
          action: 'termination.completed',
          actor: owner.userId,
          at: date(60),
          usage: usageOf(`${prefix}-1`, owner, 250_000),
        });
        await store.createSession(sessionRow(`${prefix}-2`, owner, 100), owner.userId);
        await store.transition({
          sessionId: `${prefix}-2`,
          from: ['requested'],
          to: 'failed',
          action: 'genesis.failed',
          actor: 'system:lifecycle',
          at: date(101),
          failureReason: 'no display',
        });
        await store.putPreferences(owner, { theme: 'dark' }, date(110));
      }

      it('writes people into Canon records only as subject references, and reads them back as user ids', async () => {
        await history(ERIN, 'e');
        const raw = JSON.stringify(await fx.sql('SELECT * FROM canon_records'));
        assert.ok(!raw.includes(ERIN.userId), 'a Canon record names the user');
        const pseudonym = await store.pseudonymOf(ERIN);
        assert.ok(isSubjectRef(pseudonym), pseudonym);
        assert.equal(await store.pseudonymOf(ERIN), pseudonym, 'stable');
        assert.notEqual(await store.pseudonymOf({ ...ERIN, tenantId: 't2' }), pseudonym, 'per tenant');
        assert.ok(raw.includes(pseudonym));

        const records = await store.listRecords('e-1');
        assert.deepEqual(
          records.map((r) => r.actor),
          [ERIN.userId, 'system:lifecycle', ERIN.userId, ERIN.userId],
        );
        assert.equal(records.find((r) => r.entity === 'usage')?.payload.userId, ERIN.userId);
        const prefs = await store.listRecords(preferencesEntityId(ERIN));
        assert.equal(prefs.length, 1);
        assert.equal(prefs[0]?.entityId, preferencesEntityId(ERIN));
        assert.equal(prefs[0]?.payload.userId, ERIN.userId);
        assert.deepEqual(await store.listRecords(preferencesEntityId({ ...ERIN, userId: 'nobody' })), []);

        const audit = await store.recordPrivacyEvent({
          subject: ERIN,
          action: 'privacy.exported',
          actor: ERIN.userId,
          at: date(200),
          payload: { sessions: 2 },
        });
        assert.deepEqual(
          [audit.entity, audit.entityId, audit.action, audit.actor, audit.payload],
          ['privacy', privacyEntityId(ERIN), 'privacy.exported', ERIN.userId, { sessions: 2 }],
        );
        assert.deepEqual(await store.listRecords(privacyEntityId(ERIN)), [audit]);
      });

      it('gives a person acting for the first time a subject reference: an admin ending another user’s session', async () => {
        await store.createSession(sessionRow('f-1', FRED, 0), FRED.userId);
        await move(store, 'f-1', ['requested'], 'active', 1);
        const admin = { userId: 'ada.admin@example.test', tenantId: 't1' };
        const done = await store.transition({
          sessionId: 'f-1',
          from: ['active'],
          to: 'terminated',
          action: 'termination.completed',
          actor: admin.userId,
          at: date(60),
          usage: usageOf('f-1', FRED, 4_000),
        });
        assert.equal(done?.session.state, 'terminated');
        const raw = JSON.stringify(await fx.sql('SELECT * FROM canon_records'));
        assert.ok(!raw.includes(admin.userId), 'a Canon record names the admin');
        const records = await store.listRecords('f-1');
        assert.deepEqual(
          records.map((r) => [r.entity, r.action, r.actor, r.payload.userId]),
          [
            ['session', 'genesis.requested', FRED.userId, undefined],
            ['session', 'requested->active', 'u1', undefined],
            ['session', 'termination.completed', admin.userId, undefined],
            ['usage', 'usage.recorded', admin.userId, FRED.userId],
          ],
        );
        assert.ok(isSubjectRef(await store.pseudonymOf(admin)));
        assert.equal((await store.getUsage('f-1'))?.cost, 4_000);
      });

      it('erases a user: the id is gone from every table, usage kept under the pseudonym, the audit trail readable', async () => {
        await history(ERIN, 'e');
        await history(FRED, 'f');
        const costBefore = (await store.getUsage('e-1'))?.cost;
        const fredBefore = {
          sessions: await store.listSessions(FRED),
          records: await store.listRecords('f-1'),
          prefs: await store.getPreferences(FRED),
          allocations: await store.listAllocations(FRED),
        };
        await store.recordPrivacyEvent({
          subject: ERIN,
          action: 'privacy.exported',
          actor: ERIN.userId,
          at: date(150),
          payload: {},
        });

        const result = await store.eraseSubject({
          subject: ERIN,
          actor: ERIN.userId,
          at: date(200),
          details: { filesDeleted: 3 },
        });
        assert.ok(isSubjectRef(result.pseudonym));
        assert.deepEqual(
          [
            result.sessionsPseudonymised,
            result.usageRecordsPseudonymised,
            result.allocationsPseudonymised,
            result.preferencesDeleted,
            result.erasedAt,
          ],
          [2, 1, 2, true, iso(200)],
        );

        const dump = await rawDump();
        assert.ok(!dump.includes(ERIN.userId), 'the erased user id is still stored somewhere');
        assert.ok(dump.includes(FRED.userId), 'other users are untouched');

        // Readable only through the pseudonym; money unchanged.
        assert.deepEqual(await store.listSessions(ERIN), []);
        assert.equal(await store.getPreferences(ERIN), undefined);
        const asPseudonym = { userId: result.pseudonym, tenantId: ERIN.tenantId };
        assert.deepEqual(
          (await store.listSessions(asPseudonym)).map((r) => [r.session.sessionId, r.session.userId]),
          [
            ['e-2', result.pseudonym],
            ['e-1', result.pseudonym],
          ],
        );
        const usage = await store.getUsage('e-1');
        assert.equal(usage?.userId, result.pseudonym);
        assert.equal(usage?.cost, costBefore);
        assert.equal((await store.listAllocations(asPseudonym)).length, 2);
        const records = await store.listRecords('e-1');
        assert.equal(records.length, 4, 'no record was removed');
        assert.ok(
          records.every((r) => r.actor !== ERIN.userId && JSON.stringify(r).indexOf(ERIN.userId) < 0),
        );
        assert.equal(records[0]?.actor, result.pseudonym);

        // The audit trail: not findable by the erased id any more, but by the pseudonym.
        assert.deepEqual(await store.listRecords(privacyEntityId(ERIN)), []);
        const audit = await store.listRecords(privacyEntityId(asPseudonym));
        assert.deepEqual(
          audit.map((r) => [r.action, r.actor]),
          [
            ['privacy.exported', result.pseudonym],
            ['privacy.erased', result.pseudonym],
          ],
        );
        assert.equal(audit[1]?.recordId, result.auditRecordId);
        assert.equal(audit[1]?.payload.filesDeleted, 3);
        assert.equal(audit[1]?.payload.pseudonym, result.pseudonym);

        // Fred is exactly as before.
        assert.deepEqual(
          {
            sessions: await store.listSessions(FRED),
            records: await store.listRecords('f-1'),
            prefs: await store.getPreferences(FRED),
            allocations: await store.listAllocations(FRED),
          },
          fredBefore,
        );

        // A user who comes back is a new subject: nothing links them to the erased history.
        await store.createSession(sessionRow('e-3', ERIN, 300), ERIN.userId);
        const fresh = await store.pseudonymOf(ERIN);
        assert.notEqual(fresh, result.pseudonym);
        assert.deepEqual(
          (await store.listSessions(ERIN)).map((r) => r.session.sessionId),
          ['e-3'],
        );
        assert.equal((await store.listRecords('e-3'))[0]?.actor, ERIN.userId);
      });

      it('finds per-user records when tenant and user ids contain colons (URNs)', async () => {
        const urn = { userId: 'urn:n3xus:user:42', tenantId: 'urn:n3xus:tenant:acme' };
        const other = { userId: 'urn:n3xus:user:43', tenantId: 'urn:n3xus:tenant:acme' };
        await store.putPreferences(urn, { theme: 'dark' }, date(1));
        await store.putPreferences(other, { theme: 'light' }, date(2));
        const mine = await store.listRecords(preferencesEntityId(urn));
        assert.deepEqual(
          mine.map((r) => [r.actor, r.payload.preferences]),
          [[urn.userId, { theme: 'dark' }]],
        );
        assert.equal(mine[0]?.entityId, preferencesEntityId(urn));
        assert.deepEqual(
          (await store.listRecords(preferencesEntityId(other))).map((r) => r.payload.preferences),
          [{ theme: 'light' }],
        );
      });

      it('refuses erasure while the user has live sessions, writing nothing', async () => {
        await store.createSession(sessionRow('live', ERIN, 0), ERIN.userId);
        const before = await rawDump();
        await assert.rejects(
          store.eraseSubject({ subject: ERIN, actor: ERIN.userId, at: date(10), details: {} }),
          (error: unknown) => error instanceof SubjectHasLiveSessionsError && error.liveSessions === 1,
        );
        assert.equal(await rawDump(), before);
      });
    });

    describe('collaborative workspaces', () => {
      const ANA = OWNER;
      const BEN = { userId: 'ben', tenantId: OWNER.tenantId };
      const CAT = { userId: 'cat', tenantId: OWNER.tenantId };

      async function workspaceWithSession(id = 'w1', at = 0) {
        await store.createSession(sessionRow(`s-${id}`, ANA, at), ANA.userId);
        const w = newWorkspace({
          workspaceId: id,
          tenantId: ANA.tenantId,
          ownerId: ANA.userId,
          name: 'Pairing',
          sessionIds: [`s-${id}`],
          at: date(at + 1),
        });
        await store.createWorkspace(w);
        return w;
      }
      const change = (c: WorkspaceChange, at: number, s: CanonStore = store, id = 'w1') =>
        s.changeWorkspace(id, c, date(at));
      const refused = (code: WorkspaceRefusal) => (error: unknown) => {
        assert.ok(
          error instanceof WorkspaceChangeError,
          `expected WorkspaceChangeError, got ${String(error)}`,
        );
        assert.equal(error.code, code);
        return true;
      };
      const records = async (sql: (s: string) => Promise<SqlRows>) =>
        count(sql, "SELECT count(*) AS n FROM canon_records WHERE entity = 'workspace'");

      it('creates a workspace with its owner joined, readable and listed for the owner only', async () => {
        const w = await workspaceWithSession();
        assert.deepEqual(await store.getWorkspace('w1'), w);
        assert.deepEqual(
          (await store.listWorkspaces(ANA)).map((x) => x.workspaceId),
          ['w1'],
        );
        assert.deepEqual(await store.listWorkspaces(BEN), []);
        assert.deepEqual(
          (await store.listWorkspacesOfSession('s-w1')).map((x) => x.workspaceId),
          ['w1'],
        );
        const [created] = await store.listRecords('w1');
        assert.equal(created?.entity, 'workspace');
        assert.equal(created?.action, 'workspace.created');
        assert.equal(created?.actor, ANA.userId);
        assert.deepEqual(created?.payload, { name: 'Pairing', sessionIds: ['s-w1'] });
      });

      it('creates a workspace with its first invitations in one transaction; one refused writes none of it', async () => {
        await store.createSession(sessionRow('s-w2', ANA, 0), ANA.userId);
        const draft = newWorkspace({
          workspaceId: 'w2',
          tenantId: ANA.tenantId,
          ownerId: ANA.userId,
          name: 'Review',
          sessionIds: ['s-w2'],
          at: date(1),
        });
        const invite = (userId: string, role: 'participant' | 'observer') =>
          ({ kind: 'invite', actor: ANA.userId, userId, role }) as const;
        const before = await records(fx.sql);
        const memberships = () => count(fx.sql, 'SELECT count(*) AS n FROM workspace_members');
        const membersBefore = await memberships();
        // Ben twice: the second invitation is refused, so neither the workspace nor Ben's first one is written.
        await assert.rejects(
          store.createWorkspace(draft, [invite(BEN.userId, 'participant'), invite(BEN.userId, 'observer')]),
          refused('WORKSPACE_CONFLICT'),
        );
        assert.equal(await store.getWorkspace('w2'), undefined);
        assert.equal(await records(fx.sql), before);
        assert.equal(await memberships(), membersBefore);

        const created = await store.createWorkspace(draft, [
          invite(BEN.userId, 'participant'),
          invite(CAT.userId, 'observer'),
        ]);
        const expected = [
          [ANA.userId, 'owner', 'joined'],
          [BEN.userId, 'participant', 'invited'],
          [CAT.userId, 'observer', 'invited'],
        ];
        assert.deepEqual(
          created.members.map((m) => [m.userId, m.role, m.status]),
          expected,
        );
        assert.deepEqual(await store.getWorkspace('w2'), created);
        assert.deepEqual(
          (await store.listRecords('w2')).map((r) => [r.action, r.actor, r.canonTimestamp]),
          [
            ['workspace.created', ANA.userId, draft.createdAt],
            ['workspace.invited', ANA.userId, draft.createdAt],
            ['workspace.invited', ANA.userId, draft.createdAt],
          ],
        );
      });

      it('needs an invitation to join; accept and decline are the invitee’s, invitations the owner’s', async () => {
        await workspaceWithSession();
        await assert.rejects(
          change({ kind: 'accept', actor: BEN.userId }, 2),
          refused('INVITATION_NOT_FOUND'),
        );
        await assert.rejects(
          change({ kind: 'invite', actor: BEN.userId, userId: CAT.userId, role: 'participant' }, 2),
          refused('WORKSPACE_OWNER_REQUIRED'),
        );
        let w = await change(
          { kind: 'invite', actor: ANA.userId, userId: BEN.userId, role: 'participant' },
          3,
        );
        assert.deepEqual(
          w.members.map((m) => [m.userId, m.role, m.status]),
          [
            [ANA.userId, 'owner', 'joined'],
            [BEN.userId, 'participant', 'invited'],
          ],
        );
        await assert.rejects(
          change({ kind: 'invite', actor: ANA.userId, userId: BEN.userId, role: 'observer' }, 4),
          refused('WORKSPACE_CONFLICT'),
        );
        // An invitee sees the workspace in their list before accepting.
        assert.deepEqual(
          (await store.listWorkspaces(BEN)).map((x) => x.workspaceId),
          ['w1'],
        );
        w = await change({ kind: 'accept', actor: BEN.userId }, 5);
        assert.equal(w.members[1]?.status, 'joined');
        assert.equal(w.members[1]?.joinedAt, iso(5));
        await change({ kind: 'invite', actor: ANA.userId, userId: CAT.userId, role: 'observer' }, 6);
        w = await change({ kind: 'decline', actor: CAT.userId }, 7);
        assert.deepEqual(
          w.members.map((m) => m.userId),
          [ANA.userId, BEN.userId],
        );
        assert.deepEqual(await store.getWorkspace('w1'), w);
        assert.deepEqual(
          (await store.listRecords('w1')).map((r) => [r.action, r.actor, r.payload.userId ?? null]),
          [
            ['workspace.created', ANA.userId, null],
            ['workspace.invited', ANA.userId, BEN.userId],
            ['workspace.joined', BEN.userId, null],
            ['workspace.invited', ANA.userId, CAT.userId],
            ['workspace.declined', CAT.userId, null],
          ],
        );
      });

      it('hands control to a joined participant only; observers, leaving and removal take it away', async () => {
        await workspaceWithSession();
        await change({ kind: 'invite', actor: ANA.userId, userId: BEN.userId, role: 'participant' }, 2);
        await assert.rejects(
          change({ kind: 'grant-control', actor: ANA.userId, userId: BEN.userId }, 3),
          refused('WORKSPACE_CONFLICT'),
        );
        await change({ kind: 'accept', actor: BEN.userId }, 4);
        await assert.rejects(
          change({ kind: 'grant-control', actor: BEN.userId, userId: BEN.userId }, 5),
          refused('WORKSPACE_OWNER_REQUIRED'),
        );
        assert.equal(
          (await change({ kind: 'grant-control', actor: ANA.userId, userId: BEN.userId }, 6)).controllerId,
          BEN.userId,
        );
        const demoted = await change(
          { kind: 'set-role', actor: ANA.userId, userId: BEN.userId, role: 'observer' },
          7,
        );
        assert.equal(demoted.controllerId, null);
        assert.equal(demoted.members[1]?.role, 'observer');
        await assert.rejects(
          change({ kind: 'grant-control', actor: ANA.userId, userId: BEN.userId }, 8),
          refused('WORKSPACE_CONFLICT'),
        );
        await change({ kind: 'set-role', actor: ANA.userId, userId: BEN.userId, role: 'participant' }, 9);
        await change({ kind: 'grant-control', actor: ANA.userId, userId: BEN.userId }, 10);
        assert.equal((await change({ kind: 'revoke-control', actor: ANA.userId }, 11)).controllerId, null);
        await change({ kind: 'grant-control', actor: ANA.userId, userId: BEN.userId }, 12);
        const left = await change({ kind: 'leave', actor: BEN.userId }, 13);
        assert.equal(left.controllerId, null);
        assert.deepEqual(
          left.members.map((m) => m.userId),
          [ANA.userId],
        );
        await assert.rejects(change({ kind: 'leave', actor: ANA.userId }, 14), refused('WORKSPACE_CONFLICT'));
        await change({ kind: 'invite', actor: ANA.userId, userId: CAT.userId, role: 'participant' }, 15);
        await change({ kind: 'accept', actor: CAT.userId }, 16);
        await change({ kind: 'grant-control', actor: ANA.userId, userId: CAT.userId }, 17);
        const removed = await change({ kind: 'remove', actor: ANA.userId, userId: CAT.userId }, 18);
        assert.equal(removed.controllerId, null);
        assert.deepEqual(
          (await store.listRecords('w1')).slice(-2).map((r) => [r.action, r.payload.userId]),
          [
            ['workspace.control-granted', CAT.userId],
            ['workspace.removed', CAT.userId],
          ],
        );
        assert.deepEqual(await store.listWorkspaces(CAT), []);
      });

      it('a refused change writes nothing; a closed workspace refuses every change and stops granting streams', async () => {
        await workspaceWithSession();
        const before = await records(fx.sql);
        await assert.rejects(
          change({ kind: 'close', actor: BEN.userId }, 2),
          refused('WORKSPACE_OWNER_REQUIRED'),
        );
        await assert.rejects(
          store.changeWorkspace('nope', { kind: 'close', actor: ANA.userId }, date(2)),
          refused('WORKSPACE_NOT_FOUND'),
        );
        assert.equal(await records(fx.sql), before);
        const closed = await change({ kind: 'close', actor: ANA.userId }, 3);
        assert.equal(closed.state, 'closed');
        await assert.rejects(
          change({ kind: 'invite', actor: ANA.userId, userId: BEN.userId, role: 'observer' }, 4),
          refused('WORKSPACE_CONFLICT'),
        );
        assert.deepEqual(await store.listWorkspacesOfSession('s-w1'), []);
        assert.equal((await store.listWorkspaces(ANA))[0]?.state, 'closed');
      });

      it('stores people as subject references in workspace records', async () => {
        await workspaceWithSession();
        await change({ kind: 'invite', actor: ANA.userId, userId: BEN.userId, role: 'observer' }, 2);
        const raw = await fx.sql(
          "SELECT actor, payload FROM canon_records WHERE entity = 'workspace' ORDER BY seq",
        );
        assert.equal(raw.length, 2);
        for (const r of raw) {
          assert.ok(isSubjectRef(String(r.actor)), `actor ${String(r.actor)} is a subject reference`);
          const payload = (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as {
            userId?: string;
          };
          if (payload.userId !== undefined) assert.ok(isSubjectRef(payload.userId));
        }
      });

      it('of two replicas racing to answer one invitation, exactly one wins', async () => {
        await workspaceWithSession();
        await change({ kind: 'invite', actor: ANA.userId, userId: BEN.userId, role: 'participant' }, 2);
        const other = await second();
        const results = await Promise.allSettled([
          change({ kind: 'accept', actor: BEN.userId }, 3),
          change({ kind: 'decline', actor: BEN.userId }, 3, other),
        ]);
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        const rejected = results.find((r) => r.status === 'rejected');
        assert.ok(rejected && refused('INVITATION_NOT_FOUND')(rejected.reason));
        const actions = (await store.listRecords('w1')).map((r) => r.action);
        assert.equal(actions.filter((a) => a === 'workspace.joined' || a === 'workspace.declined').length, 1);
      });

      it('erasure keeps the member’s place in a workspace under the pseudonym', async () => {
        await workspaceWithSession();
        await change({ kind: 'invite', actor: ANA.userId, userId: BEN.userId, role: 'participant' }, 2);
        const result = await store.eraseSubject({
          subject: BEN,
          actor: BEN.userId,
          at: date(3),
          details: {},
        });
        const w = await store.getWorkspace('w1');
        assert.deepEqual(
          w?.members.map((m) => m.userId),
          [ANA.userId, result.pseudonym],
        );
        assert.deepEqual(await store.listWorkspaces(BEN), []);
      });
    });
  });
}
