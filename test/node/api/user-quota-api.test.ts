import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Session } from '../../../protocol/session.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';

type ErrorBody = { error: { code: string; message: string; details?: unknown } };

/** What a refused launch must not have left: sessions, Canon records, allocations, desktops. */
async function footprint(t: TestAdapter, userId: string) {
  const owner = { userId, tenantId: 'tenant-a' };
  const sessions = await t.adapter.canon.listSessions(owner);
  const records = (
    await Promise.all(sessions.map((s) => t.adapter.canon.listRecords(s.session.sessionId)))
  ).flat().length;
  const desktops = await readdir(join(t.dataDir, 'sessions')).catch(() => []);
  return {
    sessions: sessions.length,
    records,
    allocations: (await t.adapter.canon.listAllocations(owner)).length,
    desktops: desktops.length,
  };
}

describe('per-user CPU limit at Genesis (real adapter, real desktops)', () => {
  let t: TestAdapter;
  let alice: string;
  let bob: string;
  before(async () => {
    t = await startTestAdapter({ MAX_USER_CPU_MILLICORES: '1500' }); // one basic (1 CPU) per user
    alice = await t.login('alice');
    bob = await t.login('bob');
  });
  after(() => t.close());

  it('refuses a launch past the user’s CPU with 403 QUOTA_EXCEEDED, writing and starting nothing', async () => {
    const launch = (token: string) =>
      t.api('/api/v1/sessions', { method: 'POST', token, body: { tier: 'basic' } });
    const first = await launch(alice);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const before = await footprint(t, 'alice');

    const refused = await launch(alice);
    assert.equal(refused.status, 403);
    const error = (refused.body as ErrorBody).error;
    assert.equal(error.code, 'QUOTA_EXCEEDED');
    assert.deepEqual(error.details, { scope: 'user-cpu', limit: 1500, current: 1000 });
    assert.equal(error.message, 'Quota reached: user-cpu (1000 of 1500).');
    assert.deepEqual(await footprint(t, 'alice'), before);

    // The limit is the user's own: another user of the same tenant still launches.
    const other = await launch(bob);
    assert.equal(other.status, 201, JSON.stringify(other.body));

    // Ending the first session gives its CPU back.
    await t.api(`/api/v1/sessions/${(first.body as Session).sessionId}`, { method: 'DELETE', token: alice });
    const again = await launch(alice);
    assert.equal(again.status, 201, JSON.stringify(again.body));
    for (const [token, res] of [
      [bob, other],
      [alice, again],
    ] as const) {
      await t.api(`/api/v1/sessions/${(res.body as Session).sessionId}`, { method: 'DELETE', token });
    }
  });
});

describe('per-user memory limit at Genesis (real adapter)', () => {
  it('refuses a tier larger than the user’s memory with 403 QUOTA_EXCEEDED, writing nothing', async () => {
    const t = await startTestAdapter({ MAX_USER_MEMORY_MIB: '1024' }); // less than basic's 2 GiB
    try {
      const alice = await t.login('alice');
      const res = await t.api('/api/v1/sessions', { method: 'POST', token: alice, body: { tier: 'basic' } });
      assert.equal(res.status, 403);
      assert.deepEqual((res.body as ErrorBody).error.details, {
        scope: 'user-memory',
        limit: 1024,
        current: 0,
      });
      assert.deepEqual(await footprint(t, 'alice'), { sessions: 0, records: 0, allocations: 0, desktops: 0 });
    } finally {
      await t.close();
    }
  });
});
