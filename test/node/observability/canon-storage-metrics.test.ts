// The SQLite file's write path as /metrics and /readyz show it, including the two ways it degrades, which a
// healthy disk never produces: a flush that fails, and a checkpoint worker that dies.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { AdapterMetrics } from '../../../backend-adapter/observability/prometheus-metrics.ts';
import {
  openSqliteConnection,
  type SqliteConnectionParts,
} from '../../../backend-adapter/sql/sqlite-connection.ts';
import { SqliteWalSync } from '../../../backend-adapter/sql/sqlite-wal-sync.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vsc-storage-metrics-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const owner = { tenantId: 'tenant-a', userId: 'ann' };

/** A store on a file whose connection the test opened first with `parts` (the store then shares it). */
function storeWith(name: string, parts: SqliteConnectionParts) {
  const file = join(dir, `${name}.sqlite`);
  const connection = openSqliteConnection(file, parts);
  const store = new SqliteCanonStore(file);
  const metrics = new AdapterMetrics(store);
  const value = async (metric: string): Promise<number> => {
    const found = (await metrics.registry.getSingleMetric(metric)?.get())?.values[0]?.value;
    if (found === undefined) throw new Error(`no ${metric} in /metrics`);
    return found;
  };
  return {
    store,
    value,
    connection,
    async close() {
      await store.close();
      await connection.release();
    },
  };
}

/** The real flush, until `fail` is set: then every flush fails as an fdatasync reporting EIO would. */
class FailingWalFlush extends SqliteWalSync {
  fail = false;
  override sync(): Promise<void> {
    return this.fail ? Promise.reject(this.eio()) : super.sync();
  }
  private eio(): Error {
    return Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  }
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let waited = 0; !(await condition()); waited += 10) {
    if (waited > 10_000) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

describe('Canon Memory storage metrics (SQLite)', () => {
  it('counts writes, batches, flushes and checkpoints, with nothing degraded', async () => {
    const t = storeWith('healthy', {});
    try {
      for (let i = 0; i < 5; i++) await t.store.putPreferences(owner, { theme: `t${i}` }, new Date());
      assert.ok((await t.value('v_supercore_canon_writes_total')) >= 5);
      const batches = await t.value('v_supercore_canon_write_batches_total');
      assert.ok(batches >= 1 && batches <= (await t.value('v_supercore_canon_writes_total')));
      assert.ok((await t.value('v_supercore_canon_wal_flushes_total')) >= 1);
      await until(
        async () => (await t.value('v_supercore_canon_checkpoints_total')) >= 1,
        'the worker has checkpointed',
      );
      assert.ok((await t.value('v_supercore_canon_wal_frames')) > 0);
      assert.equal(await t.value('v_supercore_canon_durability_lost'), 0);
      assert.equal(await t.value('v_supercore_canon_checkpoint_fallback'), 0);
    } finally {
      await t.close();
    }
  });

  it('after a failed flush: not ready, every later write refused, what was acknowledged still there', async () => {
    let flush: FailingWalFlush | undefined;
    const t = storeWith('lost-flush', { walFlush: (wal) => (flush = new FailingWalFlush(wal)) });
    try {
      await t.store.putPreferences(owner, { theme: 'kept' }, new Date());
      assert.equal(await t.store.ping(), true);
      assert.ok(flush);
      flush.fail = true;
      const other = { tenantId: 'tenant-a', userId: 'bob' };
      await assert.rejects(t.store.putPreferences(other, { theme: 'unflushed' }, new Date()), {
        code: 'SQLITE_DURABILITY_LOST',
      });
      flush.fail = false; // a flush that would succeed again changes nothing: the kernel may have dropped pages
      await assert.rejects(t.store.putPreferences(owner, { theme: 'later' }, new Date()), {
        code: 'SQLITE_DURABILITY_LOST',
      });
      assert.equal(await t.store.ping(), false, 'the replica reports itself not ready (/readyz 503)');
      assert.equal(await t.value('v_supercore_canon_durability_lost'), 1);
      // The acknowledged write is intact, and reads still answer.
      assert.equal((await t.store.getPreferences(owner))?.preferences.theme, 'kept');
    } finally {
      await t.close();
    }
  });

  it('when the checkpoint worker dies: SQLite checkpoints on the writer again, and the gauge says so', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const t = storeWith('fallback', {
      checkpointWorker: () => new Worker('process.exit(3)', { eval: true }),
    });
    try {
      await t.store.putPreferences(owner, { theme: 'a' }, new Date());
      await until(
        async () => (await t.value('v_supercore_canon_checkpoint_fallback')) === 1,
        'the fallback is reported',
      );
      assert.equal(t.connection.db.pragma('wal_autocheckpoint', { simple: true }), 1000);
      // Writes go on, durable as before.
      await t.store.putPreferences(owner, { theme: 'b' }, new Date());
      assert.equal((await t.store.getPreferences(owner))?.preferences.theme, 'b');
      assert.equal(await t.value('v_supercore_canon_durability_lost'), 0);
      assert.ok(warnings.some((m) => /checkpoints are back on the writer/.test(m)));
    } finally {
      process.off('warning', onWarning);
      await t.close();
    }
  });
});
