import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AllocatedResources } from '../../../protocol/session.ts';
import type { LocalRuntimeConfig } from '../../config.ts';
import {
  RuntimeStartError,
  type DesktopSample,
  type DesktopStatus,
  type RuntimeHandle,
  type RuntimeProvider,
} from '../runtime-provider.ts';
import { findFreePort } from './free-port.ts';
import {
  listProcesses,
  processCommandLine,
  processGroupUsage,
  processState,
  processWorkingDirectory,
} from './process-state.ts';

const LAUNCHER = fileURLToPath(new URL('./desktop-launcher.sh', import.meta.url));
const HOST = '127.0.0.1';

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Makes a TigerVNC password file (DES-obfuscated) with the real `vncpasswd`. */
async function writePasswordFile(file: string, password: string): Promise<void> {
  const child = spawn('vncpasswd', ['-f'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stdin.end(`${password}\n`);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new RuntimeStartError(`vncpasswd failed with exit code ${code}`);
  await writeFile(file, Buffer.concat(out), { mode: 0o600 });
}

/**
 * Embedded default runtime: each session is its own Xvnc display with a window manager and a terminal,
 * in its own process group and working directory, listening on loopback only behind a per-session password.
 * Pause is SIGSTOP of the group (memory kept exactly), resume SIGCONT.
 */
export class LocalDesktopRuntime implements RuntimeProvider {
  readonly name = 'local';

  constructor(
    private readonly config: LocalRuntimeConfig,
    private readonly sessionsDir: string,
  ) {}

  async start(sessionId: string, resources: AllocatedResources): Promise<RuntimeHandle> {
    const workDir = join(this.sessionsDir, sessionId);
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    // VNC Authentication uses at most 8 characters of the password.
    const password = randomBytes(6).toString('base64url');
    const passwordFile = join(workDir, '.vncpasswd');
    await writePasswordFile(passwordFile, password);
    const port = await findFreePort(HOST);

    const child = spawn('sh', [LAUNCHER], {
      cwd: workDir,
      detached: true, // its own process group, and it outlives an adapter restart
      stdio: ['ignore', 'pipe', 'ignore'],
      env: {
        PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        HOME: workDir,
        SHELL: '/bin/bash',
        LANG: process.env.LANG ?? 'C.UTF-8',
        XVNC_BIN: this.config.xvncBin,
        RFB_PORT: String(port),
        PASSWORD_FILE: passwordFile,
        GEOMETRY: `${resources.display.width}x${resources.display.height}`,
        SESSION_DIR: workDir,
        DESKTOP_WM: this.config.windowManager,
        DESKTOP_TERMINAL: this.config.terminal,
      },
    });
    const pgid = child.pid;
    if (pgid === undefined) throw new RuntimeStartError('the desktop launcher could not be started');

    try {
      const ready = await this.waitForReady(child, workDir);
      child.stdout?.destroy();
      child.unref();
      return {
        kind: 'local',
        pgid,
        pid: ready.pid,
        display: ready.display,
        host: HOST,
        port,
        password,
        workDir,
      };
    } catch (error) {
      this.signalGroup(pgid, 'SIGKILL');
      throw error;
    }
  }

  private waitForReady(
    child: ReturnType<typeof spawn>,
    workDir: string,
  ): Promise<{ display: number; pid: number }> {
    return new Promise((resolve, reject) => {
      let output = '';
      const fail = async (why: string): Promise<void> => {
        clearTimeout(timer);
        const log = await readFile(join(workDir, 'xvnc.log'), 'utf8').catch(() => '');
        const lastLines = log.trim().split('\n').slice(-3).join(' | ');
        reject(new RuntimeStartError(lastLines ? `${why}: ${lastLines}` : why));
      };
      const timer = setTimeout(
        () => void fail(`the desktop did not come up within ${this.config.startTimeoutMs} ms`),
        this.config.startTimeoutMs,
      );
      child.once('error', (e) => void fail(`the desktop launcher failed: ${e.message}`));
      child.once('exit', (code) => void fail(`the display server exited (code ${code ?? 'signal'})`));
      child.stdout?.on('data', (d: Buffer) => {
        output += d.toString();
        const m = /^ready (\d+) (\d+)$/m.exec(output);
        if (m) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve({ display: Number(m[1]), pid: Number(m[2]) });
        }
      });
    });
  }

  private signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
    try {
      process.kill(-pgid, signal);
      return true;
    } catch {
      return false; // the group is already gone
    }
  }

  /** True when `handle.pid` is still the Xvnc we started (pids are reused after a restart). */
  private async isOurs(handle: RuntimeHandle): Promise<boolean> {
    const cmd = await processCommandLine(handle.pid);
    return cmd !== undefined && cmd.includes(`-rfbport ${handle.port}`);
  }

  async pause(handle: RuntimeHandle): Promise<void> {
    if (!(await this.isOurs(handle)) || !this.signalGroup(handle.pgid, 'SIGSTOP')) {
      throw new RuntimeStartError('the desktop is no longer running');
    }
    await this.waitForState(handle.pid, (s) => s === 'T');
  }

  async resume(handle: RuntimeHandle): Promise<void> {
    if (!(await this.isOurs(handle)) || !this.signalGroup(handle.pgid, 'SIGCONT')) {
      throw new RuntimeStartError('the desktop is no longer running');
    }
    await this.waitForState(handle.pid, (s) => s !== 'T');
  }

  async stop(handle: RuntimeHandle): Promise<void> {
    if (!(await this.isOurs(handle))) {
      this.signalGroup(handle.pgid, 'SIGKILL'); // stragglers of a desktop whose Xvnc is already gone
      return;
    }
    // A stopped group must be continued, or it never handles SIGTERM.
    this.signalGroup(handle.pgid, 'SIGTERM');
    this.signalGroup(handle.pgid, 'SIGCONT');
    const ended = await this.waitForState(handle.pid, (s) => s === undefined || s === 'Z', 3000).then(
      () => true,
      () => false,
    );
    if (!ended) this.signalGroup(handle.pgid, 'SIGKILL');
    await this.waitForState(handle.pid, (s) => s === undefined || s === 'Z', 3000).catch(() => undefined);
  }

  async status(handle: RuntimeHandle): Promise<DesktopStatus> {
    if (!(await this.isOurs(handle))) return 'gone';
    const state = await processState(handle.pid);
    if (state === undefined || state === 'Z') return 'gone';
    return state === 'T' ? 'stopped' : 'running';
  }

  async reclaimOrphans(keep: ReadonlySet<string>): Promise<string[]> {
    // /proc shows resolved paths; the data directory may sit behind a symbolic link.
    const root = `${await realpath(this.sessionsDir).catch(() => this.sessionsDir)}/`;
    const orphanGroups = new Map<number, string>();
    for (const { pid, pgid } of await listProcesses()) {
      if (pid === process.pid) continue;
      const cwd = await processWorkingDirectory(pid);
      if (!cwd?.startsWith(root)) continue;
      // Every desktop process starts in its session's directory (the launcher's cwd): that names its session.
      const sessionId = cwd.slice(root.length).split('/')[0] ?? '';
      if (sessionId && !keep.has(sessionId)) orphanGroups.set(pgid, sessionId);
    }
    for (const pgid of orphanGroups.keys()) this.signalGroup(pgid, 'SIGKILL');
    return [...new Set(orphanGroups.values())];
  }

  async sample(handle: RuntimeHandle): Promise<DesktopSample | undefined> {
    if (!(await this.isOurs(handle))) return undefined;
    const usage = await processGroupUsage(handle.pgid);
    return { cpuSeconds: usage.cpuSeconds, memoryBytes: usage.memoryBytes, gpuPercent: null };
  }

  private async waitForState(
    pid: number,
    ok: (state: string | undefined) => boolean,
    timeoutMs = 2000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (ok(await processState(pid))) return;
      if (Date.now() > deadline) throw new RuntimeStartError(`process ${pid} did not change state in time`);
      await delay(10);
    }
  }
}
