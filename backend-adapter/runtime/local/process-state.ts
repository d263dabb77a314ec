import { readFile, readdir, readlink } from 'node:fs/promises';

// The session agent reads the same /proc fields; the runtime and its tests share its helpers.
export { processGroupUsage, processState } from '../../../session-agent/proc.ts';

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
