// Which local processes belong to a pod of the FAKE kubelet. A real kubelet kills a pod's cgroup, which holds
// every process the container started however it was started; here the processes are found instead: those in
// a process group the kubelet knows (the agent's, the desktop's), those whose environment carries the pod's
// marker (inherited by everything the agent and its desktop start, even in a new session or process group),
// and the descendants of either.
import { readFile, readdir } from 'node:fs/promises';

/** The environment variable the fake kubelet gives every container: `<name>=<pod uid>`. */
export const POD_MARKER = 'FAKE_KUBELET_POD_UID';

interface Proc {
  pid: number;
  ppid: number;
  pgid: number;
}

async function liveProcesses(): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // After the command name (in parentheses, may hold spaces): state, ppid, pgrp.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (!stat || fields[0] === 'Z' || fields[0] === 'X') continue;
    out.push({ pid: Number(name), ppid: Number(fields[1]), pgid: Number(fields[2]) });
  }
  return out;
}

const NUL = Buffer.from([0]);

/** Whether the process's environment (NUL-separated entries) holds `entry` (which ends with NUL). */
async function carries(pid: number, entry: Buffer): Promise<boolean> {
  const environ = await readFile(`/proc/${pid}/environ`).catch(() => undefined);
  return environ !== undefined && Buffer.concat([NUL, environ]).includes(Buffer.concat([NUL, entry]));
}

/** The live processes of the pod `uid`, excluding this process. */
export async function podProcesses(uid: string, groups: ReadonlySet<number>): Promise<number[]> {
  const entry = Buffer.from(`${POD_MARKER}=${uid}\0`);
  const all = await liveProcesses();
  const found = new Set<number>();
  for (const p of all) {
    if (p.pid === process.pid) continue;
    if (groups.has(p.pgid) || (await carries(p.pid, entry))) found.add(p.pid);
  }
  // Descendants, even ones that left the group and cleared their environment.
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) {
      if (!found.has(p.pid) && found.has(p.ppid) && p.pid !== process.pid) {
        found.add(p.pid);
        grew = true;
      }
    }
  }
  return [...found];
}

/**
 * SIGKILLs every process of the pod, again until none is left (one may have forked meanwhile). Resolves with
 * how many processes were killed.
 */
export async function killPodProcesses(uid: string, groups: ReadonlySet<number>): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 20; round++) {
    const pids = await podProcesses(uid, groups);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return killed;
}
