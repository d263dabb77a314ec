import { readFile, readdir } from 'node:fs/promises';

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

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux
const PAGE_SIZE = 4096;

/** One live process of a group: its pid, kernel state and usage counters. */
export interface GroupMember {
  pid: number;
  state: string;
  cpuTicks: number;
  rssPages: number;
}

/** Every live (non-zombie) process whose process group is `pgid`. */
export async function groupMembers(pgid: number): Promise<GroupMember[]> {
  const out: GroupMember[] = [];
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
    out.push({
      pid: Number(name),
      state: fields[0] ?? '',
      cpuTicks: Number(fields[11]) + Number(fields[12]),
      rssPages: Number(fields[21]),
    });
  }
  return out;
}

/** Summed CPU time (user + system) and resident memory of every live process in a process group. */
export async function processGroupUsage(
  pgid: number,
): Promise<{ cpuSeconds: number; memoryBytes: number; processes: number }> {
  const members = await groupMembers(pgid);
  const ticks = members.reduce((n, m) => n + m.cpuTicks, 0);
  const pages = members.reduce((n, m) => n + m.rssPages, 0);
  return {
    cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND,
    memoryBytes: pages * PAGE_SIZE,
    processes: members.length,
  };
}
