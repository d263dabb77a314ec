import { expose, transfer } from 'comlink';
import { Packr, Unpackr } from 'msgpackr';
import {
  CLIENT_MESSAGE_VERSION,
  STREAM_PROBE_INTERVAL_MS,
  STREAM_PROBE_TIMEOUT_MS,
  StreamCloseCode,
  streamVersionOf,
  type ClientStreamMessage,
  type RtcSignal,
} from '../protocol/stream.ts';
import { WORKSPACE_ROLES, type WorkspaceRole } from '../protocol/workspace-constants.ts';
import type {
  DecoderWorkerApi,
  DecoderWorkerSnapshotApi,
  StreamConnectOptions,
  StreamStats,
  ViewerEvent,
} from './decoder-worker-api.ts';
import type { Framebuffer, Rect } from './framebuffer.ts';
import { StreamDecoder, type StreamOutcome } from './stream-decoder.ts';
import { WorkerDataChannel } from './stream-datachannel.ts';

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
const freshStats = (): StreamStats => ({
  updates: 0,
  rects: 0,
  bytes: 0,
  decodeMs: 0,
  rttMs: null,
  version: 0,
  transport: 'websocket',
});
let stats: StreamStats = freshStats();
// Frame reports waiting for the throttle window: totals since the last 'frame' event.
let pending: { seq: number; rects: number; decodeMs: number } | null = null;
let lastFrameEventAt = -Infinity;
let frameTimer: ReturnType<typeof setTimeout> | null = null;

/**
 * One stream's receiving side. Messages are applied strictly one after another: an update with Tight
 * JPEG rectangles finishes asynchronously (the browser decodes the images), and whatever arrives
 * meanwhile waits in `queue`, so updates are drawn and acknowledged in order and a message never
 * overtakes the update before it.
 */
interface Connection {
  ws: WebSocket;
  emit: Emit;
  decoder: StreamDecoder;
  queue: unknown[];
  busy: boolean;
  failed: boolean;
  /** snapshot() calls waiting for the queue to drain. */
  idle: Array<() => void>;
  /** Negotiated protocol version (from the WebSocket's subprotocol); 0 until open. */
  version: number;
  /** Latency probes sent and not answered yet, by id, with their send time. */
  probes: Map<number, number>;
  nextProbeId: number;
  probeTimer: ReturnType<typeof setInterval> | undefined;
  /** The WebRTC DataChannel the page handed over (null: none, or it ended before the switch). */
  channel: WorkerDataChannel | null;
  /** Where the gateway's messages come from and ours go: the DataChannel once `transport` arrived. */
  via: 'websocket' | 'datachannel';
  /** DataChannel messages that arrived before the WebSocket's `transport`: they come after it. */
  early: Uint8Array[];
}

function isWorkspaceRole(value: unknown): value is WorkspaceRole {
  return typeof value === 'string' && (WORKSPACE_ROLES as readonly string[]).includes(value);
}

/** Server messages of protocol v2 that concern the link, not the picture: handled here, never queued. */
function handleControl(conn: Connection, message: unknown): boolean {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as { t?: unknown; id?: unknown };
  switch (m.t) {
    case 'ping':
      if (typeof m.id === 'number') sendOn(conn, { t: 'pong', id: m.id });
      return true;
    case 'pong': {
      const sentAt = typeof m.id === 'number' ? conn.probes.get(m.id) : undefined;
      if (sentAt === undefined || typeof m.id !== 'number') return true;
      conn.probes.delete(m.id);
      if (conn === current) stats.rttMs = Math.round((performance.now() - sentAt) * 10) / 10;
      return true;
    }
    case 'stats':
      return true; // the gateway's own measurement; ours is the same round trip
    case 'rtc': {
      // WebRTC signalling for the page's peer connection (the worker cannot hold one).
      const signal = (message as { signal?: unknown }).signal;
      if (conn === current && typeof signal === 'object' && signal !== null)
        conn.emit({ type: 'rtc', signal: signal as RtcSignal });
      return true;
    }
    case 'transport':
      switchToDataChannel(conn);
      return true;
    case 'access': {
      // Workspace viewers: the gateway drops our input while `input` is false; the page shows it.
      const a = message as { role?: unknown; input?: unknown };
      if (typeof a.input !== 'boolean' || !isWorkspaceRole(a.role)) return true;
      if (conn === current) conn.emit({ type: 'access', role: a.role, input: a.input });
      return true;
    }
    default:
      return false;
  }
}

/** Sends on the connection if it is open and the negotiated version knows the message. */
function sendOn(conn: Connection, message: ClientStreamMessage): void {
  if (conn.ws.readyState !== WebSocket.OPEN) return;
  if (CLIENT_MESSAGE_VERSION[message.t] > conn.version) return; // an older gateway would refuse it
  // Signalling always travels on the WebSocket; everything else on the transport in use.
  if (conn.via === 'datachannel' && message.t !== 'rtc') conn.channel?.send(encode(message));
  else conn.ws.send(encode(message));
}

/**
 * The gateway's last message on the WebSocket: the stream continues on the DataChannel. What already
 * arrived there is applied next, before anything queued behind this message.
 */
function switchToDataChannel(conn: Connection): void {
  if (conn.via === 'datachannel') return;
  if (!conn.channel?.usable) {
    // The gateway switched to a channel we no longer have: the stream cannot go on; reconnect.
    dropConnection(conn, StreamCloseCode.TransportLost, 'the DataChannel is gone');
    return;
  }
  conn.via = 'datachannel';
  conn.queue.unshift(...conn.early);
  conn.early = [];
  if (conn !== current) return;
  stats.transport = 'datachannel';
  conn.emit({ type: 'transport', via: 'datachannel' });
}

/** Takes the page's DataChannel for the current connection (before or after it opened). */
function adoptDataChannel(conn: Connection, channel: RTCDataChannel): void {
  conn.channel?.close();
  conn.channel = new WorkerDataChannel(
    channel,
    (message) => {
      if (conn.failed) return;
      if (conn.via !== 'datachannel') {
        conn.early.push(message);
        return;
      }
      conn.queue.push(message);
      if (!conn.busy) pump(conn);
    },
    (reason) => {
      if (conn.via === 'datachannel') dropConnection(conn, StreamCloseCode.TransportLost, reason);
      else conn.channel = null; // never switched: the stream simply stays on the WebSocket
    },
  );
}

/** A latency probe every STREAM_PROBE_INTERVAL_MS; a link with a probe unanswered for too long is dead. */
function probe(conn: Connection): void {
  const now = performance.now();
  for (const sentAt of conn.probes.values()) {
    if (now - sentAt > STREAM_PROBE_TIMEOUT_MS) {
      dropConnection(conn, 4408, 'the gateway stopped answering');
      return;
    }
  }
  const id = conn.nextProbeId++;
  conn.probes.set(id, now);
  sendOn(conn, { t: 'ping', id });
}

/** Ends a connection that is dead without a close from the other side (a network drop). */
function dropConnection(conn: Connection, code: number, reason: string): void {
  const { ws } = conn;
  clearInterval(conn.probeTimer);
  conn.channel?.close();
  ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
  if (ws.readyState <= WebSocket.OPEN) ws.close(4000, reason);
  if (socket === ws) socket = null;
  if (conn === current) conn.emit({ type: 'closed', code, reason });
}

let current: Connection | null = null;

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
function draw(fb: Framebuffer, region: Rect | null): void {
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

/**
 * Regions whose union box is more than this many times their total area are put one by one: a
 * terminal's few lines at the top and bottom of the screen should not cost a full-screen putImageData.
 */
const SEPARATE_REGIONS_GAIN = 2;
const MAX_SEPARATE_REGIONS = 32;

/** Draws an update: its regions one by one when that puts far fewer pixels, else their union box. */
function drawUpdate(fb: Framebuffer, dirty: Rect | null, regions: Rect[], resized: boolean): void {
  if (!dirty) return;
  if (resized || regions.length < 2 || regions.length > MAX_SEPARATE_REGIONS) return draw(fb, dirty);
  let area = 0;
  for (const r of regions) area += r.w * r.h;
  if (area * SEPARATE_REGIONS_GAIN > dirty.w * dirty.h) return draw(fb, dirty);
  for (const r of regions) if (r.w > 0 && r.h > 0) draw(fb, r);
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

/** Applies one message; returns a promise when it finishes asynchronously (an update with JPEG). */
function handleMessage(conn: Connection, raw: unknown): void | Promise<void> {
  // ArrayBuffer from the WebSocket, Uint8Array (a joined or header-stripped view) from the DataChannel.
  if (!(raw instanceof ArrayBuffer) && !(raw instanceof Uint8Array))
    throw new Error('stream messages must be binary');
  stats.bytes += raw.byteLength;
  const started = performance.now();
  const value: unknown = unpackr.unpack(raw instanceof Uint8Array ? raw : new Uint8Array(raw));
  if (handleControl(conn, value)) return;
  const outcome = conn.decoder.applyMessage(value);
  if (outcome instanceof Promise) return outcome.then((done) => finishMessage(conn, done, started));
  finishMessage(conn, outcome, started);
}

function finishMessage(conn: Connection, outcome: StreamOutcome, started: number): void {
  // Replaced by a new connection while this update was decoding: it draws nothing any more.
  if (conn !== current) return;
  const { emit } = conn;
  const fb = conn.decoder.framebuffer;
  switch (outcome.type) {
    case 'init': {
      const region = { x: 0, y: 0, w: outcome.width, h: outcome.height };
      draw(fb, region);
      emit({ type: 'connected', width: outcome.width, height: outcome.height, name: outcome.name });
      return;
    }
    case 'update': {
      drawUpdate(fb, outcome.dirty, conn.decoder.lastRegions, outcome.resized);
      stats.lastDrawnAt = performance.timeOrigin + performance.now();
      // Unpack + decode + draw (+ waiting for the browser's JPEG decoder): what this update cost.
      const decodeMs = performance.now() - started;
      sendOn(conn, { t: 'ack', seq: outcome.seq });
      stats.updates++;
      stats.rects += outcome.rects;
      stats.decodeMs += decodeMs;
      if (outcome.resized) emit({ type: 'resize', width: fb.width, height: fb.height });
      if (outcome.cursor) {
        const { width, height, hotX, hotY, rgba } = outcome.cursor;
        emit(transfer({ type: 'cursor', width, height, hotX, hotY, rgba }, [rgba.buffer]));
      }
      if (outcome.desktopName !== undefined) emit({ type: 'desktopName', name: outcome.desktopName });
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

/** The stream cannot be trusted after one bad message (zlib state, for one), so end it. */
function fail(conn: Connection, error: unknown): void {
  conn.failed = true;
  conn.queue.length = 0;
  settleIdle(conn);
  if (conn !== current) return;
  const message = error instanceof Error ? error.message : String(error);
  conn.emit({ type: 'error', code: 'DECODE_ERROR', message });
  // close() throws on a reason over 123 bytes of UTF-8; keep it short and ASCII.
  if (conn.ws.readyState <= WebSocket.OPEN) {
    conn.ws.close(PROTOCOL_ERROR_CLOSE, message.replace(/[^\x20-\x7e]/g, '?').slice(0, 120));
  }
}

function settleIdle(conn: Connection): void {
  const waiting = conn.idle.splice(0);
  for (const resolve of waiting) resolve();
}

/** Applies queued messages in order until the queue is empty or one must be waited for. */
function pump(conn: Connection): void {
  // A replaced connection's leftovers are dropped: nothing of it may be drawn any more.
  if (conn !== current) conn.queue.length = 0;
  while (conn.queue.length > 0 && !conn.failed) {
    const data = conn.queue.shift();
    let next: void | Promise<void>;
    try {
      next = handleMessage(conn, data);
    } catch (error) {
      fail(conn, error);
      return;
    }
    if (next) {
      conn.busy = true;
      next.then(
        () => {
          conn.busy = false;
          pump(conn);
        },
        (error: unknown) => {
          conn.busy = false;
          fail(conn, error);
        },
      );
      return;
    }
  }
  settleIdle(conn);
}

function closeSocket(code: number, reason: string): void {
  if (socket && socket.readyState <= WebSocket.OPEN) socket.close(code, reason);
}

const api: DecoderWorkerApi & DecoderWorkerSnapshotApi = {
  attach(canvas) {
    ctx = canvas.getContext('2d', { alpha: false });
    image = null;
    const fb = decoder.framebuffer;
    draw(fb, { x: 0, y: 0, w: fb.width, h: fb.height });
  },

  connect(options: StreamConnectOptions, onEvent) {
    if (socket) {
      // Replacing a connection: the old one's events must not reach the new listener.
      const old = socket;
      old.onopen = old.onmessage = old.onerror = old.onclose = null;
      if (old.readyState <= WebSocket.OPEN) old.close(1000, 'replaced');
    }
    if (current) {
      clearInterval(current.probeTimer);
      current.channel?.close();
      settleIdle(current);
    }
    const emit = safe(onEvent);
    decoder = new StreamDecoder();
    stats = freshStats();
    pending = null;
    if (frameTimer !== null) clearTimeout(frameTimer);
    frameTimer = null;
    const ws = new WebSocket(options.url, options.protocols);
    ws.binaryType = 'arraybuffer';
    socket = ws;
    const conn: Connection = {
      ws,
      emit,
      decoder,
      queue: [],
      busy: false,
      failed: false,
      idle: [],
      version: 0,
      probes: new Map(),
      nextProbeId: 1,
      probeTimer: undefined,
      channel: null,
      via: 'websocket',
      early: [],
    };
    current = conn;
    ws.onopen = () => {
      conn.version = streamVersionOf(ws.protocol);
      if (conn === current) stats.version = conn.version;
      if (conn.version >= 2) conn.probeTimer = setInterval(() => probe(conn), STREAM_PROBE_INTERVAL_MS);
      if (conn.version >= 2) probe(conn);
    };
    ws.onmessage = (event: MessageEvent) => {
      if (conn.failed) return;
      conn.queue.push(event.data);
      if (!conn.busy) pump(conn);
    };
    ws.onclose = (event: CloseEvent) => {
      clearInterval(conn.probeTimer);
      conn.channel?.close(); // the WebSocket is the stream's lifetime
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
    if (current && current.ws === socket) sendOn(current, message);
  },

  attachDataChannel(channel: RTCDataChannel) {
    if (current && current.ws === socket) adoptDataChannel(current, channel);
    else channel.close();
  },

  disconnect() {
    closeSocket(1000, 'viewer disconnected');
  },

  stats() {
    return { ...stats };
  },

  async snapshot() {
    const conn = current;
    if (conn && (conn.busy || conn.queue.length > 0)) {
      await new Promise<void>((resolve) => conn.idle.push(resolve));
    }
    const fb = (conn ?? { decoder }).decoder.framebuffer;
    const rgba = new Uint8ClampedArray(fb.data);
    return transfer({ width: fb.width, height: fb.height, rgba }, [rgba.buffer]);
  },
};

expose(api);
