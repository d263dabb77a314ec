import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Session } from '../../../protocol/session.ts';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';

function newSession(id: string, userId = 'u1'): Session {
  const at = '2026-01-12T10:00:00.000Z';
  return {
    sessionId: id,
    userId,
    tenantId: 't1',
    tier: 'basic',
    resources: {
      cpuMillicores: 1000,
      memoryMiB: 2048,
      storageGiB: 10,
      gpus: 0,
      display: { width: 1280, height: 720 },
    },
    state: 'requested',
    createdAt: at,
    canonTimestamp: at,
    handshake: '55-45-17',
  };
}

describe('SQLite Canon Memory', () => {
  let dir: string;
  let file: string;
  let store: SqliteCanonStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-canon-'));
    file = join(dir, 'canon.sqlite');
    store = new SqliteCanonStore(file);
  });
  afterEach(async () => {
    await store.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('applies transitions only from an allowed state and records each one', async () => {
    await store.createSession({ session: newSession('s1'), runtime: null }, 'u1');
    const moved = await store.transition({
      sessionId: 's1',
      from: ['requested'],
      to: 'provisioning',
      action: 'genesis.provisioning',
      actor: 'u1',
      at: new Date(),
    });
    assert.equal(moved?.session.state, 'provisioning');
    const refused = await store.transition({
      sessionId: 's1',
      from: ['active'],
      to: 'paused',
      action: 'pause',
      actor: 'u1',
      at: new Date(),
    });
    assert.equal(refused, undefined);
    assert.equal((await store.getSession('s1'))?.session.state, 'provisioning');
    const records = await store.listRecords('s1');
    assert.deepEqual(
      records.map((r) => [r.fromState, r.toState]),
      [
        [null, 'requested'],
        ['requested', 'provisioning'],
      ],
    );
  });

  it('keeps records append-only: UPDATE and DELETE are refused by the database itself', async () => {
    await store.createSession({ session: newSession('s1'), runtime: null }, 'u1');
    await store.close();
    const raw = new Database(file);
    assert.throws(() => raw.prepare("UPDATE canon_records SET actor = 'mallory'").run(), /append-only/);
    assert.throws(() => raw.prepare('DELETE FROM canon_records').run(), /append-only/);
    assert.throws(
      () =>
        raw
          .prepare(
            "INSERT INTO canon_records (record_id, entity, entity_id, action, actor, tenant_id, payload, canon_timestamp, handshake) VALUES ('x','session','s1','a','u','t','{}','now','1-2-3')",
          )
          .run(),
      /CHECK/,
    );
    raw.close();
    store = new SqliteCanonStore(file);
    assert.equal((await store.listRecords('s1'))[0]?.actor, 'u1');
  });

  it('survives reopening, and migrations are applied once', async () => {
    await store.createSession({ session: newSession('s1'), runtime: null }, 'u1');
    await store.close();
    store = new SqliteCanonStore(file);
    assert.equal(store.schemaVersion(), 1);
    assert.equal((await store.getSession('s1'))?.session.sessionId, 's1');
    assert.equal((await store.listRecords('s1')).length, 1);
  });

  it('lists only the owner’s sessions, and unfinished ones for reconciling', async () => {
    await store.createSession({ session: newSession('s1', 'u1'), runtime: null }, 'u1');
    await store.createSession({ session: newSession('s2', 'u2'), runtime: null }, 'u2');
    await store.transition({
      sessionId: 's2',
      from: ['requested'],
      to: 'failed',
      action: 'x',
      actor: 'sys',
      at: new Date(),
      failureReason: 'boom',
    });
    assert.deepEqual(
      (await store.listSessions({ userId: 'u1', tenantId: 't1' })).map((r) => r.session.sessionId),
      ['s1'],
    );
    assert.deepEqual(await store.listSessions({ userId: 'u1', tenantId: 'other' }), []);
    assert.deepEqual(
      (await store.listUnfinished()).map((r) => r.session.sessionId),
      ['s1'],
    );
    assert.equal((await store.getSession('s2'))?.session.failureReason, 'boom');
  });

  it('writes a usage record in the same transaction as the transition, and only once', async () => {
    await store.createSession({ session: newSession('s1'), runtime: null }, 'u1');
    const usage = {
      userId: 'u1',
      tenantId: 't1',
      sessionId: 's1',
      startTime: 'a',
      endTime: 'b',
      resourceConsumption: {
        activeSeconds: 1,
        pausedSeconds: 0,
        cpuMillicoreSeconds: 1000,
        memoryMiBSeconds: 2048,
      },
      cost: 139,
      canonRecord: true as const,
    };
    await store.transition({
      sessionId: 's1',
      from: ['requested'],
      to: 'terminated',
      action: 't',
      actor: 'u1',
      at: new Date(),
      usage,
    });
    assert.equal((await store.getUsage('s1'))?.cost, 139);
    // A second usage insert violates the primary key; the transition with it must roll back whole.
    await assert.rejects(
      store.transition({
        sessionId: 's1',
        from: ['terminated'],
        to: 'failed',
        action: 'x',
        actor: 'u1',
        at: new Date(),
        usage,
      }),
    );
    assert.equal((await store.getSession('s1'))?.session.state, 'terminated');
  });
});
