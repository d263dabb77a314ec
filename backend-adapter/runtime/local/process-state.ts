import { readFile, readdir, readlink } from 'node:fs/promises';

/** The kernel's one-letter state of a process (R, S, D, T, Z, …), or undefined when it does not exist. */
export async function processState(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces; the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** Every live process as [pid, process group]. */
export async function listProcesses(): Promise<Array<{ pid: number; pgid: number }>> {
  const out: Array<{ pid: number; pgid: number }> = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined);
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] !== 'Z') out.push({ pid: Number(name), pgid: Number(fields[2]) });
  }
  return out;
}

/** The process's working directory, or undefined when it is gone or not ours to read. */
export async function processWorkingDirectory(pid: number): Promise<string | undefined> {
  return readlink(`/proc/${pid}/cwd`).catch(() => undefined);
}

/** The process's command line, NUL-separated arguments joined by spaces. */
export async function processCommandLine(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux
const PAGE_SIZE = 4096;

/** Summed CPU time (user + system) and resident memory of every live process in a process group. */
export async function processGroupUsage(
  pgid: number,
): Promise<{ cpuSeconds: number; memoryBytes: number; processes: number }> {
  let ticks = 0;
  let pages = 0;
  let processes = 0;
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // Fields after the command name: state(3) ppid(4) pgrp(5) … utime(14) stime(15) … rss(24).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== pgid || fields[0] === 'Z') continue;
    ticks += Number(fields[11]) + Number(fields[12]);
    pages += Number(fields[21]);
    processes++;
  }
  return { cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND, memoryBytes: pages * PAGE_SIZE, processes };
}
