import { readFile, readdir, readlink, realpath } from 'node:fs/promises';

export interface SessionProcess {
  pid: number;
  /** The executable's name as the kernel reports it (`Xvnc`, `node`, `sh` …). */
  comm: string;
  args: string;
}

/**
 * Every live (non-zombie) process that belongs to a session's directory: its working directory is in it, or its
 * command line or environment names it (Xvnc's password file, the agent's SESSION_DIR). Read from /proc
 * directly, not through the runtime's own helpers, so a runtime that loses track of a process is caught.
 */
export async function sessionProcesses(sessionDir: string): Promise<SessionProcess[]> {
  const dir = await realpath(sessionDir).catch(() => sessionDir);
  const roots = [...new Set([dir, sessionDir])];
  // NUL-separated arguments or KEY=value entries naming the directory or a path inside it (not `<dir>0`).
  const mentions = (text: string | undefined) =>
    text !== undefined &&
    text
      .split('\0')
      .some((part) => roots.some((r) => part === r || part.endsWith(`=${r}`) || part.includes(`${r}/`)));
  const found: SessionProcess[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined);
    if (!stat || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
    const cwd = await readlink(`/proc/${name}/cwd`).catch(() => undefined);
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    const environ = await readFile(`/proc/${name}/environ`, 'utf8').catch(() => undefined);
    const inDir = cwd !== undefined && roots.some((r) => `${cwd}/`.startsWith(`${r}/`));
    if (!inDir && !mentions(cmdline) && !mentions(environ)) continue;
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    found.push({ pid: Number(name), comm, args: cmdline.split('\0').join(' ').trim() });
  }
  return found;
}

/**
 * The session's processes once they had `settleMs` to exit (a SIGKILLed process may take a moment to become a
 * zombie); an empty list means nothing of the session is left running.
 */
export async function leftBehind(sessionDir: string, settleMs = 1000): Promise<SessionProcess[]> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const left = await sessionProcesses(sessionDir);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}
