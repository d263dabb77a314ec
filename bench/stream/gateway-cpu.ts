// Gateway cost per stream: the dev harness (backend adapter) runs in a child process; a real session's desktop is
// resized to 1920x1080 and a full-screen animation keeps every part of it changing; N stream clients (Node
// WebSockets that acknowledge every update at once, as the viewer's worker does) watch it through the adapter's
// gateway. The adapter process's own CPU time (/proc/<pid>/stat utime + stime: not Xvnc, not the animation, not
// these clients) per second gives CPU % per stream, and from it how many such streams one core holds.
// Prints figures; never fails on time.
//   npm run bench:gateway-cpu -- --streams 1,2,4,8 --seconds 8
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pack, unpack } from 'msgpackr';
import WebSocket from 'ws';
import { SqliteCanonStore } from '../../backend-adapter/canon/sqlite-canon-store.ts';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../protocol/handshake.ts';
import { Encoding } from '../../protocol/rfb-encodings.ts';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  HANDSHAKE_SUBPROTOCOL,
  streamSubprotocol,
  type ServerStreamMessage,
} from '../../protocol/stream.ts';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const counts = arg('--streams', '1,2,4,8')
  .split(',')
  .map(Number)
  .filter((n) => Number.isInteger(n) && n > 0);
const seconds = Number(arg('--seconds', '8'));
const WIDTH = 1920;
const HEIGHT = 1080;
const CLOCK_TICKS = 100; // USER_HZ on Linux

/**
 * Photo-like content changing everywhere, ~30 frames/s: a smooth colour field that moves every frame, put on the
 * desktop's root window with XPutImage (libX11 through ctypes, numpy for the pixels). The small xterm on top
 * stays still.
 */
const ANIMATION = `
import ctypes, time, numpy as np
W, H = ${WIDTH}, ${HEIGHT}
x = ctypes.CDLL('libX11.so.6')
vp, ul = ctypes.c_void_p, ctypes.c_ulong
x.XOpenDisplay.restype = vp; x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XDefaultScreen.argtypes = [vp]
x.XRootWindow.restype = ul; x.XRootWindow.argtypes = [vp, ctypes.c_int]
x.XDefaultGC.restype = vp; x.XDefaultGC.argtypes = [vp, ctypes.c_int]
x.XDefaultVisual.restype = vp; x.XDefaultVisual.argtypes = [vp, ctypes.c_int]
x.XCreateImage.restype = vp
x.XCreateImage.argtypes = [vp, vp, ctypes.c_uint, ctypes.c_int, ctypes.c_int, vp, ctypes.c_uint, ctypes.c_uint, ctypes.c_int, ctypes.c_int]
x.XPutImage.argtypes = [vp, ul, vp, vp, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_uint, ctypes.c_uint]
x.XSync.argtypes = [vp, ctypes.c_int]
d = x.XOpenDisplay(None); s = x.XDefaultScreen(d); root = x.XRootWindow(d, s); gc = x.XDefaultGC(d, s)
yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
r = (128 + 110*np.sin(xx*0.011) * np.cos(yy*0.007)).astype(np.uint32)
g = (128 + 110*np.sin(yy*0.013 + xx*0.004)).astype(np.uint32)
b = (128 + 110*np.cos((xx + yy)*0.006)).astype(np.uint32)
base = (r << 16) | (g << 8) | b
buf = np.empty((H, W), dtype=np.uint32)
img = x.XCreateImage(d, x.XDefaultVisual(d, s), 24, 2, 0, buf.ctypes.data, W, H, 32, 0)
k = 0
while True:
    started = time.monotonic()
    k += 1
    np.copyto(buf, np.roll(base, (k*3 % H, k*8 % W), axis=(0, 1)))
    x.XPutImage(d, root, gc, img, 0, 0, 0, 0, W, H); x.XSync(d, 0)
    time.sleep(max(0.0, 1/30 - (time.monotonic() - started)))
`;

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime (14), stime (15)
}

async function startAdapter(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'harness/server/start.ts'], {
    env: { ...process.env, PORT: '0', REMOTE_PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /dev harness: (http:\/\/[^/\s]+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`the adapter exited (${code}) before listening`)));
  });
  return { child, url };
}

interface Client {
  ws: WebSocket;
  bytes: number;
  updates: number;
  /** Largest framebuffer size announced so far (init or a size rectangle). */
  size: { width: number; height: number };
}

function connect(url: string, sessionId: string, token: string): Promise<Client> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/sessions/${sessionId}/stream`, [
    streamSubprotocol(2),
    `${BEARER_SUBPROTOCOL_PREFIX}${token}`,
    HANDSHAKE_SUBPROTOCOL,
  ]);
  const client: Client = { ws, bytes: 0, updates: 0, size: { width: 0, height: 0 } };
  return new Promise((resolve, reject) => {
    ws.on('message', (data: Buffer) => {
      const message = unpack(data) as ServerStreamMessage;
      switch (message.t) {
        case 'init':
          client.size = { width: message.width, height: message.height };
          resolve(client);
          return;
        case 'update':
          client.bytes += data.length;
          client.updates++;
          for (const r of message.rects)
            if (r.encoding === Encoding.DesktopSize || r.encoding === Encoding.ExtendedDesktopSize)
              client.size = { width: r.w, height: r.h };
          ws.send(pack({ t: 'ack', seq: message.seq }));
          return;
        case 'ping':
          ws.send(pack({ t: 'pong', id: message.id }));
          return;
        default:
          return;
      }
    });
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Error(`stream closed with ${code}`)));
  });
}

async function closeAll(clients: Client[]): Promise<void> {
  await Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          c.ws.removeAllListeners('close');
          c.ws.once('close', () => resolve());
          c.ws.close(1000);
        }),
    ),
  );
}

const dataDir = await mkdtemp(join(tmpdir(), 'vsc-bench-gw-'));
const { child, url } = await startAdapter(dataDir);
const pid = child.pid ?? 0;
let animation: ChildProcess | undefined;
let sessionId = '';
let token = '';
const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
  const response = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: {
      [HANDSHAKE_HEADER]: HANDSHAKE,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? null : response.json();
};

const rows: Array<{ n: number; cpuPct: number; perStream: number; mbps: number; fps: number }> = [];
let baselinePct = 0;
try {
  token = (
    (await api('POST', '/dev/login', { userId: 'bench-user', tenantId: 'dev-tenant' })) as { token: string }
  ).token;
  sessionId = ((await api('POST', '/sessions', { tier: 'basic' })) as { sessionId: string }).sessionId;
  for (let i = 0; i < 200; i++) {
    const s = (await api('GET', `/sessions/${sessionId}`)) as { state: string };
    if (s.state === 'active') break;
    if (s.state === 'failed') throw new Error('the session failed to start');
    await delay(100);
  }
  const canon = new SqliteCanonStore(join(dataDir, 'canon.sqlite'));
  const row = await canon.getSession(sessionId);
  await canon.close();
  if (row?.runtime?.kind !== 'local') throw new Error('no local desktop');
  const display = row.runtime.display;

  // One viewer asks for 1920x1080 (SetDesktopSize through the gateway), then leaves.
  const setup = await connect(url, sessionId, token);
  setup.ws.send(pack({ t: 'resize', width: WIDTH, height: HEIGHT }));
  for (let i = 0; i < 100 && (setup.size.width !== WIDTH || setup.size.height !== HEIGHT); i++)
    await delay(50);
  if (setup.size.width !== WIDTH)
    throw new Error(`the desktop stayed ${setup.size.width}x${setup.size.height}`);
  await closeAll([setup]);

  animation = spawn('python3', ['-c', ANIMATION], {
    env: { ...process.env, DISPLAY: `:${display}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let animationError = '';
  let animationEnded = false;
  animation.stderr?.on('data', (d: Buffer) => (animationError += d.toString()));
  animation.once('error', (e) => (animationError += e.message));
  animation.once('close', () => (animationEnded = true));
  await delay(2000);
  // Without the animation every figure below would describe an idle desktop: stop with the reason instead.
  if (animationEnded || animationError.includes('ENOENT'))
    throw new Error(
      `the animation (python3 with numpy) did not run: ${animationError.trim().split('\n').at(-1) ?? ''}`,
    );

  const measure = async (clients: Client[]): Promise<{ cpuPct: number; bytes: number; updates: number }> => {
    await delay(2000); // warm-up: first full frames, JIT
    const bytes0 = clients.reduce((a, c) => a + c.bytes, 0);
    const updates0 = clients.reduce((a, c) => a + c.updates, 0);
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    await delay(seconds * 1000);
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(pid) - cpu0;
    return {
      cpuPct: (cpu / wall) * 100,
      bytes: (clients.reduce((a, c) => a + c.bytes, 0) - bytes0) / wall,
      updates: (clients.reduce((a, c) => a + c.updates, 0) - updates0) / wall,
    };
  };

  baselinePct = (await measure([])).cpuPct;
  for (const n of counts) {
    const clients: Client[] = [];
    for (let i = 0; i < n; i++) clients.push(await connect(url, sessionId, token));
    const m = await measure(clients);
    await closeAll(clients);
    const perStream = Math.max(m.cpuPct - baselinePct, 0) / n;
    rows.push({ n, cpuPct: m.cpuPct, perStream, mbps: m.bytes / n / 1e6, fps: m.updates / n });
    await delay(500);
  }
} finally {
  animation?.kill('SIGTERM');
  if (sessionId) await api('DELETE', `/sessions/${sessionId}`).catch(() => undefined);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await rm(dataDir, { recursive: true, force: true });
}

console.log(
  `gateway CPU per stream: ${WIDTH}x${HEIGHT} desktop, full-screen animation, clients ack every update (load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')})`,
);
console.log(`  adapter idle with the animation running, no stream: ${baselinePct.toFixed(1)} % of a core`);
console.log(
  '  streams  adapter CPU %  per stream %  updates/s per stream  MB/s per stream  CPU ms per MB  streams per core',
);
for (const r of rows) {
  const perCore = r.perStream > 0 ? 100 / r.perStream : Infinity;
  // The gateway never touches pixels: its cost follows the bytes it frames and forwards.
  const msPerMb = r.mbps > 0 ? (r.perStream * 10) / r.mbps : NaN;
  console.log(
    `  ${String(r.n).padStart(7)}  ${r.cpuPct.toFixed(1).padStart(13)}  ${r.perStream.toFixed(2).padStart(12)}  ${r.fps
      .toFixed(1)
      .padStart(20)}  ${r.mbps.toFixed(2).padStart(15)}  ${msPerMb.toFixed(1).padStart(13)}  ${perCore
      .toFixed(1)
      .padStart(16)}`,
  );
}
const first = rows[0];
if (first && first.perStream > 0) {
  const msPerMb = (first.perStream * 10) / first.mbps;
  console.log(
    `  one core holds ≈ ${(100 / first.perStream).toFixed(0)} streams at the single-stream rate (${first.mbps.toFixed(2)} MB/s, ${first.fps.toFixed(0)} updates/s each); ≈ ${(1000 / msPerMb).toFixed(0)} MB/s of forwarded updates per core`,
  );
  console.log(
    '  (with more streams the one desktop encodes each stream itself, so each gets fewer bytes; per-stream CPU falls with them)',
  );
}
