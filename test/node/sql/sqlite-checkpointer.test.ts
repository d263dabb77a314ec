import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { SqliteCheckpointer } from '../../../backend-adapter/sql/sqlite-checkpointer.ts';
import { openSqliteConnection } from '../../../backend-adapter/sql/sqlite-connection.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vsc-checkpointer-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MiB = 1024 * 1024;

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 10_000) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

describe('SQLite WAL flushes and checkpoints off the event loop', () => {
  it('keeps the WAL bounded under writes that never pause, and loses nothing', async () => {
    const file = join(dir, 'busy.sqlite');
    const c = openSqliteConnection(file);
    // No fsync inside COMMIT and no checkpoint on the writer: both happen elsewhere.
    assert.equal(c.db.pragma('synchronous', { simple: true }), 1);
    assert.equal(c.db.pragma('wal_autocheckpoint', { simple: true }), 0);
    c.db.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
    const insert = c.db.prepare('INSERT INTO blobs (id, body) VALUES (?, ?)');
    const body = Buffer.alloc(8192, 7);
    const rows = 6000; // 48 MiB of rows: a WAL that never started again would be larger still
    let next = 0;
    // Ten writers back to back: the writer is never idle for long, as under load.
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < rows) {
          const id = next++;
          await c.commits.run(() => insert.run(id, body));
        }
      }),
    );
    assert.ok((c.checkpoints?.stats.cycles ?? 0) >= 1, 'the worker checkpointed');
    assert.equal(c.checkpoints?.failure, undefined);
    assert.equal(c.commits.committed.syncs > 0, true, 'acknowledged after flushes of the WAL');
    // The file keeps its longest length: how far the writers got while a checkpoint ran, which depends on the
    // machine's load (17.9 MB once in a full suite). Half of the 48 MiB written still shows it restarted.
    const walBytes = statSync(`${file}-wal`).size;
    assert.ok(walBytes < 24 * MiB, `the WAL started again from its beginning (${walBytes} bytes)`);
    const reader = new Database(file, { readonly: true });
    assert.deepEqual(reader.prepare('SELECT count(*) AS n FROM blobs').get(), { n: rows });
    reader.close();
    await c.release();
    // The last connection checkpointed everything and removed the WAL; the file is whole.
    assert.equal(existsSync(`${file}-wal`), false);
    const reopened = new Database(file, { readonly: true });
    assert.deepEqual(reopened.prepare('SELECT count(*) AS n FROM blobs').get(), { n: rows });
    assert.equal(reopened.pragma('integrity_check', { simple: true }), 'ok');
    reopened.close();
  });

  for (const [how, program] of [
    ['cannot start', 'process.exit(3)'],
    [
      'answers with an error',
      "require('node:worker_threads').parentPort.on('message', function () { this.postMessage({ error: 'disk I/O error' }); })",
    ],
  ] as const) {
    it(`switches SQLite's own checkpoints back on when the worker ${how}, and never leaves writes paused`, async () => {
      const file = join(dir, `fallback-${how.replace(/\s/g, '-')}.sqlite`);
      const db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('wal_autocheckpoint = 0');
      const writer = { paused: 0, resumed: 0, pause: () => writer.paused++, resume: () => writer.resumed++ };
      const warnings: string[] = [];
      const onWarning = (warning: Error) => warnings.push(warning.message);
      process.on('warning', onWarning);
      const checkpointer = new SqliteCheckpointer(
        file,
        writer,
        db,
        0,
        () => new Worker(program, { eval: true }),
      );
      try {
        checkpointer.committed();
        await until(() => checkpointer.failure !== undefined, 'the checkpointer gave up');
        assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000);
        assert.equal(writer.paused, writer.resumed, 'writes are not left paused');
        assert.match(
          checkpointer.failure?.message ?? '',
          how === 'cannot start' ? /exited \(3\)/ : /disk I\/O error/,
        );
        await until(() => warnings.length > 0, 'a warning was emitted');
        assert.match(warnings[0] ?? '', /checkpoints are back on the writer/);
        // Later commits ask nothing more of it.
        checkpointer.committed();
        await sleep(20);
        assert.equal(checkpointer.stats.cycles, 0);
      } finally {
        process.off('warning', onWarning);
        await checkpointer.close();
        db.close();
      }
    });
  }
});
