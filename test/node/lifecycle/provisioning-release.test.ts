// A launch whose desktop comes up only after the provisioning deadline: the session fails at the deadline and
// the desktop that arrives later is ended — no process is left. Real local runtime (session agent, Xvnc).
import assert from 'node:assert/strict';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { loadConfig } from '../../../backend-adapter/config.ts';
import { InProcessSessionEventBus } from '../../../backend-adapter/events/in-process-session-event-bus.ts';
import { DEFAULT_POLICY } from '../../../backend-adapter/lifecycle/lifecycle-policy.ts';
import { SessionLifecycle } from '../../../backend-adapter/lifecycle/session-lifecycle.ts';
import { InProcessSessionLocks } from '../../../backend-adapter/locks/in-process-session-locks.ts';
import { LocalDesktopRuntime } from '../../../backend-adapter/runtime/local/local-desktop-runtime.ts';
import {
  listProcesses,
  processWorkingDirectory,
} from '../../../backend-adapter/runtime/local/process-state.ts';
import { alice, eventually, rejectsWith } from './lifecycle-fixture.ts';

/** Live processes whose working directory is inside `dir`: an agent and its desktop. */
async function processesUnder(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const { pid } of await listProcesses()) {
    const cwd = await processWorkingDirectory(pid);
    if (cwd === dir || cwd?.startsWith(`${dir}/`)) found.push(pid);
  }
  return found;
}

/**
 * The real local runtime, answering a while after its desktop is up: a fast machine boots the agent and Xvnc
 * within any deadline short enough for a test, so the start is made late on purpose (its processes run).
 */
class LateLocalDesktopRuntime extends LocalDesktopRuntime {
  override async start(
    ...args: Parameters<LocalDesktopRuntime['start']>
  ): ReturnType<LocalDesktopRuntime['start']> {
    const handle = await super.start(...args);
    await new Promise((r) => setTimeout(r, 500));
    return handle;
  }
}

describe('a provisioning that misses its deadline (real local desktop)', () => {
  let dir: string;
  let canon: SqliteCanonStore;

  before(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'vsc-late-start-')));
    canon = new SqliteCanonStore(join(dir, 'canon.sqlite'));
  });
  after(async () => {
    await canon.close();
    for (const pid of await processesUnder(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('fails at the deadline and ends the desktop that comes up afterwards', async () => {
    const logs: string[] = [];
    const lifecycle = new SessionLifecycle({
      canon,
      runtime: new LateLocalDesktopRuntime(loadConfig({}).runtime, join(dir, 'sessions')),
      events: new InProcessSessionEventBus(),
      locks: new InProcessSessionLocks(),
      // Shorter than the start takes (at least the 500 ms above), so the desktop always arrives late.
      policy: { ...DEFAULT_POLICY, transitionTimeoutMs: 200 },
      logger: pino(
        { level: 'warn' },
        new Writable({
          write(chunk: Buffer, _enc, done) {
            logs.push(chunk.toString());
            done();
          },
        }),
      ),
    });
    await rejectsWith(lifecycle.create(alice, 'basic'), 'RUNTIME_FAILED');
    const [row] = await canon.listSessions(alice);
    assert.equal(row?.session.state, 'failed');
    assert.match(row?.session.failureReason ?? '', /provisioning did not finish within 200 ms/);
    const sessionDir = join(dir, 'sessions', row?.session.sessionId ?? '');
    assert.ok((await processesUnder(sessionDir)).length > 0, 'the launch was still starting its desktop');

    await eventually(
      () => logs.some((l) => l.includes('stopped a desktop that came up after its launch had failed')),
      'the late desktop is stopped',
      40_000,
    );
    await eventually(async () => (await processesUnder(sessionDir)).length === 0, 'no process left', 10_000);
  });
});
