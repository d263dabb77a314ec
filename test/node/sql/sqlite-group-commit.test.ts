import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import Database from 'better-sqlite3';
import {
  SqliteGroupCommit,
  type Acknowledge,
  type GroupCommitDurability,
} from '../../../backend-adapter/sql/sqlite-group-commit.ts';
import {
  openSqliteConnection,
  type SqliteConnection,
} from '../../../backend-adapter/sql/sqlite-connection.ts';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { SqliteSqlDb, run } from '../../../backend-adapter/sql/sql-db.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vsc-group-commit-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A connection to a fresh file with `items (id TEXT PRIMARY KEY, owner TEXT REFERENCES owners DEFERRABLE …)`. */
function fresh(name: string): SqliteConnection {
  const connection = openSqliteConnection(join(dir, `${name}.sqlite`));
  connection.db.exec(`
    CREATE TABLE owners (id TEXT PRIMARY KEY);
    CREATE TABLE items (id TEXT PRIMARY KEY,
      owner TEXT REFERENCES owners (id) DEFERRABLE INITIALLY DEFERRED);
    INSERT INTO owners (id) VALUES ('alice');`);
  return connection;
}

const insert =
  (c: SqliteConnection, id: string, owner: string | null = null) =>
  () =>
    c.db.prepare('INSERT INTO items (id, owner) VALUES (?, ?)').run(id, owner).changes;

/** What another connection (another process, after a crash) reads from the file. */
function storedIds(name: string): string[] {
  const reader = new Database(join(dir, `${name}.sqlite`), { readonly: true });
  try {
    return (reader.prepare('SELECT id FROM items ORDER BY id').all() as Array<{ id: string }>).map(
      (r) => r.id,
    );
  } finally {
    reader.close();
  }
}

/** The error a failed fdatasync gives (a disk I/O error). */
const eio = (): Error => Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });

describe('SQLite group commit', () => {
  it('commits the writes asked for in one turn together, each acknowledged only once it is on disk', async () => {
    const c = fresh('together');
    const before = { ...c.commits.committed };
    const pending = ['a', 'b', 'c', 'd'].map((id) => c.commits.run(insert(c, id)));
    // Not acknowledged, and nothing another connection can see, before the batch commits.
    assert.deepEqual(storedIds('together'), []);
    assert.deepEqual(await Promise.all(pending), [1, 1, 1, 1]);
    assert.deepEqual(storedIds('together'), ['a', 'b', 'c', 'd']);
    assert.deepEqual(c.commits.committed, {
      batches: before.batches + 1,
      jobs: before.jobs + 4,
      syncs: before.syncs + 1,
    });
    await c.release();
  });

  it('rolls back and refuses only the job that throws; the others of its batch commit', async () => {
    const c = fresh('one-throws');
    const results = await Promise.allSettled([
      c.commits.run(insert(c, 'a')),
      c.commits.run(() => {
        insert(c, 'half-done')();
        throw new Error('refused halfway');
      }),
      c.commits.run(insert(c, 'a')), // duplicate key: SQLITE_CONSTRAINT_PRIMARYKEY
      c.commits.run(insert(c, 'b')),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
    );
    assert.match(String((results[1] as PromiseRejectedResult).reason), /refused halfway/);
    assert.equal((results[2] as PromiseRejectedResult).reason.code, 'SQLITE_CONSTRAINT_PRIMARYKEY');
    assert.deepEqual(storedIds('one-throws'), ['a', 'b']);
    await c.release();
  });

  it('when one job fails the COMMIT itself, runs the others again alone and refuses only that one', async () => {
    const c = fresh('commit-fails');
    // A deferred foreign key is checked at COMMIT: the bad row fails the whole batch's COMMIT.
    const results = await Promise.allSettled([
      c.commits.run(insert(c, 'good-1', 'alice')),
      c.commits.run(insert(c, 'bad', 'nobody')),
      c.commits.run(insert(c, 'good-2', 'alice')),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal((results[1] as PromiseRejectedResult).reason.code, 'SQLITE_CONSTRAINT_FOREIGNKEY');
    assert.deepEqual(storedIds('commit-fails'), ['good-1', 'good-2']);
    assert.equal(c.db.inTransaction, false);
    await c.release();
  });

  it('when a job ends the whole transaction, runs the batch’s other jobs again and loses none', async () => {
    const c = fresh('transaction-lost');
    let firstRuns = 0;
    const results = await Promise.allSettled([
      c.commits.run(() => {
        firstRuns++;
        return insert(c, 'a')();
      }),
      c.commits.run(() => {
        // As SQLite does itself on some I/O errors: the transaction is gone, with 'a' in it.
        c.db.prepare('ROLLBACK').run();
        throw new Error('the disk went away');
      }),
      c.commits.run(insert(c, 'b')),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal(firstRuns, 2, "'a' was written again after its first write was rolled back");
    assert.deepEqual(storedIds('transaction-lost'), ['a', 'b']);
    await c.release();
  });

  it('commits what is queued before the last user closes the connection, then refuses new work', async () => {
    const c = fresh('close');
    const queued = c.commits.run(insert(c, 'queued'));
    await c.release();
    assert.equal(await queued, 1);
    assert.deepEqual(storedIds('close'), ['queued']);
    await assert.rejects(c.commits.run(insert(c, 'late')), /closed/);
  });
});

/** A durability whose syncs the test finishes (or fails) one by one. */
function heldSyncs(): GroupCommitDurability & {
  asked: Array<{ finish: () => void; fail: (error: Error) => void }>;
  commits: number;
} {
  const asked: Array<{ finish: () => void; fail: (error: Error) => void }> = [];
  const durability = {
    asked,
    commits: 0,
    sync: () =>
      new Promise<void>((finish, fail) => {
        asked.push({ finish, fail });
      }),
    afterCommit: () => {
      durability.commits++;
    },
  };
  return durability;
}

/** A group commit on a fresh file of its own connection (no shared one), with `durability`. */
function withDurability(name: string, durability: GroupCommitDurability, loopBusy = () => false) {
  const db = new Database(join(dir, `${name}.sqlite`));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE items (id TEXT PRIMARY KEY, owner TEXT)');
  const commits = new SqliteGroupCommit(db, durability, loopBusy);
  const write = (id: string, acknowledge?: Acknowledge) =>
    commits.run(() => db.prepare('INSERT INTO items (id) VALUES (?)').run(id).changes, acknowledge);
  return { db, commits, write };
}

/** Lets the event loop turn a few times (a batch is flushed on the next turn). */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await nextTurn();
}

/** Whether `promise` has settled, without waiting for it. */
function tracked<T>(promise: Promise<T>) {
  const state = { settled: false, value: undefined as T | undefined, error: undefined as unknown };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

describe('SQLite group commit with the flush off the event loop', () => {
  it('acknowledges a batch only once its flush has finished; two flushes run at once, the next batch gathers', async () => {
    const syncs = heldSyncs();
    const { db, commits, write } = withDurability('held-flush', syncs);
    const a = tracked(write('a'));
    await turns();
    // Committed (another connection reads it) but not acknowledged: its flush has not finished.
    assert.deepEqual(storedIds('held-flush'), ['a']);
    assert.equal(syncs.asked.length, 1);
    assert.equal(a.settled, false);
    // b commits beside the running flush, with a flush of its own: it does not wait for a's to end first.
    const b = tracked(write('b'));
    await turns();
    assert.deepEqual(storedIds('held-flush'), ['a', 'b']);
    assert.equal(syncs.asked.length, 2);
    // Two flushes run: c and d gather for one COMMIT once either ends.
    const c = tracked(write('c'));
    const d = tracked(write('d'));
    await turns();
    assert.deepEqual(storedIds('held-flush'), ['a', 'b'], 'c and d wait while two flushes run');
    syncs.asked[0]?.finish();
    await turns();
    assert.deepEqual({ settled: a.settled, value: a.value }, { settled: true, value: 1 });
    assert.equal(b.settled, false, 'b waits for its own flush');
    assert.deepEqual(storedIds('held-flush'), ['a', 'b', 'c', 'd']);
    assert.deepEqual(commits.committed, { batches: 3, jobs: 4, syncs: 1 });
    assert.equal(syncs.commits, 3);
    assert.equal(syncs.asked.length, 3);
    syncs.asked[2]?.finish();
    await turns();
    assert.equal(c.settled || d.settled, false, 'acknowledged in commit order: after b');
    syncs.asked[1]?.finish();
    await turns();
    assert.deepEqual([b.value, c.value, d.value], [1, 1, 1]);
    assert.equal(commits.committed.syncs, 3);
    db.close();
  });

  it('while the event loop is busy, gathers the next batch behind a running flush instead of adding one', async () => {
    const syncs = heldSyncs();
    let busy = true;
    const { db, commits, write } = withDurability('busy-loop', syncs, () => busy);
    const a = tracked(write('a'));
    await turns();
    const b = tracked(write('b'));
    const c = tracked(write('c'));
    await turns();
    // CPU is what runs short: no second, smaller COMMIT beside the running flush.
    assert.deepEqual(storedIds('busy-loop'), ['a']);
    assert.equal(syncs.asked.length, 1);
    syncs.asked[0]?.finish();
    await turns();
    assert.equal(a.value, 1);
    assert.deepEqual(storedIds('busy-loop'), ['a', 'b', 'c'], 'b and c in one COMMIT once it ended');
    assert.equal(commits.committed.batches, 2);
    // Idle again: the next batch goes beside the running flush.
    busy = false;
    const d = tracked(write('d'));
    await turns();
    assert.deepEqual(storedIds('busy-loop'), ['a', 'b', 'c', 'd']);
    assert.equal(syncs.asked.length, 3);
    for (const s of syncs.asked.slice(1)) s.finish();
    await turns();
    assert.deepEqual([b.value, c.value, d.value], [1, 1, 1]);
    db.close();
  });

  it('refuses a later batch whose flush succeeded when an earlier flush fails', async () => {
    const syncs = heldSyncs();
    const { db, commits, write } = withDurability('earlier-fails', syncs);
    const a = write('a');
    await turns();
    const b = write('b');
    await turns();
    assert.equal(syncs.asked.length, 2);
    // The later flush reports success first: the kernel may have reported the earlier pages' error to the
    // other call, so that success vouches for nothing.
    syncs.asked[1]?.finish();
    await turns();
    syncs.asked[0]?.fail(eio());
    await assert.rejects(a, { code: 'SQLITE_DURABILITY_LOST' });
    await assert.rejects(b, { code: 'SQLITE_DURABILITY_LOST' });
    await assert.rejects(write('later'), { code: 'SQLITE_DURABILITY_LOST' });
    assert.equal(commits.committed.syncs, 0);
    db.close();
  });

  it('settles an on-commit write at its COMMIT; the durable write after it waits for a flush that covers both', async () => {
    const syncs = heldSyncs();
    const { db, write } = withDurability('on-commit', syncs);
    assert.equal(await write('1-hold', 'on-commit'), 1, 'answered with no flush finished');
    assert.deepEqual(storedIds('on-commit'), ['1-hold']);
    const genesis = tracked(write('2-genesis'));
    await turns();
    assert.deepEqual(storedIds('on-commit'), ['1-hold', '2-genesis']);
    // The hold asked for no flush: the genesis's, started after both committed, covers both.
    assert.equal(syncs.asked.length, 1);
    await turns();
    assert.equal(genesis.settled, false, 'its flush has not ended');
    syncs.asked[0]?.finish();
    await turns();
    assert.equal(genesis.value, 1);
    db.close();
  });

  it('refuses the writes of a failed flush, and every write after it, with SQLITE_DURABILITY_LOST', async () => {
    const syncs = heldSyncs();
    const { db, commits, write } = withDurability('flush-fails', syncs);
    const a = write('a');
    await turns();
    const queued = write('queued');
    syncs.asked[0]?.fail(eio());
    await assert.rejects(a, (error: { code?: string; message?: string }) => {
      assert.equal(error.code, 'SQLITE_DURABILITY_LOST');
      assert.match(String(error.message), /could not make a write durable: Error: EIO/);
      return true;
    });
    await assert.rejects(queued, { code: 'SQLITE_DURABILITY_LOST' });
    await assert.rejects(write('later'), { code: 'SQLITE_DURABILITY_LOST' });
    assert.equal(commits.failure?.code, 'SQLITE_DURABILITY_LOST');
    // Nothing was written after the failure; 'a' is there but was never acknowledged.
    assert.deepEqual(storedIds('flush-fails'), ['a']);
    assert.equal(syncs.asked.length, 1);
    db.close();
  });

  it('keeps serving while a lone write waits for a slow flush of a real connection', async () => {
    // A disk whose fdatasync takes 300 ms (a busy network volume): only the write waits for it, not the loop.
    let flushes = 0;
    let flushed = false;
    const file = join(dir, 'slow-disk.sqlite');
    const connection = openSqliteConnection(file, {
      walFlush: () => ({
        sync: () => {
          flushes++;
          return new Promise<void>((done) =>
            setTimeout(() => {
              flushed = true;
              done();
            }, 300),
          );
        },
        close: () => undefined,
      }),
    });
    const canon = new SqliteCanonStore(file);
    try {
      const owner = { tenantId: 't1', userId: 'u1' };
      const started = performance.now();
      const timerLate: number[] = [];
      const ticking = setInterval(() => timerLate.push(performance.now()), 5);
      await canon.putPreferences(owner, { theme: 'dark' }, new Date());
      clearInterval(ticking);
      assert.equal(flushed, true, 'acknowledged only once its flush finished');
      assert.equal(flushes, 1);
      // The loop kept turning through the flush: a 5 ms timer fired all along, not once at the end.
      assert.ok(
        timerLate.length >= 20,
        `timer fired ${timerLate.length} times in ${performance.now() - started} ms`,
      );
      assert.ok(
        (timerLate[0] ?? Infinity) - started < 150,
        'the first tick came long before the flush ended',
      );
    } finally {
      await canon.close();
      await connection.release();
    }
  });

  it('holds new batches back while paused (for a checkpoint to complete) and commits them on resume', async () => {
    const syncs = heldSyncs();
    const { db, commits, write } = withDurability('paused', syncs);
    commits.pause();
    const x = tracked(write('x'));
    await turns();
    assert.deepEqual(storedIds('paused'), []);
    assert.equal(syncs.asked.length, 0);
    commits.resume();
    await turns();
    assert.deepEqual(storedIds('paused'), ['x']);
    syncs.asked[0]?.finish();
    await turns();
    assert.equal(x.value, 1);
    db.close();
  });
});

describe('one SQLite connection per file', () => {
  it('Canon Memory and the billing tables in one file share one connection and one COMMIT per turn', async () => {
    const file = join(dir, 'canon.sqlite');
    const canon = new SqliteCanonStore(file);
    const billing = new SqliteSqlDb(file);
    await billing.transaction(function* () {
      yield* run('CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY)');
    });
    const probe = openSqliteConnection(file);
    const before = probe.commits.committed.batches;
    const owner = { tenantId: 't1', userId: 'u1' };
    const [pseudonym] = await Promise.all([
      canon.pseudonymOf(owner),
      billing.transaction(function* () {
        yield* run('INSERT INTO notes (id) VALUES ($1)', ['n1']);
      }),
    ]);
    assert.equal(probe.commits.committed.batches, before + 1);
    assert.equal(await canon.pseudonymOf(owner), pseudonym);
    // Closing one store leaves the other working on the shared connection.
    await canon.close();
    await assert.rejects(canon.pseudonymOf(owner), /Canon Memory is closed/);
    assert.deepEqual(await billing.query('SELECT id FROM notes'), [{ id: 'n1' }]);
    await billing.close();
    assert.equal(probe.db.open, true, 'still held by the probe');
    await probe.release();
    assert.equal(probe.db.open, false, 'the last user closed it');
  });

  it('reads integers as numbers for Canon Memory and as bigints for the SQL seam on the same connection', async () => {
    const file = join(dir, 'integers.sqlite');
    const sql = new SqliteSqlDb(file);
    const canon = new SqliteCanonStore(file);
    const [row] = await sql.query('SELECT 9007199254740993 AS big');
    assert.equal(row?.big, 9007199254740993n);
    assert.equal(canon.schemaVersion() > 0, true);
    assert.equal(typeof canon.schemaVersion(), 'number');
    await canon.close();
    await sql.close();
  });
});
