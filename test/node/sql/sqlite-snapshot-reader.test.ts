import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import {
  SqliteSnapshotReader,
  type PagedQuery,
} from '../../../backend-adapter/sql/sqlite-snapshot-reader.ts';

type Item = [number, string];
const ITEMS: PagedQuery<Item> = {
  first: 'SELECT n, label FROM items ORDER BY n LIMIT ?',
  after: 'SELECT n, label FROM items WHERE n > ? ORDER BY n LIMIT ?',
  key: (row) => [row[0]],
};
const asText = (row: Item) => `${row[0]}:${row[1]}`;

describe('SqliteSnapshotReader', () => {
  let dir: string;
  let writer: Database.Database;
  let reader: SqliteSnapshotReader;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-snapshot-'));
    const file = join(dir, 'items.sqlite');
    writer = new Database(file);
    writer.pragma('journal_mode = WAL');
    writer.exec('CREATE TABLE items (n INTEGER PRIMARY KEY, label TEXT NOT NULL)');
    const insert = writer.prepare('INSERT INTO items (n, label) VALUES (?, ?)');
    for (let n = 1; n <= 10; n++) insert.run(n * 10, `item ${n}`);
    reader = new SqliteSnapshotReader(file, 3);
  });
  afterEach(() => {
    reader.close();
    writer.close();
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads every row in key order, across pages whose size divides the rows or not', async () => {
    const all = await reader.read(ITEMS, asText);
    assert.deepEqual(
      all,
      Array.from({ length: 10 }, (_, i) => `${(i + 1) * 10}:item ${i + 1}`),
    );
    writer.exec('DELETE FROM items WHERE n > 90'); // 9 rows: three full pages, then an empty one
    assert.equal((await reader.read(ITEMS, asText)).length, 9);
    writer.exec('DELETE FROM items');
    assert.deepEqual(await reader.read(ITEMS, asText), []);
  });

  it('gives the event loop a turn between pages', async () => {
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const before = turns;
    await reader.read(ITEMS, asText); // 4 pages of 3
    counting = false;
    assert.ok(turns - before >= 3, `${turns - before} turns during the read`);
  });

  it('answers from one snapshot: writes committed while it pages are not in it', async () => {
    let wrote = false;
    const seen = await reader.read(ITEMS, (row) => {
      if (!wrote) {
        // After the first page was read: a row added ahead of the cursor, one removed, one changed.
        writer.exec(`INSERT INTO items (n, label) VALUES (55, 'late');
                     DELETE FROM items WHERE n = 80;
                     UPDATE items SET label = 'renamed' WHERE n = 90`);
        wrote = true;
      }
      return asText(row);
    });
    assert.equal(seen.length, 10);
    assert.ok(!seen.includes('55:late'));
    assert.ok(seen.includes('80:item 8'));
    assert.ok(seen.includes('90:item 9'));
    // The next read starts from what is committed now.
    const now = await reader.read(ITEMS, asText);
    assert.ok(now.includes('55:late') && now.includes('90:renamed') && !now.includes('80:item 8'));
  });

  it('lets concurrent reads take turns, and a failing one leaves the next unharmed', async () => {
    const failing = reader.read(ITEMS, (row) => {
      if (row[0] === 50) throw new Error('bad row');
      return asText(row);
    });
    const [a, b] = await Promise.allSettled([failing, reader.read(ITEMS, asText)]);
    assert.equal(a.status, 'rejected');
    assert.match(String(a.status === 'rejected' && a.reason), /bad row/);
    assert.equal(b.status === 'fulfilled' && b.value.length, 10);
    const other = await Promise.all([reader.read(ITEMS, asText), reader.read(ITEMS, asText)]);
    assert.deepEqual(other[0], other[1]);
  });
});
