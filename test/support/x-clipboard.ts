import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * The X CLIPBOARD selection of a desktop, through Python's Tk (no xclip/xsel on this machine).
 * Reading asks the selection's owner (Xvnc owns it after a ClientCutText); writing keeps a small
 * Tk process owning the selection for `holdMs`.
 */
const run = promisify(execFile);

export async function readXClipboard(display: number): Promise<string | null> {
  const script = [
    'import tkinter',
    'r = tkinter.Tk(); r.withdraw()',
    'try:',
    "  print(r.selection_get(selection='CLIPBOARD'), end='')",
    'except Exception:',
    "  print('\\x00none', end='')",
  ].join('\n');
  const { stdout } = await run('python3', ['-c', script], {
    env: { ...process.env, DISPLAY: `:${display}` },
    timeout: 5000,
  });
  return stdout === '\x00none' ? null : stdout;
}

/** Owns CLIPBOARD (and PRIMARY) with `text` for `holdMs`; resolves once it owns them. */
export async function writeXClipboard(display: number, text: string, holdMs = 6000): Promise<ChildProcess> {
  const script = [
    'import sys, tkinter',
    'r = tkinter.Tk(); r.withdraw()',
    'r.clipboard_clear(); r.clipboard_append(sys.argv[1])',
    "r.selection_handle(lambda offset, length: sys.argv[1][int(offset):int(offset)+int(length)], selection='PRIMARY')",
    "r.selection_own(selection='PRIMARY')",
    'r.update()',
    "print('owned', flush=True)",
    `r.after(${holdMs}, r.destroy)`,
    'r.mainloop()',
  ].join('\n');
  const child = spawn('python3', ['-c', script, text], {
    env: { ...process.env, DISPLAY: `:${display}` },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('error', reject);
    child.once('exit', () => resolve());
  });
  return child;
}
