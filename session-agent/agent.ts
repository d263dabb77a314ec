import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MetricsReader, type MetricsSource } from './metrics.ts';
import { groupMembers } from './proc.ts';
import {
  AGENT_CONTROL_PORT,
  AGENT_ROUTES,
  RFB_PORT,
  type AgentHealth,
  type AgentMetrics,
} from './protocol.ts';

export const DESKTOP_LAUNCHER = fileURLToPath(new URL('./desktop-launcher.sh', import.meta.url));

export interface AgentConfig {
  /** The per-session secret every control request must carry as a bearer token. */
  token: string;
  /** The VNC password (at most 8 characters are used by VNC Authentication). */
  vncPassword: string;
  rfbPort: number;
  /** 0 picks a free port (the local runtime); a pod uses AGENT_CONTROL_PORT. */
  controlPort: number;
  /** Address the control endpoint and Xvnc listen on; 0.0.0.0 in a pod. */
  bindAddress: string;
  geometry: string;
  xvncBin: string;
  windowManager: string;
  terminal: string;
  /** Logs and the VNC password file; never the user's home. */
  sessionDir: string;
  startTimeoutMs: number;
  metrics: MetricsSource;
  /** The environment the desktop's processes get (HOME, PATH, LANG, SHELL …). */
  desktopEnv: NodeJS.ProcessEnv;
}

export class AgentConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 3_600_000) {
    throw new AgentConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  }
  return value;
}

/** The agent's configuration from its environment (a pod spec's env, or the local runtime's spawn). */
export function agentConfigFromEnv(env: NodeJS.ProcessEnv, cwd = process.cwd()): AgentConfig {
  const token = env.AGENT_TOKEN ?? '';
  const vncPassword = env.VNC_PASSWORD ?? '';
  if (token.length < 16) throw new AgentConfigError('AGENT_TOKEN must be set (at least 16 characters)');
  if (!vncPassword) throw new AgentConfigError('VNC_PASSWORD must be set');
  const metrics = env.AGENT_METRICS || 'auto';
  if (!['auto', 'cgroup', 'proc'].includes(metrics))
    throw new AgentConfigError(`AGENT_METRICS must be auto, cgroup or proc, got "${metrics}"`);
  const { AGENT_TOKEN: _t, VNC_PASSWORD: _p, ...rest } = env;
  return {
    token,
    vncPassword,
    rfbPort: int(env, 'RFB_PORT', RFB_PORT),
    controlPort: int(env, 'AGENT_PORT', AGENT_CONTROL_PORT),
    bindAddress: env.AGENT_BIND_ADDRESS || '0.0.0.0',
    geometry: env.GEOMETRY || '1280x720',
    xvncBin: env.XVNC_BIN || 'Xvnc',
    windowManager: env.DESKTOP_WM || 'openbox',
    terminal: env.DESKTOP_TERMINAL || 'xterm',
    sessionDir: env.SESSION_DIR || cwd,
    startTimeoutMs: int(env, 'AGENT_START_TIMEOUT_MS', 15_000),
    metrics: metrics as MetricsSource,
    // The secrets stay with the agent: the desktop's shell never sees them.
    desktopEnv: rest,
  };
}

export type AgentLog = (level: 'info' | 'warn' | 'error', message: string, extra?: object) => void;

class AgentHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Makes a TigerVNC password file (DES-obfuscated) with the real `vncpasswd`. */
async function writePasswordFile(file: string, password: string): Promise<void> {
  const child = spawn('vncpasswd', ['-f'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const out: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stdin.end(`${password}\n`);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`vncpasswd failed with exit code ${code}`);
  await writeFile(file, Buffer.concat(out), { mode: 0o600 });
}

/**
 * The program inside every session, locally and in a pod: starts the desktop (Xvnc, a window manager and a
 * terminal in a process group of their own), and answers the orchestrator on a control endpoint guarded by the
 * session's secret: health, metrics, pause (SIGSTOP of the desktop's group, memory kept), resume, stop.
 */
export class SessionAgent {
  private server: Server | undefined;
  private paused = false;
  private exiting = false;
  private stopping = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly startedAt = Date.now();
  private readonly expectedDigest: Buffer;
  private metricsReader: MetricsReader | undefined;
  private readonly exitListeners = new Set<(code: number | null) => void>();
  private launcher: ChildProcess | undefined;
  private launcherExit: Promise<number | null> = Promise.resolve(null);
  display = -1;
  xvncPid = -1;
  desktopPgid = -1;

  constructor(
    private readonly config: AgentConfig,
    private readonly log: AgentLog,
  ) {
    this.expectedDigest = createHash('sha256').update(config.token).digest();
  }

  /** Starts the desktop, then the control endpoint; rejects (with nothing left running) when either fails. */
  async start(): Promise<{ controlPort: number }> {
    await this.startDesktop();
    try {
      this.metricsReader = await MetricsReader.create(this.desktopPgid, this.config.metrics);
      const controlPort = await this.listen();
      return { controlPort };
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Called once when the desktop ends on its own (Xvnc exited, killed) or was stopped through the endpoint. */
  onExit(listener: (code: number | null) => void): void {
    this.exitListeners.add(listener);
  }

  private notifyExit(code: number | null): void {
    for (const listener of this.exitListeners) listener(code);
    this.exitListeners.clear();
  }

  private async lastLogLines(): Promise<string> {
    const log = await readFile(join(this.config.sessionDir, 'xvnc.log'), 'utf8').catch(() => '');
    return log.trim().split('\n').slice(-3).join(' | ');
  }

  private async startDesktop(): Promise<void> {
    const c = this.config;
    const passwordFile = join(c.sessionDir, '.vncpasswd');
    await writePasswordFile(passwordFile, c.vncPassword);
    const everywhere = c.bindAddress === '0.0.0.0' || c.bindAddress === '::';
    const loopbackOnly = c.bindAddress === '127.0.0.1' || c.bindAddress === 'localhost';
    const child = spawn('sh', [DESKTOP_LAUNCHER], {
      detached: true, // the desktop's own process group: pause freezes it and never the agent
      stdio: ['ignore', 'pipe', 'ignore'],
      env: {
        ...c.desktopEnv,
        XVNC_BIN: c.xvncBin,
        RFB_PORT: String(c.rfbPort),
        RFB_LOCALHOST: loopbackOnly ? 'yes' : 'no',
        RFB_INTERFACE: everywhere || loopbackOnly ? '' : c.bindAddress,
        PASSWORD_FILE: passwordFile,
        GEOMETRY: c.geometry,
        SESSION_DIR: c.sessionDir,
        DESKTOP_WM: c.windowManager,
        DESKTOP_TERMINAL: c.terminal,
      },
    });
    if (child.pid === undefined) {
      await new Promise((r) => child.once('error', r));
      throw new Error('the desktop launcher could not be started');
    }
    this.launcher = child;
    this.desktopPgid = child.pid;
    this.launcherExit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));

    const ready = await new Promise<{ display: number; pid: number }>((resolve, reject) => {
      let output = '';
      let failed = false;
      // The kill below makes the launcher exit too; only the first reason (e.g. the timeout) is reported.
      const fail = async (why: string): Promise<void> => {
        if (failed) return;
        failed = true;
        clearTimeout(timer);
        this.signalDesktop('SIGKILL');
        const lastLines = await this.lastLogLines();
        reject(new Error(lastLines ? `${why}: ${lastLines}` : why));
      };
      const timer = setTimeout(
        () => void fail(`the desktop did not come up within ${c.startTimeoutMs} ms`),
        c.startTimeoutMs,
      );
      child.once('error', (e) => void fail(`the desktop launcher failed: ${e.message}`));
      const onExit = (code: number | null): void =>
        void fail(`the display server exited (code ${code ?? 'signal'})`);
      child.once('exit', onExit);
      child.stdout?.on('data', (d: Buffer) => {
        output += d.toString();
        const m = /^ready (\d+) (\d+)$/m.exec(output);
        if (m) {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve({ display: Number(m[1]), pid: Number(m[2]) });
        }
      });
    });
    this.display = ready.display;
    this.xvncPid = ready.pid;
    void this.launcherExit.then((code) => {
      if (this.stopping) return; // stop() reports its own end
      this.log('warn', 'the desktop ended on its own', { code });
      this.exiting = true;
      this.server?.close();
      this.server?.closeAllConnections();
      this.notifyExit(code);
    });
    this.log('info', 'desktop ready', { display: this.display, xvncPid: this.xvncPid });
  }

  private listen(): Promise<number> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.controlPort, this.config.bindAddress, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  private authorised(req: IncomingMessage): boolean {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (!m?.[1]) return false;
    // Equal-length digests, compared in constant time: the token's length and content leak nothing.
    return timingSafeEqual(createHash('sha256').update(m[1]).digest(), this.expectedDigest);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    req.resume();
    if (!this.authorised(req)) {
      res.setHeader('www-authenticate', 'Bearer realm="v-supercore-session-agent"');
      send(401, { error: 'unauthorised' });
      return;
    }
    const route = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    try {
      switch (route) {
        case `GET ${AGENT_ROUTES.health}`:
          return send(200, await this.health());
        case `GET ${AGENT_ROUTES.metrics}`:
          return send(200, await this.metrics());
        case `POST ${AGENT_ROUTES.pause}`:
          return send(200, await this.serialised(() => this.pause()));
        case `POST ${AGENT_ROUTES.resume}`:
          return send(200, await this.serialised(() => this.resume()));
        case `POST ${AGENT_ROUTES.stop}`:
          await this.serialised(() => this.stop());
          res.once('finish', () => this.notifyExit(0));
          return send(200, { state: 'exited' });
        default:
          return send(404, { error: `no route ${route}` });
      }
    } catch (error) {
      const status = error instanceof AgentHttpError ? error.status : 500;
      send(status, { error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** Pause, resume and stop run one at a time, in the order they arrived. */
  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** True when the display server sends its RFB greeting within `timeoutMs` (it is not hung). */
  private desktopAnswers(timeoutMs = 2000): Promise<boolean> {
    const c = this.config;
    const everywhere = c.bindAddress === '0.0.0.0' || c.bindAddress === '::';
    const host = everywhere || c.bindAddress === 'localhost' ? '127.0.0.1' : c.bindAddress;
    return new Promise((resolve) => {
      const socket = connect({ host, port: c.rfbPort });
      let greeting = '';
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      socket.on('data', (d: Buffer) => {
        greeting += d.toString('latin1');
        if (greeting.length >= 12) done(greeting.startsWith('RFB '));
      });
      socket.on('error', () => done(false));
      socket.on('close', () => done(false));
    });
  }

  async health(): Promise<AgentHealth> {
    const running = !this.exiting && !this.paused;
    const desktopAnswers = running ? await this.desktopAnswers() : null;
    return {
      desktopAnswers,
      state: this.exiting ? 'exited' : this.paused ? 'paused' : 'running',
      display: this.display,
      rfbPort: this.config.rfbPort,
      xvncPid: this.xvncPid,
      desktopPgid: this.desktopPgid,
      freezer: 'signal',
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
    };
  }

  async metrics(): Promise<AgentMetrics> {
    if (!this.metricsReader) throw new AgentHttpError(503, 'the desktop is not running');
    return this.metricsReader.read();
  }

  private signalDesktop(signal: NodeJS.Signals): boolean {
    try {
      process.kill(-this.desktopPgid, signal);
      return true;
    } catch {
      return false; // the group is already gone
    }
  }

  /** Waits until every live process of the desktop satisfies `ok` (e.g. all stopped). */
  private async waitForGroup(ok: (state: string) => boolean, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const members = await groupMembers(this.desktopPgid);
      if (members.length > 0 && members.every((m) => ok(m.state))) return;
      if (members.length === 0) throw new AgentHttpError(410, 'the desktop is no longer running');
      if (Date.now() > deadline) throw new Error('the desktop did not change state in time');
      await delay(10);
    }
  }

  /** Freezes every process of the desktop; their memory stays exactly as it was. */
  async pause(): Promise<AgentHealth> {
    if (this.exiting || !this.signalDesktop('SIGSTOP'))
      throw new AgentHttpError(410, 'the desktop is no longer running');
    await this.waitForGroup((s) => s === 'T' || s === 't');
    this.paused = true;
    this.log('info', 'desktop paused');
    return this.health();
  }

  async resume(): Promise<AgentHealth> {
    if (this.exiting || !this.signalDesktop('SIGCONT'))
      throw new AgentHttpError(410, 'the desktop is no longer running');
    await this.waitForGroup((s) => s !== 'T' && s !== 't');
    this.paused = false;
    this.log('info', 'desktop resumed');
    return this.health();
  }

  /** Ends the desktop (TERM, then KILL after 3 s) and the control endpoint. Safe to call twice. */
  async stop(): Promise<void> {
    this.exiting = true;
    this.stopping = true;
    if (this.launcher && this.launcher.exitCode === null && this.launcher.signalCode === null) {
      // A stopped group must be continued, or it never handles SIGTERM.
      this.signalDesktop('SIGTERM');
      this.signalDesktop('SIGCONT');
      const ended = await Promise.race([this.launcherExit.then(() => true), delay(3000).then(() => false)]);
      if (!ended) {
        this.signalDesktop('SIGKILL');
        await this.launcherExit;
      }
    }
    // Stragglers (a terminal that ignores SIGTERM) go with the group.
    this.signalDesktop('SIGKILL');
    for (let i = 0; i < 100 && (await groupMembers(this.desktopPgid)).length > 0; i++) await delay(10);
    await new Promise<void>((resolve) => {
      if (!this.server?.listening) return resolve();
      // The connection that asked for the stop gets its answer; the server closes once it is written.
      this.server.close(() => undefined);
      this.server.closeIdleConnections();
      resolve();
    });
  }
}
