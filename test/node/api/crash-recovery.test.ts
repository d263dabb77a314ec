import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Session } from '../../../protocol/session.ts';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../../protocol/handshake.ts';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { findFreePort, isPortListening } from '../../../backend-adapter/runtime/local/free-port.ts';
import {
  listProcesses,
  processState,
  processWorkingDirectory,
} from '../../../backend-adapter/runtime/local/process-state.ts';

/** Live processes whose working directory is inside `dir`: the desktops started there. */
async function desktopProcessesUnder(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const { pid } of await listProcesses()) {
    if ((await processWorkingDirectory(pid))?.startsWith(dir)) found.push(pid);
  }
  return found;
}

async function waitFor<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * kill -9 of a real adapter process in the middle of a launch and of a pause, then a restart on the same data
 * directory: nothing is orphaned, nothing stays transitional, and usage is still recorded.
 */
describe('crash and reconcile (real adapter process, real desktops)', () => {
  let dir: string;
  let port: number;
  let adapter: ChildProcess | undefined;
  let slowXvnc: string;

  const start = async (): Promise<void> => {
    adapter = spawn(process.execPath, ['--import', 'tsx', 'backend-adapter/main.ts'], {
      env: {
        ...process.env,
        PORT: String(port),
        DATA_DIR: dir,
        DEV_MODE: '1',
        LOG_LEVEL: 'warn',
        XVNC_BIN: slowXvnc,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // Generous: on a busy 2-core machine a cold start (tsx, migrations, reconcile) can take a while.
    const healthy = await waitFor(
      () =>
        fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      Boolean,
      60_000,
    );
    assert.ok(healthy, 'the adapter came up');
  };
  const api = async (path: string, token?: string, method = 'GET', body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: {
        [HANDSHAKE_HEADER]: HANDSHAKE,
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as unknown };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-crash-'));
    port = await findFreePort('127.0.0.1');
    // A display server that takes a while to come up, so the crash reliably lands during provisioning.
    slowXvnc = join(dir, 'slow-xvnc.sh');
    await writeFile(slowXvnc, '#!/bin/sh\n[ -f "$(dirname "$0")/slow" ] && sleep 3\nexec Xvnc "$@"\n');
    await chmod(slowXvnc, 0o755);
    await start();
  });
  const signal = (pid: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };

  after(async () => {
    adapter?.kill('SIGKILL');
    for (const pid of await desktopProcessesUnder(dir)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('recovers every session and leaves no orphaned desktop', async () => {
    const login = await api('/api/v1/dev/login', undefined, 'POST', { userId: 'cara', tenantId: 't' });
    const token = (login.body as { token: string }).token;
    const running = (await api('/api/v1/sessions', token, 'POST', { tier: 'basic' })).body as Session;
    assert.equal(running.state, 'active');

    // Launch a second desktop and kill -9 the adapter while it is provisioning.
    const slowMark = join(dir, 'slow');
    await writeFile(slowMark, '');
    const launch = api('/api/v1/sessions', token, 'POST', { tier: 'basic' }).catch(() => undefined);
    const canon = new SqliteCanonStore(join(dir, 'canon.sqlite'));
    const provisioning = await waitFor(
      () => canon.listSessions({ userId: 'cara', tenantId: 't' }),
      (rows) => rows.some((r) => r.session.state === 'provisioning'),
    );
    const crashed = provisioning.find((r) => r.session.state === 'provisioning')?.session.sessionId;
    assert.ok(crashed, 'caught a launch in provisioning');
    await new Promise((r) => setTimeout(r, 300)); // the launcher is up, Xvnc not yet
    adapter?.kill('SIGKILL');
    await launch;
    await rm(slowMark);

    const orphans = await desktopProcessesUnder(join(dir, 'sessions', crashed));
    assert.ok(orphans.length > 0, 'the crash left a half-started desktop behind');

    await start();
    const list = ((await api('/api/v1/sessions', token)).body as { sessions: Session[] }).sessions;
    const byId = new Map(list.map((s) => [s.sessionId, s]));
    assert.equal(byId.get(crashed)?.state, 'failed');
    assert.match(byId.get(crashed)?.failureReason ?? '', /adapter stopped during provisioning/);
    assert.equal(byId.get(running.sessionId)?.state, 'active', 'the running desktop survived both crashes');
    const left = await waitFor(
      () => desktopProcessesUnder(join(dir, 'sessions', crashed)),
      (p) => p.length === 0,
    );
    assert.deepEqual(left, [], 'no orphaned desktop');
    assert.ok(
      list.every((s) => ['active', 'paused', 'terminated', 'failed'].includes(s.state)),
      'nothing transitional',
    );

    const row = await canon.getSession(running.sessionId);
    assert.ok(row?.runtime && (await isPortListening('127.0.0.1', row.runtime.port)));
    const ended = await api(`/api/v1/sessions/${running.sessionId}`, token, 'DELETE');
    assert.equal((ended.body as Session).state, 'terminated');
    const usage = await canon.getUsage(running.sessionId);
    assert.ok(usage && usage.resourceConsumption.activeSeconds >= 0 && usage.canonRecord);
    await canon.close();
  });
  it('kill -9 during a pause: the session settles paused, a desktop that died meanwhile fails with its usage', async () => {
    const login = await api('/api/v1/dev/login', undefined, 'POST', { userId: 'dan', tenantId: 't' });
    const token = (login.body as { token: string }).token;
    const created = await Promise.all(
      [1, 2].map(
        async () => (await api('/api/v1/sessions', token, 'POST', { tier: 'basic' })).body as Session,
      ),
    );
    const [pausing, dying] = created.map((s) => s.sessionId) as [string, string];
    const canon = new SqliteCanonStore(join(dir, 'canon.sqlite'));
    try {
      const pausingRuntime = (await canon.getSession(pausing))?.runtime;
      const dyingRuntime = (await canon.getSession(dying))?.runtime;
      assert.ok(pausingRuntime?.kind === 'local' && pausingRuntime.agentPid);
      assert.ok(dyingRuntime?.kind === 'local' && dyingRuntime.agentPid);

      // The session's agent is frozen, so the pause is held in the adapter after "pausing" was recorded.
      signal(pausingRuntime.agentPid, 'SIGSTOP');
      const pause = api(`/api/v1/sessions/${pausing}/pause`, token, 'POST').catch(() => undefined);
      const caught = await waitFor(
        async () => (await canon.getSession(pausing))?.session.state,
        (state) => state === 'pausing',
      );
      assert.equal(caught, 'pausing', 'caught the pause in flight');
      adapter?.kill('SIGKILL');
      await pause;
      signal(pausingRuntime.agentPid, 'SIGCONT');
      // While the adapter is down, the other desktop dies (agent and display, both process groups).
      signal(-dyingRuntime.agentPid, 'SIGKILL');
      signal(-dyingRuntime.pgid, 'SIGKILL');
      const diedAt = Date.now();

      await start();
      const paused = await canon.getSession(pausing);
      assert.equal(paused?.session.state, 'paused', 'not left pausing');
      const settledBy = (await canon.listRecords(pausing)).filter((r) => r.entity === 'session').at(-1);
      assert.equal(settledBy?.actor, 'system:reconcile');
      assert.equal(await processState(pausingRuntime.pid), 'T', 'the desktop is really frozen');

      const failed = await canon.getSession(dying);
      assert.equal(failed?.session.state, 'failed');
      assert.match(failed?.session.failureReason ?? '', /ended while the adapter was down/);
      const usage = await canon.getUsage(dying);
      assert.ok(usage, 'the desktop that died has its usage record');
      assert.ok(usage.resourceConsumption.activeSeconds >= 1, JSON.stringify(usage));
      assert.ok(usage.cost > 0, 'its billed time is in it');
      assert.ok(Date.parse(usage.endTime) >= diedAt);
      assert.equal((await canon.listRecords(dying)).filter((r) => r.entity === 'usage').length, 1);
      assert.deepEqual(
        await waitFor(
          () => desktopProcessesUnder(join(dir, 'sessions', dying)),
          (p) => p.length === 0,
        ),
        [],
      );

      // The paused session is whole: it resumes and ends with its usage recorded once.
      const resumed = await api(`/api/v1/sessions/${pausing}/resume`, token, 'POST');
      assert.equal((resumed.body as Session).state, 'active', JSON.stringify(resumed.body));
      const ended = await api(`/api/v1/sessions/${pausing}`, token, 'DELETE');
      assert.equal((ended.body as Session).state, 'terminated');
      assert.equal((await canon.listRecords(pausing)).filter((r) => r.entity === 'usage').length, 1);
    } finally {
      await canon.close();
    }
  });
});
