// Row ids that indexes receive in order: each one sorts after every id made before it, as text (SQLite) and as
// uuid (PostgreSQL compares the bytes, which is the same order for the lowercase hex form).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { timeOrderedId } from '../../../backend-adapter/time-ordered-id.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('time-ordered ids', () => {
  it('are UUIDs version 7, each sorting after the one made before it, even within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => timeOrderedId());
    for (const id of ids) assert.match(id, UUID_V7);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids);
  });

  it('start with the time they were made, to the millisecond', () => {
    const before = Date.now();
    const id = timeOrderedId();
    const after = Date.now();
    const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    assert.ok(ms >= before && ms <= after, `${ms} within [${before}, ${after}]`);
  });
});
