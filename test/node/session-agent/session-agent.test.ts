import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findFreePort, isPortListening } from '../../../backend-adapter/runtime/local/free-port.ts';
import { groupMembers } from '../../../session-agent/proc.ts';
import type { AgentHealth, AgentMetrics, AgentReadyLine } from '../../../session-agent/protocol.ts';

const ENTRY = fileURLToPath(new URL('../../../session-agent/main.ts', import.meta.url));
const TOKEN = 'a-per-session-secret-of-some-length';

/** Starts the agent as the local runtime does; resolves with its ready (or failed) line. */
async function startAgent(
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; line: AgentReadyLine; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), ENTRY], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { PATH: process.env.PATH, HOME: dir, AGENT_PORT: '0', AGENT_BIND_ADDRESS: '127.0.0.1', ...env },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = await new Promise<AgentReadyLine>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0] ?? '') as AgentReadyLine);
    });
    child.once('exit', () => reject(new Error(`the agent exited before a line: ${out}`)));
  });
  return { child, line, exited };
}

describe('session agent (real Xvnc desktop, control endpoint)', () => {
  let dir: string;
  let agent: Awaited<ReturnType<typeof startAgent>>;
  let ready: Extract<AgentReadyLine, { event: 'ready' }>;
  let base: string;
  const call = (path: string, init: { method?: string; token?: string | null } = {}) =>
    fetch(base + path, {
      method: init.method ?? 'GET',
      headers: init.token === null ? {} : { authorization: `Bearer ${init.token ?? TOKEN}` },
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-agent-'));
    agent = await startAgent(dir, {
      AGENT_TOKEN: TOKEN,
      VNC_PASSWORD: 'secret12',
      RFB_PORT: String(await findFreePort('127.0.0.1')),
      GEOMETRY: '800x600',
      AGENT_METRICS: 'proc',
    });
    assert.equal(agent.line.event, 'ready', JSON.stringify(agent.line));
    ready = agent.line as typeof ready;
    base = `http://127.0.0.1:${ready.controlPort}`;
  });
  after(async () => {
    for (const pgid of [agent?.child.pid, ready?.desktopPgid]) {
      try {
        if (pgid) process.kill(-pgid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses requests without the session’s bearer secret, whatever its length', async () => {
    for (const token of [null, '', 'wrong', TOKEN.slice(0, -1), `${TOKEN}x`]) {
      const res = await call('/v1/health', { token });
      assert.equal(res.status, 401, `token ${JSON.stringify(token)}`);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
    assert.equal((await call('/v1/pause', { method: 'POST', token: 'wrong' })).status, 401);
    assert.equal((await call('/v1/nope')).status, 404);
  });

  it('reports health and the desktop it runs (Xvnc, window manager, terminal in their own process group)', async () => {
    const health = (await (await call('/v1/health')).json()) as AgentHealth;
    assert.equal(health.state, 'running');
    assert.equal(health.xvncPid, ready.xvncPid);
    assert.equal(health.desktopPgid, ready.desktopPgid);
    assert.notEqual(health.desktopPgid, agent.child.pid, 'pausing the desktop never freezes the agent');
    assert.ok(await isPortListening('127.0.0.1', ready.rfbPort));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await groupMembers(ready.desktopPgid)).length >= 3);
  });

  it('reports CPU and memory from /proc outside a pod, GPU as null without nvidia-smi', async () => {
    const m = (await (await call('/v1/metrics')).json()) as AgentMetrics;
    assert.equal(m.source, 'proc');
    assert.ok(m.memoryBytes > 1024 * 1024, `${m.memoryBytes} bytes`);
    assert.ok(m.cpuSeconds >= 0);
    assert.equal(m.gpuPercent, null);
  });

  it('pauses (every desktop process stopped, memory kept) and resumes; the agent keeps answering', async () => {
    const before = (await (await call('/v1/metrics')).json()) as AgentMetrics;
    const paused = (await (await call('/v1/pause', { method: 'POST' })).json()) as AgentHealth;
    assert.equal(paused.state, 'paused');
    const members = await groupMembers(ready.desktopPgid);
    assert.ok(
      members.every((m) => m.state === 'T'),
      JSON.stringify(members),
    );
    const during = (await (await call('/v1/metrics')).json()) as AgentMetrics;
    assert.ok(during.memoryBytes >= before.memoryBytes * 0.9, 'memory is kept while paused');
    const resumed = (await (await call('/v1/resume', { method: 'POST' })).json()) as AgentHealth;
    assert.equal(resumed.state, 'running');
    assert.ok((await groupMembers(ready.desktopPgid)).every((m) => m.state !== 'T'));
  });

  it('stops: the desktop ends, the port closes, the agent exits', async () => {
    await call('/v1/pause', { method: 'POST' });
    const res = await call('/v1/stop', { method: 'POST' });
    assert.equal(res.status, 200);
    assert.equal(await agent.exited, 0);
    assert.deepEqual(await groupMembers(ready.desktopPgid), []);
    assert.equal(await isPortListening('127.0.0.1', ready.rfbPort), false);
  });

  it('exits when its desktop ends on its own (the session is over)', async () => {
    const other = await startAgent(dir, {
      AGENT_TOKEN: TOKEN,
      VNC_PASSWORD: 'secret12',
      RFB_PORT: String(await findFreePort('127.0.0.1')),
    });
    assert.equal(other.line.event, 'ready');
    if (other.line.event !== 'ready') return;
    process.kill(-other.line.desktopPgid, 'SIGKILL');
    assert.equal(await other.exited, 1);
  });

  it('refuses to start without its secrets, saying why', async () => {
    const bad = await startAgent(dir, { VNC_PASSWORD: 'x' });
    assert.deepEqual(bad.line, {
      event: 'failed',
      reason: 'AGENT_TOKEN must be set (at least 16 characters)',
    });
    assert.equal(await bad.exited, 1);
  });
});
