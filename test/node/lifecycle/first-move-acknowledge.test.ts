// On SQLite a launch's Genesis and an action's first move are answered once committed; the move that ends the
// action waits for a flush of the WAL, which covers them all, and only then is the caller answered.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Session } from '../../../protocol/session.ts';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { InProcessSessionEventBus } from '../../../backend-adapter/events/in-process-session-event-bus.ts';
import { DEFAULT_POLICY } from '../../../backend-adapter/lifecycle/lifecycle-policy.ts';
import { SessionLifecycle } from '../../../backend-adapter/lifecycle/session-lifecycle.ts';
import { InProcessSessionLocks } from '../../../backend-adapter/locks/in-process-session-locks.ts';
import {
  openSqliteConnection,
  type SqliteConnection,
} from '../../../backend-adapter/sql/sqlite-connection.ts';
import { alice, eventually, FakeRuntime } from './lifecycle-fixture.ts';

describe('first moves answered on commit, the last one on its flush (SQLite)', () => {
  let dir: string;
  let connection: SqliteConnection;
  let canon: SqliteCanonStore;
  let lifecycle: SessionLifecycle;
  /** While true, every flush of the WAL waits in `held` until released. */
  let holding = false;
  let held: Array<() => void> = [];
  const release = (): void => {
    holding = false;
    for (const done of held) done();
    held = [];
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-first-move-'));
    const file = join(dir, 'canon.sqlite');
    // The first opener sets how the file's shared connection flushes.
    connection = openSqliteConnection(file, {
      walFlush: () => ({
        sync: () => (holding ? new Promise<void>((done) => held.push(done)) : Promise.resolve()),
        close: () => undefined,
      }),
    });
    canon = new SqliteCanonStore(file);
    lifecycle = new SessionLifecycle({
      canon,
      runtime: new FakeRuntime(),
      events: new InProcessSessionEventBus(),
      locks: new InProcessSessionLocks(),
      policy: DEFAULT_POLICY,
      logger: pino({ level: 'silent' }),
    });
  });
  after(async () => {
    release();
    await canon.close();
    await connection.release();
    await rm(dir, { recursive: true, force: true });
  });

  /** The session's state as committed (what any reader sees now, flushed or not). */
  const committedState = async (id: string) => (await canon.getSession(id))?.session.state;
  const settledFlag = <T>(work: Promise<T>) => {
    const flag = { settled: false, work };
    void work.finally(() => (flag.settled = true));
    return flag;
  };

  it('a launch reaches active without waiting for its Genesis to be flushed, and is answered after the flush', async () => {
    holding = true;
    const launch = settledFlag(lifecycle.create(alice, 'basic'));
    let id = '';
    await eventually(async () => {
      id =
        (await canon.listSessions({ tenantId: alice.tenantId, userId: alice.userId }))[0]?.session
          .sessionId ?? '';
      return id !== '' && (await committedState(id)) === 'active';
    }, 'active committed while no flush has finished');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(launch.settled, false, 'not answered before its last move is durable');
    release();
    const session: Session = await launch.work;
    assert.equal(session.state, 'active');
    assert.equal(session.sessionId, id);
  });

  it('a termination reaches terminated without waiting for terminating to be flushed, and is answered after the flush', async () => {
    const { sessionId } = await lifecycle.create(alice, 'basic');
    holding = true;
    const ending = settledFlag(lifecycle.terminate(alice, sessionId));
    await eventually(
      async () => (await committedState(sessionId)) === 'terminated',
      'terminated committed while no flush has finished',
    );
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(ending.settled, false, 'not answered before its last move is durable');
    release();
    assert.equal((await ending.work).state, 'terminated');
  });
});
