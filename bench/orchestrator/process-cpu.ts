import { readdirSync, readFileSync } from 'node:fs';

/** A process's CPU time (user + system) so far, in ms; undefined where /proc is not there (or it exited). */
export function cpuMsOf(pid: number | string): number | undefined {
  try {
    // Fields 14 and 15 of /proc/<pid>/stat, after the parenthesised command name, in clock ticks (100 Hz).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * The CPU time of every PostgreSQL process on this machine (server, backends, WAL writer…), in ms; undefined
 * without /proc. On a machine where the database shares the cores with the adapter, it is the other half of
 * what a request costs. Processes that exit between two readings drop out, so it is a lower bound.
 */
export function postgresCpuMs(): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  let total = 0;
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
    } catch {
      continue;
    }
    total += cpuMsOf(pid) ?? 0;
  }
  return total;
}
