import { readdirSync, readFileSync } from 'node:fs';

/**
 * A process's CPU time (user + system) so far, in ms; undefined where /proc is not there (or it exited).
 * With `reapedChildren`, also that of its children that have exited and been waited for.
 */
export function cpuMsOf(pid: number | string, reapedChildren = false): number | undefined {
  try {
    // Fields 14 to 17 of /proc/<pid>/stat (utime, stime, cutime, cstime), after the parenthesised command
    // name, in clock ticks (100 Hz).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const own = Number(fields[11]) + Number(fields[12]);
    return (reapedChildren ? own + Number(fields[13]) + Number(fields[14]) : own) * 10;
  } catch {
    return undefined;
  }
}

/**
 * The CPU time of every PostgreSQL process on this machine (server, backends, WAL writer…), in ms; undefined
 * without /proc. On a machine where the database shares the cores with the adapter, it is the other half of
 * what a request costs. A backend that exits (a pool closing an idle connection) leaves the sum, but the
 * server that waited for it counts its time among its children's from then on: so the sum only grows.
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
    total += cpuMsOf(pid, true) ?? 0;
  }
  return total;
}
