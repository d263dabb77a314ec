// Row ids that indexes receive in order: each one sorts after every id made before it, as text (SQLite) and as
// uuid (PostgreSQL compares the bytes, which is the same order for the lowercase hex form).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { timeOrderedId } from '../../../backend-adapter/time-ordered-id.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('time-ordered ids', () => {
  it('are unique UUIDs version 7, each sorting after every id of an earlier millisecond', async () => {
    const ids: string[] = [];
    const until = Date.now() + 20;
    while (Date.now() < until) {
      for (let i = 0; i < 50; i++) ids.push(timeOrderedId());
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const id of ids) assert.match(id, UUID_V7);
    assert.equal(new Set(ids).size, ids.length);
    const millisecond = (id: string) => id.slice(0, 13);
    const sorted = [...ids].sort();
    assert.deepEqual(sorted.map(millisecond), ids.map(millisecond));
    assert.ok(new Set(ids.map(millisecond)).size > 5, 'made over several milliseconds');
  });

  it('start with the time they were made, to the millisecond', () => {
    const before = Date.now();
    const id = timeOrderedId();
    const after = Date.now();
    const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    assert.ok(ms >= before && ms <= after, `${ms} within [${before}, ${after}]`);
  });
});
