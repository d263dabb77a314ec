// The session agent's cgroup v2 reading (a session pod's counters), against files written as the kernel
// writes them: this machine kind mounts cgroup v1, so the agent's own tests can only read /proc.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cgroupUsage, ownCgroupDir } from '../../../session-agent/metrics.ts';

const CPU_STAT = `usage_usec 2503117
user_usec 1830021
system_usec 673096
core_sched.force_idle_usec 0
nr_periods 0
nr_throttled 0
throttled_usec 0
nr_bursts 0
burst_usec 0
`;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vsc-cgroup-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A cgroup v2 tree under `root` with the container's directory at `path`, and the process's membership file. */
async function tree(name: string, membership: string, files: Record<string, string>) {
  const root = join(dir, name, 'sys-fs-cgroup');
  const container = join(root, 'kubepods.slice', 'pod-1', 'cri-containerd-abc.scope');
  await mkdir(container, { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFile(join(container, file), text);
  const self = join(dir, name, 'proc-self-cgroup');
  await writeFile(self, membership);
  return { root, container, self };
}

describe('session agent: cgroup v2 counters (session-agent/metrics.ts)', () => {
  it('finds its own cgroup from a cgroup v2 membership line and reads CPU and memory there', async () => {
    const t = await tree('v2', '0::/kubepods.slice/pod-1/cri-containerd-abc.scope\n', {
      'cpu.stat': CPU_STAT,
      'memory.current': '734003200\n',
    });
    const found = await ownCgroupDir(t.root, t.self);
    assert.equal(found, t.container);
    assert.deepEqual(await cgroupUsage(t.container), { cpuSeconds: 2.503117, memoryBytes: 734_003_200 });
  });

  it('reads no cgroup on a v1 or hybrid host (several membership lines): the agent reads /proc instead', async () => {
    const t = await tree(
      'hybrid',
      '4:memory:/kubepods/pod-1\n1:cpu:/kubepods/pod-1\n0::/kubepods.slice/pod-1/cri-containerd-abc.scope\n',
      { 'cpu.stat': CPU_STAT },
    );
    assert.equal(await ownCgroupDir(t.root, t.self), undefined);
  });

  it('reads no cgroup where its counters cannot be read, or the membership file is missing', async () => {
    const t = await tree('no-counters', '0::/kubepods.slice/pod-1/cri-containerd-abc.scope\n', {});
    assert.equal(await ownCgroupDir(t.root, t.self), undefined);
    assert.equal(await ownCgroupDir(t.root, join(dir, 'no-such-file')), undefined);
  });

  it('counts memory as 0 where memory.current is absent (no memory controller), and fails without cpu.stat', async () => {
    const t = await tree('cpu-only', '0::/x\n', { 'cpu.stat': CPU_STAT });
    assert.deepEqual(await cgroupUsage(t.container), { cpuSeconds: 2.503117, memoryBytes: 0 });
    await assert.rejects(cgroupUsage(join(dir, 'missing')), { code: 'ENOENT' });
  });
});
