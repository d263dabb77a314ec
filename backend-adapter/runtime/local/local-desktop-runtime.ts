import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AllocatedResources } from '../../../protocol/session.ts';
import type { AgentReadyLine } from '../../../session-agent/protocol.ts';
import type { LocalRuntimeConfig } from '../../config.ts';
import { AgentClient, AgentRequestError } from '../agent-client.ts';
import {
  RuntimeStartError,
  type DesktopLiveness,
  type DesktopSample,
  type DesktopStatus,
  type LocalRuntimeHandle,
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

const HOST = '127.0.0.1';
/** The agent's own start (Node and its modules) on top of the desktop's start timeout. */
const AGENT_BOOT_ALLOWANCE_MS = 10_000;
/** A health check answered later than this counts as not answered (the agent's own display check takes ≤ 2 s). */
const LIVENESS_TIMEOUT_MS = 4000;
export const DEFAULT_AGENT_ENTRY = fileURLToPath(new URL('../../../session-agent/main.ts', import.meta.url));

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** How Node runs the agent: a TypeScript entry through tsx (development), a bundled .mjs as it is. */
function agentArgs(entry: string): string[] {
  return entry.endsWith('.ts') ? ['--import', import.meta.resolve('tsx'), entry] : [entry];
}

function asLocal(handle: RuntimeHandle): LocalRuntimeHandle {
  if (handle.kind !== 'local') throw new RuntimeStartError(`a ${handle.kind} desktop is not a local one`);
  return handle;
}

/**
 * Embedded default runtime: each session is a session agent started as a local process (its own process group,
 * working directory = the session's directory), which starts the desktop — an Xvnc display with a window manager
 * and a terminal in a process group of their own, on loopback behind a per-session password — and answers on a
 * loopback control endpoint guarded by a per-session secret. Pause and resume go through the agent (SIGSTOP and
 * SIGCONT of the desktop's group, memory kept exactly); signals are the fallback when the agent is gone.
 */
export class LocalDesktopRuntime implements RuntimeProvider {
  readonly name = 'local';

  constructor(
    private readonly config: LocalRuntimeConfig,
    private readonly sessionsDir: string,
  ) {}

  private client(handle: LocalRuntimeHandle): AgentClient | undefined {
    return handle.agentUrl && handle.agentToken
      ? new AgentClient(handle.agentUrl, handle.agentToken)
      : undefined;
  }

  async start(sessionId: string, resources: AllocatedResources): Promise<LocalRuntimeHandle> {
    const workDir = join(this.sessionsDir, sessionId);
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    // VNC Authentication uses at most 8 characters of the password.
    const password = randomBytes(6).toString('base64url');
    const agentToken = randomBytes(24).toString('base64url');
    const port = await findFreePort(HOST);
    const log = await open(join(workDir, 'agent.log'), 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, agentArgs(this.config.agentEntry ?? DEFAULT_AGENT_ENTRY), {
        cwd: workDir,
        detached: true, // its own process group, and it outlives an adapter restart
        stdio: ['ignore', 'pipe', log.fd],
        env: {
          PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
          HOME: workDir,
          SHELL: '/bin/bash',
          LANG: process.env.LANG ?? 'C.UTF-8',
          AGENT_TOKEN: agentToken,
          VNC_PASSWORD: password,
          AGENT_PORT: '0',
          AGENT_BIND_ADDRESS: HOST,
          AGENT_METRICS: 'proc',
          AGENT_START_TIMEOUT_MS: String(this.config.startTimeoutMs),
          RFB_PORT: String(port),
          GEOMETRY: `${resources.display.width}x${resources.display.height}`,
          SESSION_DIR: workDir,
          XVNC_BIN: this.config.xvncBin,
          DESKTOP_WM: this.config.windowManager,
          DESKTOP_TERMINAL: this.config.terminal,
        },
      });
    } finally {
      await log.close();
    }
    const agentPid = child.pid;
    if (agentPid === undefined) throw new RuntimeStartError('the session agent could not be started');

    try {
      const ready = await this.waitForReady(child, workDir);
      child.stdout?.destroy();
      child.unref();
      return {
        kind: 'local',
        pgid: ready.desktopPgid,
        pid: ready.xvncPid,
        display: ready.display,
        host: HOST,
        port,
        password,
        workDir,
        agentUrl: `http://${HOST}:${ready.controlPort}`,
        agentToken,
        agentPid,
      };
    } catch (error) {
      this.signalGroup(agentPid, 'SIGKILL');
      await this.killUnder(workDir);
      throw error;
    }
  }

  private waitForReady(
    child: ChildProcess,
    workDir: string,
  ): Promise<Extract<AgentReadyLine, { event: 'ready' }>> {
    const timeoutMs = this.config.startTimeoutMs + AGENT_BOOT_ALLOWANCE_MS;
    return new Promise((resolve, reject) => {
      let output = '';
      let failed = false;
      const fail = async (why: string): Promise<void> => {
        if (failed) return; // only the first reason is reported
        failed = true;
        clearTimeout(timer);
        const log = await readFile(join(workDir, 'agent.log'), 'utf8').catch(() => '');
        const lastLine = log.trim().split('\n').slice(-1)[0] ?? '';
        reject(new RuntimeStartError(lastLine ? `${why}: ${lastLine}` : why));
      };
      const timer = setTimeout(
        () => void fail(`the session agent did not answer within ${timeoutMs} ms`),
        timeoutMs,
      );
      child.once('error', (e) => void fail(`the session agent failed: ${e.message}`));
      child.once('exit', (code) => void fail(`the session agent exited (code ${code ?? 'signal'})`));
      child.stdout?.on('data', (d: Buffer) => {
        output += d.toString();
        const newline = output.indexOf('\n');
        if (newline < 0) return;
        clearTimeout(timer);
        child.removeAllListeners('exit');
        let line: AgentReadyLine;
        try {
          line = JSON.parse(output.slice(0, newline)) as AgentReadyLine;
        } catch {
          reject(
            new RuntimeStartError(`the session agent said something unexpected: ${output.slice(0, 200)}`),
          );
          return;
        }
        if (line.event === 'ready') resolve(line);
        else reject(new RuntimeStartError(line.reason));
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
  private async isOurs(handle: LocalRuntimeHandle): Promise<boolean> {
    const cmd = await processCommandLine(handle.pid);
    return cmd !== undefined && cmd.includes(`-rfbport ${handle.port}`);
  }

  /**
   * Runs `viaAgent` through the session's agent; when the agent cannot be reached (or the handle predates the
   * agent) runs `fallback` on the processes directly.
   */
  private async withAgent<T>(
    handle: LocalRuntimeHandle,
    viaAgent: (agent: AgentClient) => Promise<T>,
    fallback: () => Promise<T>,
  ): Promise<T> {
    const agent = this.client(handle);
    if (!agent) return fallback();
    try {
      return await viaAgent(agent);
    } catch (error) {
      if (error instanceof AgentRequestError && error.status === 0) return fallback();
      if (error instanceof AgentRequestError && error.status === 410)
        throw new RuntimeStartError('the desktop is no longer running');
      throw new RuntimeStartError(error instanceof Error ? error.message : String(error));
    }
  }

  async pause(handle: RuntimeHandle): Promise<void> {
    const h = asLocal(handle);
    await this.withAgent(
      h,
      async (agent) => void (await agent.pause()),
      async () => {
        if (!(await this.isOurs(h)) || !this.signalGroup(h.pgid, 'SIGSTOP')) {
          throw new RuntimeStartError('the desktop is no longer running');
        }
        await this.waitForState(h.pid, (s) => s === 'T');
      },
    );
  }

  async resume(handle: RuntimeHandle): Promise<void> {
    const h = asLocal(handle);
    await this.withAgent(
      h,
      async (agent) => void (await agent.resume()),
      async () => {
        if (!(await this.isOurs(h)) || !this.signalGroup(h.pgid, 'SIGCONT')) {
          throw new RuntimeStartError('the desktop is no longer running');
        }
        await this.waitForState(h.pid, (s) => s !== 'T');
      },
    );
  }

  async stop(handle: RuntimeHandle): Promise<void> {
    const h = asLocal(handle);
    const agent = this.client(h);
    if (agent) await agent.stop().catch(() => undefined); // ends the desktop, then the agent exits
    if (!(await this.isOurs(h))) {
      this.signalGroup(h.pgid, 'SIGKILL'); // stragglers of a desktop whose Xvnc is already gone
    } else {
      // A stopped group must be continued, or it never handles SIGTERM.
      this.signalGroup(h.pgid, 'SIGTERM');
      this.signalGroup(h.pgid, 'SIGCONT');
      const ended = await this.waitForState(h.pid, (s) => s === undefined || s === 'Z', 3000).then(
        () => true,
        () => false,
      );
      if (!ended) this.signalGroup(h.pgid, 'SIGKILL');
      await this.waitForState(h.pid, (s) => s === undefined || s === 'Z', 3000).catch(() => undefined);
    }
    // An agent that did not exit by itself (pid checked: pids are reused).
    if (h.agentPid && (await processWorkingDirectory(h.agentPid)) === (await this.resolved(h.workDir))) {
      this.signalGroup(h.agentPid, 'SIGKILL');
    }
  }

  async liveness(handle: RuntimeHandle): Promise<DesktopLiveness> {
    const h = asLocal(handle);
    if (!h.agentUrl || !h.agentToken) return { ok: true }; // a desktop from before the agent: nothing to ask
    try {
      const health = await new AgentClient(h.agentUrl, h.agentToken, LIVENESS_TIMEOUT_MS).health();
      if (health.state === 'exited' || health.xvncPid !== h.pid)
        return { ok: false, reason: 'the desktop has ended' };
      if (health.desktopAnswers === false)
        return { ok: false, reason: 'the desktop is hung (its display server does not answer)' };
      return { ok: true };
    } catch (error) {
      return { ok: false, reason: error instanceof Error ? error.message : String(error) };
    }
  }

  /**
   * Kills the session's agent and desktop outright (a stuck agent answers nothing, a frozen group ignores
   * SIGTERM) and starts a new agent in the same directory: the home is kept, the memory is not.
   */
  async restart(
    sessionId: string,
    handle: RuntimeHandle,
    resources: AllocatedResources,
  ): Promise<LocalRuntimeHandle> {
    const h = asLocal(handle);
    // The agent's pid checked by its directory (pids are reused); a directory removed under it still counts.
    const dir = await this.resolved(h.workDir);
    const cwd = h.agentPid ? await processWorkingDirectory(h.agentPid) : undefined;
    if (h.agentPid && (cwd === dir || cwd === `${dir} (deleted)`)) this.signalGroup(h.agentPid, 'SIGKILL');
    if (await this.isOurs(h)) this.signalGroup(h.pgid, 'SIGKILL');
    await this.killUnder(h.workDir);
    return this.start(sessionId, resources);
  }

  private async resolved(dir: string): Promise<string> {
    return realpath(dir).catch(() => dir);
  }

  async status(handle: RuntimeHandle): Promise<DesktopStatus> {
    const h = asLocal(handle);
    return this.withAgent(
      h,
      async (agent) => {
        const health = await agent.health();
        if (health.state === 'exited' || health.xvncPid !== h.pid) return 'gone';
        return health.state === 'paused' ? 'stopped' : 'running';
      },
      async () => {
        if (!(await this.isOurs(h))) return 'gone';
        const state = await processState(h.pid);
        if (state === undefined || state === 'Z') return 'gone';
        return state === 'T' ? 'stopped' : 'running';
      },
    ).catch((): DesktopStatus => 'gone');
  }

  /** Kills every process whose working directory is inside `dir`, until none is left (a few rounds). */
  private async killUnder(dir: string): Promise<number[]> {
    const root = `${await this.resolved(dir)}/`;
    const killed = new Set<number>();
    for (let round = 0; round < 3; round++) {
      let found = false;
      for (const { pid, pgid } of await listProcesses()) {
        if (pid === process.pid) continue;
        const cwd = await processWorkingDirectory(pid);
        if (!cwd || !`${cwd}/`.startsWith(root)) continue;
        found = true;
        killed.add(pgid);
        this.signalGroup(pgid, 'SIGKILL');
      }
      if (!found) break;
      await delay(50);
    }
    return [...killed];
  }

  async reclaimOrphans(keep: ReadonlySet<string>): Promise<string[]> {
    // /proc shows resolved paths; the data directory may sit behind a symbolic link.
    const root = `${await this.resolved(this.sessionsDir)}/`;
    const orphans = new Set<string>();
    for (const { pid } of await listProcesses()) {
      if (pid === process.pid) continue;
      const cwd = await processWorkingDirectory(pid);
      if (!cwd?.startsWith(root)) continue;
      // Every agent and desktop process starts in its session's directory: that names its session.
      const sessionId = cwd.slice(root.length).split('/')[0] ?? '';
      if (sessionId && !keep.has(sessionId)) orphans.add(sessionId);
    }
    for (const sessionId of orphans) await this.killUnder(join(this.sessionsDir, sessionId));
    return [...orphans];
  }

  async sample(handle: RuntimeHandle): Promise<DesktopSample | undefined> {
    const h = asLocal(handle);
    const fromProc = async (): Promise<DesktopSample | undefined> => {
      if (!(await this.isOurs(h))) return undefined;
      const usage = await processGroupUsage(h.pgid);
      return { cpuSeconds: usage.cpuSeconds, memoryBytes: usage.memoryBytes, gpuPercent: null };
    };
    return this.withAgent(
      h,
      async (agent) => {
        const m = await agent.metrics();
        return { cpuSeconds: m.cpuSeconds, memoryBytes: m.memoryBytes, gpuPercent: m.gpuPercent };
      },
      fromProc,
    ).catch(() => undefined);
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
