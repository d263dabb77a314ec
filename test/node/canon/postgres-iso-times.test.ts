import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pgTimestampToIso } from '../../../backend-adapter/canon/postgres-iso-times.ts';

describe('PostgreSQL timestamps read as ISO-8601', () => {
  it('gives exactly what a Date would give, for every fraction PostgreSQL prints', () => {
    for (const [text, iso] of [
      ['2026-11-26 17:18:56.123+00', '2026-11-26T17:18:56.123Z'],
      ['2026-11-26 17:18:56+00', '2026-11-26T17:18:56.000Z'],
      ['2026-11-26 17:18:56.1+00', '2026-11-26T17:18:56.100Z'],
      ['2026-11-26 17:18:56.12+00', '2026-11-26T17:18:56.120Z'],
      // Microseconds are cut, as a Date cuts them.
      ['2026-11-26 17:18:56.123999+00', '2026-11-26T17:18:56.123Z'],
    ]) {
      assert.equal(pgTimestampToIso(text as string), iso, text);
    }
  });

  it('reads a session in another time zone the long way, to the same instant', () => {
    assert.equal(pgTimestampToIso('2026-11-26 19:18:56.5+02'), '2026-11-26T17:18:56.500Z');
    assert.equal(pgTimestampToIso('2026-11-26 12:48:56.5-04:30'), '2026-11-26T17:18:56.500Z');
  });
});
