import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../../backend-adapter/config.ts';
import { KubernetesRuntime } from '../../../backend-adapter/runtime/kubernetes/kubernetes-runtime.ts';
import type { KubernetesRuntimeHandle } from '../../../backend-adapter/runtime/runtime-provider.ts';
import { findTier } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import {
  FAKE_SESSION_IMAGE,
  startFakeCluster,
  type FakeCluster,
} from '../../support/fake-kubernetes/fake-cluster.ts';

interface Found {
  pid: number;
  command: string;
}

/** Live processes (not zombies) whose command line or environment mentions any of `marks`. */
async function processesMentioning(...marks: string[]): Promise<Found[]> {
  const found: Found[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    if (!stat || /^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    const environ = await readFile(`/proc/${name}/environ`, 'utf8').catch(() => '');
    if (marks.some((m) => cmdline.includes(m) || environ.includes(m))) {
      found.push({ pid: Number(name), command: cmdline.replace(/\0/g, ' ').trim() });
    }
  }
  return found;
}

/** Polls until no process mentions `marks`; the last ones found when the deadline passes. */
async function untilNoneLeft(marks: string[], timeoutMs: number): Promise<Found[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await processesMentioning(...marks);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitFor(ok: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A deleted pod leaves nothing running, as a real kubelet ends a pod's cgroup: not the session agent, nor its
 * desktop (in a process group of its own), nor what the desktop started in a session of its own — also when
 * the agent dies before it has told the kubelet its desktop's process group, or is frozen when the pod goes.
 */
describe('fake kubelet: deleting a pod ends every process of it', () => {
  let cluster: FakeCluster;
  let dir: string;

  before(async () => {
    cluster = await startFakeCluster();
    dir = await mkdtemp(join(tmpdir(), 'vsc-kubelet-procs-'));
  });
  after(async () => {
    await cluster?.close();
    // Whatever a failed assertion left behind, by this test's own directory.
    for (const p of await processesMentioning(dir)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('a pod deleted while its desktop starts: the display server and a daemon in its own session end too', async () => {
    const sessionDir = join(dir, 'run');
    await mkdir(sessionDir, { recursive: true });
    // A display server that waits for the test's go (so the agent has not announced its desktop's process group
    // yet), having started a daemon in a session of its own first, as programs in a desktop may.
    const slowXvnc = join(dir, 'slow-xvnc');
    await writeFile(
      slowXvnc,
      [
        '#!/bin/sh',
        'setsid sleep 600 </dev/null >/dev/null 2>&1 &',
        ': > "$SESSION_DIR/display-server-starting"',
        'while [ ! -e "$SESSION_DIR/go" ]; do sleep 0.05; done',
        ': > "$SESSION_DIR/display-server-survived"',
        'exec Xvnc "$@"',
        '',
      ].join('\n'),
    );
    await chmod(slowXvnc, 0o755);
    const ns = cluster.namespace;
    const pod = cluster.api.store.create('pods', ns, {
      metadata: { name: 'slow-desktop', labels: { app: 'kubelet-test' } },
      spec: {
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 10,
        containers: [
          {
            name: 'desktop',
            image: FAKE_SESSION_IMAGE,
            env: [
              { name: 'AGENT_TOKEN', value: 'a-token-of-at-least-sixteen-characters' },
              { name: 'VNC_PASSWORD', value: 'secret12' },
              { name: 'SESSION_DIR', value: sessionDir },
              { name: 'XVNC_BIN', value: slowXvnc },
              { name: 'DESKTOP_WM', value: 'true' },
              { name: 'DESKTOP_TERMINAL', value: 'true' },
              { name: 'GEOMETRY', value: '640x480' },
              { name: 'AGENT_START_TIMEOUT_MS', value: '30000' },
            ],
          },
        ],
      },
    });
    const uid = pod.metadata.uid ?? '';
    await waitFor(() => existsSync(join(sessionDir, 'display-server-starting')), 'the desktop starting');
    const running = await processesMentioning(uid, dir);
    assert.ok(
      running.some((p) => p.command.startsWith('sleep 600')),
      `the daemon runs before the pod goes: ${JSON.stringify(running)}`,
    );

    cluster.api.store.delete('pods', ns, 'slow-desktop', { gracePeriodSeconds: 5 });
    await waitFor(() => !cluster.api.store.peek('pods', ns, 'slow-desktop'), 'the pod removed', 15_000);
    const left = await untilNoneLeft([uid, dir], 5000);
    assert.deepEqual(left, [], 'no process of the deleted pod is left');
    // Had the display server's wrapper survived, it would go on to start Xvnc now.
    await writeFile(join(sessionDir, 'go'), '');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(existsSync(join(sessionDir, 'display-server-survived')), false, 'it was ended, not left');
    assert.deepEqual(await processesMentioning(uid, dir), [], 'and nothing of it came back');
  });

  it('a frozen session agent’s pod (a stuck desktop) deleted through the runtime: agent, Xvnc and all end', async () => {
    const basic = findTier('basic')?.resources;
    assert.ok(basic);
    const config = loadConfig(cluster.env()).kubernetes;
    const runtime = await KubernetesRuntime.open(config, pino({ level: 'silent' }));
    try {
      const handle = (await runtime.start('cccccccc-0000-4000-8000-000000000001', basic, {
        tier: 'basic',
        tenantId: 'tenant-k',
        userId: 'kim',
      })) as KubernetesRuntimeHandle;
      const podName = handle.podName ?? '';
      const uid = cluster.api.store.peek('pods', cluster.namespace, podName)?.metadata.uid ?? '';
      assert.ok(uid);
      const running = await processesMentioning(uid);
      assert.ok(
        running.some((p) => /(^|\/)Xvnc /.test(p.command)),
        `the pod runs a real Xvnc: ${JSON.stringify(running.map((p) => p.command))}`,
      );
      const agentPid = cluster.kubelet.containerPid(cluster.namespace, podName);
      assert.ok(agentPid);
      process.kill(agentPid, 'SIGSTOP'); // it cannot stop its desktop: the kubelet has to
      await runtime.hibernate(handle); // deletes the pod (5 s grace), keeps the volume
      assert.equal(cluster.api.store.peek('pods', cluster.namespace, podName), undefined);
      assert.deepEqual(await untilNoneLeft([uid], 5000), [], 'no process of the deleted pod is left');
      await runtime.stop({ ...handle, podName: null, hibernated: true });
    } finally {
      await runtime.close();
    }
  });
});
