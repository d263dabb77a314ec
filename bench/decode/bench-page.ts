// The decode benchmark's page: bundled by run-decode-bench.ts with esbuild and driven from Node through
// Playwright. It runs our decoder worker (the real worker/decoder-worker.ts, bundled) and noVNC's RFB
// client one after the other in the same page, and keeps their final frames to compare.
import RFB from '@novnc/novnc';
import { proxy, transfer, wrap, type Remote } from 'comlink';
import type {
  DecoderWorkerApi,
  DecoderWorkerSnapshotApi,
  FrameSnapshot,
  ViewerEvent,
} from '../../worker/decoder-worker-api.ts';
import type { BenchPageApi, FrameComparison, OursPageReport, PageClientReport } from './bench-api.ts';

type WorkerApi = Remote<DecoderWorkerApi & DecoderWorkerSnapshotApi>;

interface Timing {
  handlerMs: number;
  handlerCalls: number;
  error: string | null;
  depth: number;
}

let remote: WorkerApi | null = null;
let ours: { api: WorkerApi; canvas: HTMLCanvasElement; timing: Timing } | null = null;
let oursFrame: FrameSnapshot | null = null;
let novnc: { rfb: RFB; target: HTMLElement; timing: Timing } | null = null;
let novncFrame: Uint8ClampedArray | null = null;

function newTiming(): Timing {
  return { handlerMs: 0, handlerCalls: 0, error: null, depth: 0 };
}

/** Times calls into the page's handlers; calls nested in a timed call are not counted twice. */
function timed<A extends unknown[]>(timing: Timing, fn: (...args: A) => void): (...args: A) => void {
  return function (this: unknown, ...args: A): void {
    if (timing.depth > 0) return fn.apply(this, args);
    timing.depth++;
    const started = performance.now();
    try {
      fn.apply(this, args);
    } finally {
      timing.depth--;
      timing.handlerMs += performance.now() - started;
      timing.handlerCalls++;
    }
  };
}

/**
 * noVNC's work on the main thread enters through three doors, all timed: the WebSocket's onmessage
 * handler (it parses, decodes and draws everything in the receive queue), `_handleMessage` called
 * again when a wait for images is over, and the display's `_scanRenderQ` called when an image has
 * loaded (it draws the queued rectangles). These are noVNC internals, wrapped per instance.
 */
function timeSocket(ws: WebSocket, timing: Timing): void {
  const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
  const set = descriptor?.set;
  if (!set) throw new Error('WebSocket.prototype.onmessage has no setter');
  let installed: ((event: MessageEvent) => void) | null = null;
  Object.defineProperty(ws, 'onmessage', {
    configurable: true,
    enumerable: true,
    get: () => installed,
    set: (handler: ((event: MessageEvent) => void) | null) => {
      installed = handler;
      set.call(ws, handler && timed(timing, (event: MessageEvent) => handler.call(ws, event)));
    },
  });
}

function timeRfb(rfb: RFB, timing: Timing): void {
  rfb._handleMessage = timed(timing, rfb._handleMessage.bind(rfb));
  const display = rfb._display;
  display._scanRenderQ = timed(timing, display._scanRenderQ.bind(display));
}

function report(timing: Timing): PageClientReport {
  return { handlerMs: timing.handlerMs, handlerCalls: timing.handlerCalls, error: timing.error };
}

async function sha256Rgb(rgba: Uint8ClampedArray): Promise<string> {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) {
    rgb[o] = rgba[i] as number;
    rgb[o + 1] = rgba[i + 1] as number;
    rgb[o + 2] = rgba[i + 2] as number;
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', rgb));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

const api: BenchPageApi = {
  async startOurs(url) {
    const canvas = document.createElement('canvas');
    document.body.append(canvas);
    // One worker for every run, as a viewer keeps its worker for the session (and noVNC's code stays
    // loaded in the page): its code is warm after the first run, like noVNC's.
    remote ??= wrap(new Worker('/decoder-worker.js'));
    const offscreen = canvas.transferControlToOffscreen();
    await remote.attach(transfer(offscreen, [offscreen]));
    const timing = newTiming();
    ours = { api: remote, canvas, timing };
    // The page's only work for our client: this callback (throttled 'frame' events and the rest).
    const onEvent = timed(timing, (event: ViewerEvent): void => {
      if (event.type === 'error') timing.error = `${event.code}: ${event.message}`;
    });
    performance.mark('ours:start');
    await remote.connect({ url, protocols: [] }, proxy(onEvent));
  },

  async endOurs(): Promise<OursPageReport> {
    performance.mark('ours:end');
    if (!ours) throw new Error('ours is not running');
    const { api, canvas, timing } = ours;
    ours = null;
    try {
      oursFrame = await api.snapshot();
      const stats = await api.stats();
      await api.disconnect();
      return { ...report(timing), workerUpdates: stats.updates, workerDecodeMs: stats.decodeMs };
    } finally {
      canvas.remove();
    }
  },

  async startNovnc(url) {
    const target = document.createElement('div');
    document.body.append(target);
    const timing = newTiming();
    const ws = new WebSocket(url);
    performance.mark('novnc:start');
    // The socket's onmessage is wrapped before noVNC installs its handler (in the constructor).
    timeSocket(ws, timing);
    const rfb = new RFB(target, ws, { shared: true });
    timeRfb(rfb, timing);
    rfb.viewOnly = true;
    rfb.focusOnClick = false;
    rfb.addEventListener('disconnect', (event) => {
      const clean = (event as CustomEvent<{ clean?: boolean }>).detail?.clean;
      if (clean === false && !timing.error) timing.error = 'noVNC disconnected uncleanly';
    });
    rfb.addEventListener('securityfailure', () => {
      timing.error = 'noVNC security failure';
    });
    novnc = { rfb, target, timing };
  },

  async endNovnc() {
    performance.mark('novnc:end');
    if (!novnc) throw new Error('noVNC is not running');
    const { rfb, target, timing } = novnc;
    novnc = null;
    try {
      await rfb._display.flush();
      const canvas = rfb._canvas;
      const ctx = canvas.getContext('2d');
      if (!ctx) throw new Error('noVNC canvas has no 2d context');
      novncFrame = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      return report(timing);
    } finally {
      rfb.disconnect();
      target.remove();
    }
  },

  async compare(width, height): Promise<FrameComparison> {
    const a = oursFrame;
    const b = novncFrame;
    oursFrame = null;
    novncFrame = null;
    if (!a) throw new Error('no frame of ours to compare');
    const sameSize = a.width === width && a.height === height && b?.length === width * height * 4;
    let maxChannelDiff = 0;
    let differingPixels = 0;
    if (sameSize && b) {
      const x = a.rgba;
      for (let i = 0; i < x.length; i += 4) {
        const d = Math.max(
          Math.abs((x[i] as number) - (b[i] as number)),
          Math.abs((x[i + 1] as number) - (b[i + 1] as number)),
          Math.abs((x[i + 2] as number) - (b[i + 2] as number)),
        );
        if (d > 0) differingPixels++;
        if (d > maxChannelDiff) maxChannelDiff = d;
      }
    }
    return { sameSize, maxChannelDiff, differingPixels, oursRgbSha256: await sha256Rgb(a.rgba) };
  },
};

window.vscDecodeBench = api;
