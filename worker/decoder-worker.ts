import { expose } from 'comlink';
import { Packr, Unpackr } from 'msgpackr';
import type { ClientStreamMessage } from '../protocol/stream.ts';
import type {
  DecoderWorkerApi,
  StreamConnectOptions,
  StreamStats,
  ViewerEvent,
} from './decoder-worker-api.ts';
import { StreamDecoder } from './stream-decoder.ts';
import type { Rect } from './framebuffer.ts';

/** At most this many 'frame' events per second cross to the main thread (acks are not throttled). */
const FRAME_EVENT_INTERVAL_MS = 250;
const PROTOCOL_ERROR_CLOSE = 4400;

// Records off: the gateway sends plain maps, and bin must arrive as Uint8Array, not a record structure.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
const packr = new Packr({ useRecords: false });

type Emit = (event: ViewerEvent) => void;

let ctx: OffscreenCanvasRenderingContext2D | null = null;
let image: ImageData | null = null;
let socket: WebSocket | null = null;
let decoder = new StreamDecoder();
let stats: StreamStats = { updates: 0, rects: 0, bytes: 0, decodeMs: 0 };
// Frame reports waiting for the throttle window: totals since the last 'frame' event.
let pending: { seq: number; rects: number; decodeMs: number } | null = null;
let lastFrameEventAt = -Infinity;
let frameTimer: ReturnType<typeof setTimeout> | null = null;

/** A copy, because msgpackr packs into a buffer it reuses (and types it as a Node Buffer). */
function encode(message: ClientStreamMessage): Uint8Array<ArrayBuffer> {
  return new Uint8Array(packr.pack(message));
}

/** Comlink callbacks return promises; a page that went away must not cause unhandled rejections. */
function safe(onEvent: Emit): Emit {
  return (event) => {
    try {
      const result: unknown = onEvent(event);
      if (result instanceof Promise) result.catch(() => undefined);
    } catch {
      // The page is gone or its handler threw; neither is ours to handle.
    }
  };
}

/** Draws the given region of the framebuffer, reusing one ImageData over its pixel buffer. */
function draw(region: Rect | null): void {
  const fb = decoder.framebuffer;
  if (!ctx || !region || fb.width === 0 || fb.height === 0) return;
  const canvas = ctx.canvas;
  if (canvas.width !== fb.width || canvas.height !== fb.height) {
    canvas.width = fb.width;
    canvas.height = fb.height;
    region = { x: 0, y: 0, w: fb.width, h: fb.height };
  }
  if (!image || image.data !== fb.data) image = new ImageData(fb.data, fb.width, fb.height);
  ctx.putImageData(image, 0, 0, region.x, region.y, region.w, region.h);
}

function reportFrame(emit: Emit, seq: number, rects: number, decodeMs: number): void {
  pending = {
    seq,
    rects: (pending?.rects ?? 0) + rects,
    decodeMs: (pending?.decodeMs ?? 0) + decodeMs,
  };
  const flush = (): void => {
    frameTimer = null;
    if (!pending) return;
    lastFrameEventAt = performance.now();
    emit({ type: 'frame', ...pending });
    pending = null;
  };
  const wait = lastFrameEventAt + FRAME_EVENT_INTERVAL_MS - performance.now();
  if (wait <= 0) flush();
  else frameTimer ??= setTimeout(flush, wait);
}

function handleMessage(ws: WebSocket, emit: Emit, raw: unknown): void {
  if (!(raw instanceof ArrayBuffer)) throw new Error('stream messages must be binary');
  stats.bytes += raw.byteLength;
  const started = performance.now();
  const outcome = decoder.apply(unpackr.unpack(new Uint8Array(raw)));
  switch (outcome.type) {
    case 'init': {
      const region = { x: 0, y: 0, w: outcome.width, h: outcome.height };
      draw(region);
      emit({ type: 'connected', width: outcome.width, height: outcome.height, name: outcome.name });
      return;
    }
    case 'update': {
      draw(outcome.dirty);
      // Unpack + decode + draw: everything this update cost the worker.
      const decodeMs = performance.now() - started;
      const ack: ClientStreamMessage = { t: 'ack', seq: outcome.seq };
      ws.send(encode(ack));
      stats.updates++;
      stats.rects += outcome.rects;
      stats.decodeMs += decodeMs;
      if (outcome.resized) {
        emit({ type: 'resize', width: decoder.framebuffer.width, height: decoder.framebuffer.height });
      }
      reportFrame(emit, outcome.seq, outcome.rects, decodeMs);
      return;
    }
    case 'bell':
      emit({ type: 'bell' });
      return;
    case 'clipboard':
      emit({ type: 'clipboard', text: outcome.text });
      return;
    case 'error':
      emit({ type: 'error', code: outcome.code, message: outcome.message });
      return;
    case 'state':
    case 'ignored':
      // ViewerEvent has no session-state event; the module learns state from the REST API.
      return;
  }
}

function closeSocket(code: number, reason: string): void {
  if (socket && socket.readyState <= WebSocket.OPEN) socket.close(code, reason);
}

const api: DecoderWorkerApi = {
  attach(canvas) {
    ctx = canvas.getContext('2d', { alpha: false });
    image = null;
    const fb = decoder.framebuffer;
    draw({ x: 0, y: 0, w: fb.width, h: fb.height });
  },

  connect(options: StreamConnectOptions, onEvent) {
    if (socket) {
      // Replacing a connection: the old one's events must not reach the new listener.
      const old = socket;
      old.onopen = old.onmessage = old.onerror = old.onclose = null;
      if (old.readyState <= WebSocket.OPEN) old.close(1000, 'replaced');
    }
    const emit = safe(onEvent);
    decoder = new StreamDecoder();
    stats = { updates: 0, rects: 0, bytes: 0, decodeMs: 0 };
    pending = null;
    if (frameTimer !== null) clearTimeout(frameTimer);
    frameTimer = null;
    let failed = false;
    const ws = new WebSocket(options.url, options.protocols);
    ws.binaryType = 'arraybuffer';
    socket = ws;
    ws.onmessage = (event: MessageEvent) => {
      if (failed) return;
      try {
        handleMessage(ws, emit, event.data);
      } catch (error) {
        // The stream cannot be trusted after one bad message (zlib state, for one), so end it.
        failed = true;
        const message = error instanceof Error ? error.message : String(error);
        emit({ type: 'error', code: 'DECODE_ERROR', message });
        // close() throws on a reason over 123 bytes of UTF-8; keep it short and ASCII.
        ws.close(PROTOCOL_ERROR_CLOSE, message.replace(/[^\x20-\x7e]/g, '?').slice(0, 120));
      }
    };
    ws.onclose = (event: CloseEvent) => {
      if (socket === ws) socket = null;
      if (frameTimer !== null) {
        clearTimeout(frameTimer);
        frameTimer = null;
      }
      if (pending) emit({ type: 'frame', ...pending });
      pending = null;
      emit({ type: 'closed', code: event.code, reason: event.reason });
    };
  },

  send(message: ClientStreamMessage) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(encode(message));
  },

  disconnect() {
    closeSocket(1000, 'viewer disconnected');
  },

  stats() {
    return { ...stats };
  },
};

expose(api);
