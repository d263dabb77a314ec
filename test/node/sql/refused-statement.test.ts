// Which PostgreSQL errors refuse a statement for what it asked (so each part may be asked again alone) and
// which mean the server or the connection failed (every part would fail the same way).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRefusedStatement } from '../../../backend-adapter/sql/sql-db.ts';

describe('isRefusedStatement', () => {
  it('is true for constraint, data, trigger and transaction-conflict errors', () => {
    for (const code of ['23505', '23502', '22P02', 'P0001', '40001', '40P01', '42703']) {
      assert.equal(isRefusedStatement(Object.assign(new Error(code), { code })), true, code);
    }
  });

  it('is false for a failed server or connection, and for anything without a SQLSTATE', () => {
    for (const code of ['08006', '08003', '57P01', '57P03', '53300', '58030', 'XX000']) {
      assert.equal(isRefusedStatement(Object.assign(new Error(code), { code })), false, code);
    }
    for (const error of [
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('short'), { code: '2350' }),
      { code: 23505 },
      'refused',
      null,
      undefined,
    ]) {
      assert.equal(isRefusedStatement(error), false, String((error as { code?: unknown })?.code ?? error));
    }
  });
});
