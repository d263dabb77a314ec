import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

export const XVNC = '/usr/bin/Xvnc';
export const haveXvnc = existsSync(XVNC) && existsSync('/usr/bin/vncpasswd');

export interface RunningXvnc {
  port: number;
  display: number;
  password: string;
  process: ChildProcess;
  /** SIGTERM (SIGKILL after 3 s), then removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A real TigerVNC Xvnc on 127.0.0.1 with VNC Authentication, 800x600 unless told otherwise. */
export async function startXvnc(password: string, geometry = '800x600'): Promise<RunningXvnc> {
  const dir = await mkdtemp(join(tmpdir(), 'vsc-xvnc-'));
  const passwordFile = join(dir, 'passwd');
  const made = spawnSync('/usr/bin/vncpasswd', ['-f'], { input: `${password}\n` });
  if (made.status !== 0) throw new Error(`vncpasswd failed: ${made.stderr.toString()}`);
  await writeFile(passwordFile, made.stdout, { mode: 0o600 });

  const port = await freePort();
  const args = [
    ['-displayfd', '3'],
    ['-rfbport', String(port)],
    ['-localhost', 'yes'],
    ['-SecurityTypes', 'VncAuth'],
    ['-PasswordFile', passwordFile],
    ['-geometry', geometry],
    ['-depth', '24'],
    ['-retro'], // a root cursor (and stipple): without it pointer moves change no pixels
  ].flat();
  const child = spawn(XVNC, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], cwd: dir });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    }
  };

  try {
    // Xvnc writes its display number to fd 3 once it accepts connections.
    const display = await new Promise<number>((resolve, reject) => {
      const fd3 = child.stdio[3] as Readable;
      let text = '';
      const timer = setTimeout(() => reject(new Error(`Xvnc did not start in 15 s:\n${log}`)), 15_000);
      fd3.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('\n')) {
          clearTimeout(timer);
          resolve(Number.parseInt(text, 10));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Xvnc exited with ${code}:\n${log}`));
      });
    });
    return { port, display, password, process: child, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
