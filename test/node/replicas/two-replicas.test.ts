// Two real adapter processes sharing one PostgreSQL database and one Redis, as two orchestrator replicas
// behind a load balancer would: what one does, the other sees; they never both act on one session.
// PostgreSQL and Redis must be reachable (CI starts them); each test run uses its own database and key prefix.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../../protocol/handshake.ts';
import type { Session } from '../../../protocol/session.ts';
import { LocalIssuer } from '../../../backend-adapter/auth/local-issuer.ts';
import { PostgresCanonStore } from '../../../backend-adapter/canon/postgres-canon-store.ts';
import { createTestDatabase, type TestDatabase } from '../canon/postgres-fixture.ts';
import { REDIS_TEST_URL, redisForTest, uniquePrefix } from '../../support/redis-fixture.ts';
import { api, startReplica, stopReplica, type Replica } from '../../support/replica-process.ts';

interface ServerSentEvent {
  event: string;
  data: unknown;
}

/** A live `GET /api/v1/events` stream; `next(match)` waits for the first event matching. */
async function openEvents(replica: Replica, token: string) {
  const controller = new AbortController();
  const res = await fetch(`${replica.url}/api/v1/events`, {
    headers: { [HANDSHAKE_HEADER]: HANDSHAKE, authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  if (!res.body) throw new Error('no event stream body');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const events: ServerSentEvent[] = [];
  let buffer = '';
  let connected = false;
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.includes(': connected')) connected = true;
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) as unknown });
        }
      }
    } catch {
      // aborted
    }
  })();
  const deadline = Date.now() + 5000;
  while (!connected) {
    if (Date.now() > deadline) throw new Error('the event stream never said it was connected');
    await sleep(10);
  }
  return {
    events,
    async next(match: (e: ServerSentEvent) => boolean, timeoutMs = 10_000): Promise<ServerSentEvent> {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(match);
        if (found) return found;
        if (Date.now() > until) throw new Error(`no matching event; got ${JSON.stringify(events)}`);
        await sleep(10);
      }
    },
    async close() {
      controller.abort();
      await pump;
    },
  };
}

const changed =
  (sessionId: string, state: Session['state']) =>
  (e: ServerSentEvent): boolean => {
    const data = e.data as { session?: Session };
    return (
      e.event === 'session.changed' && data.session?.sessionId === sessionId && data.session.state === state
    );
  };

describe('two adapter replicas on one PostgreSQL and one Redis', () => {
  let db: TestDatabase | undefined;
  let dir: string;
  let redis: Awaited<ReturnType<typeof redisForTest>> | undefined;
  let a: Replica | undefined;
  let b: Replica | undefined;
  let token: string;
  let sessionId: string;

  const A = (): Replica => a ?? assert.fail('replica A is not running');
  const B = (): Replica => b ?? assert.fail('replica B is not running');

  before(async () => {
    db = await createTestDatabase();
    const prefix = uniquePrefix('replicas');
    redis = await redisForTest(prefix);
    dir = await mkdtemp(join(tmpdir(), 'vsc-replicas-'));
    // One issuer key for both, made before either starts (two first starts would each write their own).
    const keyFile = join(dir, 'issuer-key.json');
    await LocalIssuer.open(keyFile);
    const env = (name: string): NodeJS.ProcessEnv => ({
      DEV_MODE: '1',
      DATA_DIR: join(dir, name),
      AUTH_KEY_FILE: keyFile,
      CANON_DATABASE_URL: db?.url,
      REDIS_URL: REDIS_TEST_URL,
      REDIS_PREFIX: prefix,
      LOG_LEVEL: 'warn',
    });
    // Both at once: they also race to migrate the empty database, which the advisory lock serialises.
    [a, b] = await Promise.all([startReplica('replica A', env('a')), startReplica('replica B', env('b'))]);
    const login = await api(A(), '/api/v1/dev/login', {
      method: 'POST',
      body: { userId: 'alice', tenantId: 'tenant-a' },
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    token = (login.body as { token: string }).token;
  });

  after(async () => {
    // End every desktop either replica started, whatever state the test left it in.
    if (db) {
      const canon = await PostgresCanonStore.open(db.url).catch(() => undefined);
      for (const row of (await canon?.listUnfinished()) ?? []) {
        if (row.runtime?.kind !== 'local') continue;
        try {
          process.kill(-row.runtime.pgid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await canon?.close();
    }
    await Promise.all([stopReplica(a), stopReplica(b)]);
    await redis?.cleanup();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists on B a session created on A, with a token A issued, and B can pause it', async () => {
    const created = await api(A(), '/api/v1/sessions', { method: 'POST', token, body: { tier: 'basic' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const session = created.body as Session;
    assert.equal(session.state, 'active');
    sessionId = session.sessionId;

    const listed = await api(B(), '/api/v1/sessions', { token });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.deepEqual(
      (listed.body as { sessions: Session[] }).sessions.map((s) => [s.sessionId, s.state]),
      [[sessionId, 'active']],
    );

    const paused = await api(B(), `/api/v1/sessions/${sessionId}/pause`, { method: 'POST', token });
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal((paused.body as Session).state, 'paused');
    assert.equal(
      ((await api(A(), `/api/v1/sessions/${sessionId}`, { token })).body as Session).state,
      'paused',
    );
  });

  it('pushes a change made on B to a dashboard connected to A (through Redis)', async () => {
    const stream = await openEvents(A(), token);
    try {
      const resumed = await api(B(), `/api/v1/sessions/${sessionId}/resume`, { method: 'POST', token });
      assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
      const event = await stream.next(changed(sessionId, 'active'));
      assert.equal((event.data as { previousState: string }).previousState, 'resuming');
      await sleep(200); // a duplicate delivery would arrive by now
      assert.equal(stream.events.filter(changed(sessionId, 'active')).length, 1);
    } finally {
      await stream.close();
    }
  });

  it('answers simultaneous changes of one session on A and on B with exactly one 200 and one 409, every time', async () => {
    const codes: string[] = [];
    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      for (const action of ['pause', 'resume'] as const) {
        const [onA, onB] = await Promise.all([
          api(A(), `/api/v1/sessions/${sessionId}/${action}`, { method: 'POST', token }),
          api(B(), `/api/v1/sessions/${sessionId}/${action}`, { method: 'POST', token }),
        ]);
        assert.deepEqual(
          [onA.status, onB.status].sort(),
          [200, 409],
          `${action} — A: ${JSON.stringify(onA.body)} B: ${JSON.stringify(onB.body)}`,
        );
        codes.push(((onA.status === 409 ? onA : onB).body as { error: { code: string } }).error.code);
      }
    }
    // The loser either found the Redis lock taken (in flight) or, if it came later, the state already moved.
    for (const code of codes)
      assert.ok(['TRANSITION_IN_PROGRESS', 'ILLEGAL_TRANSITION'].includes(code), code);
    const canon = await PostgresCanonStore.open(db?.url ?? assert.fail('no database'));
    try {
      const records = await canon.listRecords(sessionId);
      // One pause from the first test plus one per round: never a double pause or resume.
      assert.equal(records.filter((r) => r.toState === 'pausing').length, 1 + rounds);
      assert.equal(records.filter((r) => r.toState === 'resuming').length, 1 + rounds);
      assert.equal((await canon.getSession(sessionId))?.session.state, 'active');
    } finally {
      await canon.close();
    }
    console.log(`# 409 codes: ${codes.join(', ')}`);
  });

  it('terminates on either replica and both agree', async () => {
    const ended = await api(A(), `/api/v1/sessions/${sessionId}`, { method: 'DELETE', token });
    assert.equal(ended.status, 200, JSON.stringify(ended.body));
    assert.equal(
      ((await api(B(), `/api/v1/sessions/${sessionId}`, { token })).body as Session).state,
      'terminated',
    );
  });
});
