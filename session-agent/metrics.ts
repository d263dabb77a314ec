import { execFile } from 'node:child_process';
import { access, constants, readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { AgentMetrics } from './protocol.ts';
import { processGroupUsage } from './proc.ts';

/**
 * Where the agent's own cgroup v2 lives, or undefined on cgroup v1 / no cgroup filesystem. `membership` is the
 * kernel's list of this process's cgroups (`/proc/self/cgroup`).
 */
export async function ownCgroupDir(
  root = '/sys/fs/cgroup',
  membership = '/proc/self/cgroup',
): Promise<string | undefined> {
  const lines = await readFile(membership, 'utf8').catch(() => '');
  // cgroup v2 has exactly one line "0::<path>"; a hybrid or v1 host has others whose counters we do not read.
  const unified = lines.split('\n').filter((l) => l.startsWith('0::'));
  const path =
    unified.length === 1 && lines.trim().split('\n').length === 1 ? unified[0]?.slice(3) : undefined;
  if (path === undefined) return undefined;
  const dir = join(root, path);
  return (await access(join(dir, 'cpu.stat'), constants.R_OK).then(
    () => true,
    () => false,
  ))
    ? dir
    : undefined;
}

/** CPU seconds (cpu.stat usage_usec) and memory (memory.current) of a cgroup v2 directory. */
export async function cgroupUsage(dir: string): Promise<{ cpuSeconds: number; memoryBytes: number }> {
  const [cpuStat, memory] = await Promise.all([
    readFile(join(dir, 'cpu.stat'), 'utf8'),
    readFile(join(dir, 'memory.current'), 'utf8').catch(() => '0'),
  ]);
  const usec = Number(/^usage_usec (\d+)$/m.exec(cpuStat)?.[1] ?? 0);
  return { cpuSeconds: usec / 1e6, memoryBytes: Number(memory.trim()) || 0 };
}

/** The nvidia-smi executable on PATH, or undefined (no GPU driver in this session). */
export async function findOnPath(name: string, path = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  return undefined;
}

/** Mean utilisation of the GPUs nvidia-smi reports, or null when it cannot tell. */
export function nvidiaSmiUtilisation(bin: string): Promise<number | null> {
  return new Promise((resolve) => {
    execFile(
      bin,
      ['--query-gpu=utilization.gpu', '--format=csv,noheader,nounits'],
      { timeout: 2000 },
      (error, stdout) => {
        const nums = error
          ? []
          : stdout
              .split('\n')
              .map((l) => l.trim())
              .filter(Boolean)
              .map(Number)
              .filter(Number.isFinite);
        resolve(nums.length ? nums.reduce((a, b) => a + b, 0) / nums.length : null);
      },
    );
  });
}

export type MetricsSource = 'auto' | 'cgroup' | 'proc';

/**
 * Reads the session's resource use: the container's cgroup v2 counters where the agent has a cgroup of its own
 * (a session pod), else the desktop's process group from /proc; GPU utilisation where nvidia-smi is on PATH.
 */
export class MetricsReader {
  private cgroupDir: string | undefined;
  private nvidiaSmi: string | undefined;

  private constructor(private readonly desktopPgid: number) {}

  static async create(desktopPgid: number, source: MetricsSource): Promise<MetricsReader> {
    const reader = new MetricsReader(desktopPgid);
    // Outside a pod the agent's cgroup is shared with whatever started it, so `auto` means cgroup only in a pod.
    const wantCgroup =
      source === 'cgroup' || (source === 'auto' && Boolean(process.env.KUBERNETES_SERVICE_HOST));
    reader.cgroupDir = wantCgroup ? await ownCgroupDir() : undefined;
    reader.nvidiaSmi = await findOnPath('nvidia-smi');
    return reader;
  }

  async read(): Promise<AgentMetrics> {
    const gpuPercent = this.nvidiaSmi ? await nvidiaSmiUtilisation(this.nvidiaSmi) : null;
    if (this.cgroupDir) {
      const usage = await cgroupUsage(this.cgroupDir).catch(() => undefined);
      if (usage) return { ...usage, gpuPercent, source: 'cgroup' };
    }
    const usage = await processGroupUsage(this.desktopPgid);
    return { cpuSeconds: usage.cpuSeconds, memoryBytes: usage.memoryBytes, gpuPercent, source: 'proc' };
  }
}
