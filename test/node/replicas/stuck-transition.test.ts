// A replica killed (kill -9) in the middle of a pause leaves the session `pausing` and its Redis lock held for
// the lock's ttl. The replica restarting on its data directory finds the lock still held at its start-up
// reconcile and cannot settle the session then; the periodic pass of a live replica settles it once the lock
// has expired. Two real adapter processes (then a third, the restart), real PostgreSQL, Redis and desktop.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Session } from '../../../protocol/session.ts';
import { LocalIssuer } from '../../../backend-adapter/auth/local-issuer.ts';
import { PostgresCanonStore } from '../../../backend-adapter/canon/postgres-canon-store.ts';
import { processState } from '../../../backend-adapter/runtime/local/process-state.ts';
import { createTestDatabase, type TestDatabase } from '../canon/postgres-fixture.ts';
import { REDIS_TEST_URL, redisForTest, uniquePrefix } from '../../support/redis-fixture.ts';
import { api, crashReplica, startReplica, stopReplica, type Replica } from '../../support/replica-process.ts';

// Short, so the test waits seconds, not minutes: a launch must still fit in it on a loaded 2-core machine.
const TRANSITION_TIMEOUT_MS = 6000;
const LOCK_TTL_MS = 2 * TRANSITION_TIMEOUT_MS; // what start-adapter gives the Redis locks
const CHECK_INTERVAL_MS = 250;

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

describe('a session left pausing by a crashed replica whose lock outlives it', () => {
  let db: TestDatabase | undefined;
  let canon: PostgresCanonStore | undefined;
  let redis: Awaited<ReturnType<typeof redisForTest>> | undefined;
  let dir: string;
  let prefix: string;
  const replicas: Replica[] = [];
  let frozenAgent: number | undefined;

  const env = (name: string): NodeJS.ProcessEnv => ({
    DEV_MODE: '1',
    DATA_DIR: join(dir, name),
    AUTH_KEY_FILE: join(dir, 'issuer-key.json'),
    CANON_DATABASE_URL: db?.url,
    REDIS_URL: REDIS_TEST_URL,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    TRANSITION_TIMEOUT_MS: String(TRANSITION_TIMEOUT_MS),
    TIMEOUT_CHECK_INTERVAL_MS: String(CHECK_INTERVAL_MS),
  });
  const start = async (name: string, dataDir: string): Promise<Replica> => {
    const replica = await startReplica(name, env(dataDir));
    replicas.push(replica);
    return replica;
  };
  const session = async (id: string) => (await canon?.getSession(id)) ?? assert.fail(`no session ${id}`);

  before(async () => {
    db = await createTestDatabase();
    prefix = uniquePrefix('stuck');
    redis = await redisForTest(prefix);
    dir = await mkdtemp(join(tmpdir(), 'vsc-stuck-'));
    await LocalIssuer.open(join(dir, 'issuer-key.json')); // one issuer key for every replica
    canon = await PostgresCanonStore.open(db.url);
  });

  after(async () => {
    if (frozenAgent) signal(frozenAgent, 'SIGCONT');
    for (const row of (await canon?.listUnfinished().catch(() => [])) ?? []) {
      if (row.runtime?.kind !== 'local') continue;
      signal(-row.runtime.pgid, 'SIGKILL');
      if (row.runtime.agentPid) signal(-row.runtime.agentPid, 'SIGKILL');
    }
    await canon?.close();
    await Promise.all(replicas.map((r) => stopReplica(r)));
    await redis?.cleanup();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ends paused, with its desktop frozen, once the dead replica’s lock has expired', async () => {
    const [a, b] = await Promise.all([start('replica A', 'a'), start('replica B', 'b')]);
    const login = await api(a, '/api/v1/dev/login', {
      method: 'POST',
      body: { userId: 'gus', tenantId: 'tenant-g' },
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const token = (login.body as { token: string }).token;
    const created = await api(a, '/api/v1/sessions', { method: 'POST', token, body: { tier: 'basic' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = (created.body as Session).sessionId;
    const handle = (await session(id)).runtime;
    assert.ok(handle?.kind === 'local' && handle.agentPid, 'a local desktop with its agent');

    // Freeze the desktop's agent: A records "pausing", takes the lock and waits on the agent. Then kill -9 A.
    frozenAgent = handle.agentPid;
    signal(frozenAgent, 'SIGSTOP');
    const pause = api(a, `/api/v1/sessions/${id}/pause`, { method: 'POST', token }).catch(() => undefined);
    const deadline = Date.now() + 5000;
    while ((await session(id)).session.state !== 'pausing') {
      assert.ok(Date.now() < deadline, 'the pause was never recorded');
      await sleep(20);
    }
    await crashReplica(a);
    await pause;
    signal(frozenAgent, 'SIGCONT');
    frozenAgent = undefined;
    const lockKey = `${prefix}lock:session:${id}`;
    assert.ok(((await redis?.redis.pttl(lockKey)) ?? 0) > 0, 'the dead replica’s lock is still held');
    const pausingSince = Date.parse((await session(id)).session.canonTimestamp);

    // A restarts on its data directory: its start-up reconcile finds the lock held and must leave the session.
    const restarted = await start('replica A (restarted)', 'a');
    const ttlLeft = (await redis?.redis.pttl(lockKey)) ?? -2;
    assert.ok(ttlLeft > 0, `the lock expired before the restart finished; raise TRANSITION_TIMEOUT_MS`);
    assert.equal((await session(id)).session.state, 'pausing', 'start-up reconcile could not act');

    // The periodic pass (on A or B, whichever gets the lock) settles it once transition + ttl have passed.
    const settleBy = pausingSince + TRANSITION_TIMEOUT_MS + LOCK_TTL_MS + 10 * CHECK_INTERVAL_MS + 15_000;
    while ((await session(id)).session.state === 'pausing') {
      assert.ok(Date.now() < settleBy, 'the session stayed pausing');
      await sleep(100);
    }
    const row = await session(id);
    assert.equal(row.session.state, 'paused');
    const settled = (await canon?.listRecords(id))?.filter((r) => r.entity === 'session').at(-1);
    assert.equal(settled?.action, 'reconcile.paused');
    assert.equal(settled?.actor, 'system:reconcile');
    assert.ok(
      Date.parse(settled?.canonTimestamp ?? '') >= pausingSince + TRANSITION_TIMEOUT_MS + LOCK_TTL_MS,
      'not before a transition plus the lock’s ttl',
    );
    assert.equal(await processState(handle.pid), 'T', 'the desktop is really frozen');
    assert.equal(await redis?.redis.exists(lockKey), 0, 'the lock was released');

    // Whole again: B resumes it, the restarted A ends it, with one usage record.
    const resumed = await api(b, `/api/v1/sessions/${id}/resume`, { method: 'POST', token });
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
    assert.equal((resumed.body as Session).state, 'active');
    const ended = await api(restarted, `/api/v1/sessions/${id}`, { method: 'DELETE', token });
    assert.equal((ended.body as Session).state, 'terminated', JSON.stringify(ended.body));
    assert.equal((await canon?.listRecords(id))?.filter((r) => r.entity === 'usage').length, 1);
  });
});
