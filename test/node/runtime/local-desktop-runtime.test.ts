import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../../backend-adapter/config.ts';
import { isPortListening } from '../../../backend-adapter/runtime/local/free-port.ts';
import { LocalDesktopRuntime } from '../../../backend-adapter/runtime/local/local-desktop-runtime.ts';
import { processState } from '../../../backend-adapter/runtime/local/process-state.ts';
import { RuntimeStartError } from '../../../backend-adapter/runtime/runtime-provider.ts';
import { leftBehind, sessionProcesses } from '../../support/session-processes.ts';

const resources = {
  cpuMillicores: 1000,
  memoryMiB: 1024,
  storageGiB: 1,
  gpus: 0,
  display: { width: 800, height: 600 },
};

/** Every live (non-zombie) process in a process group. */
function groupMembers(pgid: number): string[] {
  const out = execFileSync('ps', ['-e', '-o', 'pgid=,stat=,comm=']).toString();
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([g, s]) => Number(g) === pgid && !s?.startsWith('Z'))
    .map(([, , c]) => c ?? '');
}

describe('local desktop runtime (real Xvnc)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-runtime-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('starts Xvnc, a window manager and a terminal in one process group, private and on loopback', async () => {
    const runtime = new LocalDesktopRuntime(loadConfig({}).runtime, dir);
    const h = await runtime.start('s1', resources);
    try {
      assert.equal(await runtime.status(h), 'running');
      assert.ok(await isPortListening('127.0.0.1', h.port));
      await new Promise((r) => setTimeout(r, 300));
      const members = groupMembers(h.pgid);
      for (const name of ['Xvnc', 'openbox', 'xterm'])
        assert.ok(members.includes(name), `${name} in ${members}`);
      // The orphan check below finds a session's processes by its directory: it sees this live desktop.
      const ofSession = (await sessionProcesses(join(dir, 's1'))).map((p) => p.comm);
      for (const name of ['node', 'Xvnc', 'openbox', 'xterm'])
        assert.ok(ofSession.includes(name), `${name} in ${ofSession}`);
      assert.equal((await stat(join(dir, 's1'))).mode & 0o777, 0o700);
      assert.equal((await stat(join(dir, 's1', '.vncpasswd'))).mode & 0o777, 0o600);
      const cmd = await readFile(`/proc/${h.pid}/cmdline`, 'utf8');
      assert.match(cmd, /-localhost\0yes/);
      assert.match(cmd, /-SecurityTypes\0VncAuth/);

      await runtime.pause(h);
      assert.equal(await runtime.status(h), 'stopped');
      assert.equal(await processState(h.pid), 'T');
      await runtime.resume(h);
      assert.equal(await runtime.status(h), 'running');
    } finally {
      await runtime.stop(h);
    }
    assert.equal(await runtime.status(h), 'gone');
    assert.deepEqual(groupMembers(h.pgid), []);
    assert.equal(await isPortListening('127.0.0.1', h.port), false);
    assert.deepEqual(await leftBehind(join(dir, 's1')), []);
  });

  it('stops a paused desktop too', async () => {
    const runtime = new LocalDesktopRuntime(loadConfig({}).runtime, dir);
    const h = await runtime.start('s2', resources);
    await runtime.pause(h);
    await runtime.stop(h);
    assert.deepEqual(groupMembers(h.pgid), []);
  });

  it('reports a display server that will not start, and leaves nothing running', async () => {
    const runtime = new LocalDesktopRuntime(loadConfig({ XVNC_BIN: '/bin/false' }).runtime, dir);
    await assert.rejects(runtime.start('s3', resources), (e: unknown) => {
      assert.ok(e instanceof RuntimeStartError);
      assert.match(e.reason, /exited/);
      return true;
    });
    // Neither the session agent nor its launcher outlives the failed start.
    assert.deepEqual(await leftBehind(join(dir, 's3')), []);
  });

  it('times out a display server that never becomes ready, and kills it', async () => {
    const hang = join(dir, 'hang.sh');
    // An odd duration, so no other process on a shared machine matches it below.
    await writeFile(hang, '#!/bin/sh\nexec sleep 29.7531\n', { mode: 0o755 });
    const hanging = new LocalDesktopRuntime(
      { ...loadConfig({}).runtime, xvncBin: hang, startTimeoutMs: 600 },
      dir,
    );
    await assert.rejects(hanging.start('s4', resources), /did not come up/);
    await new Promise((r) => setTimeout(r, 100));
    const sleepers = execFileSync('ps', ['-e', '-o', 'stat=,args='])
      .toString()
      .split('\n')
      .filter((l) => l.includes('sleep 29.7531') && !l.trim().startsWith('Z'));
    assert.deepEqual(sleepers, []);
    assert.deepEqual(await leftBehind(join(dir, 's4')), []);
  });
});
