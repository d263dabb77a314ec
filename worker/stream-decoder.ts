import { ERRORS, type ErrorCode } from '../protocol/errors.ts';
import { Encoding } from '../protocol/rfb-encodings.ts';
import { SESSION_STATES, type SessionState } from '../protocol/session-states.ts';
import {
  STREAM_PROTOCOL_MIN_VERSION,
  STREAM_PROTOCOL_VERSION,
  type ServerStreamMessageV1,
  type StreamRect,
} from '../protocol/stream.ts';
import type { CursorImage } from './decoders/cursor-decoder.ts';
import { DecodeError } from './decoders/decode-error.ts';
import { DecoderRegistry, type DecoderOptions } from './decoders/decoder-registry.ts';
import { Framebuffer, packRgb, type Rect } from './framebuffer.ts';

/** What applying one message did, for whoever draws and reports it. */
export type StreamOutcome =
  | { type: 'init'; width: number; height: number; name: string }
  /**
   * `dirty` is the union box of everything drawn (the whole screen after a resize); `resized` says the
   * size changed. `cursor` / `desktopName` are there only when the update carried a new pointer shape
   * (Cursor pseudo-encoding) or a new name (DesktopName).
   */
  | {
      type: 'update';
      seq: number;
      rects: number;
      dirty: Rect | null;
      resized: boolean;
      cursor?: CursorImage;
      desktopName?: string;
    }
  | { type: 'bell' }
  | { type: 'clipboard'; text: string }
  | { type: 'state'; state: SessionState }
  | { type: 'error'; code: ErrorCode; message: string }
  /** A message type this version does not know (a newer gateway); nothing was changed. */
  | { type: 'ignored' };

/**
 * The viewer's side of the stream without any DOM: validates each unpacked message, applies updates
 * to the framebuffer through the decoders, and says what changed. The worker draws from it; Node
 * tests replay recordings through it.
 */
export class StreamDecoder {
  readonly framebuffer = new Framebuffer();
  private registry: DecoderRegistry;
  private initialized = false;
  /** An update is still decoding asynchronously; nothing else may be applied until it is done. */
  private busy = false;
  /**
   * The rectangles that changed pixels in the last update applied (pseudo-rectangles left out), for a
   * drawer that would rather put a few small regions than their whole union box.
   */
  lastRegions: Rect[] = [];

  constructor(private readonly options: DecoderOptions = {}) {
    this.registry = new DecoderRegistry(options);
  }

  /**
   * Applies one message as unpacked from msgpack (its shape is checked here). Throws DecodeError.
   * For a stream whose updates may hold Tight JPEG (or TightPNG) rectangles use `applyMessage`: this
   * synchronous form refuses an update that cannot be finished synchronously.
   */
  apply(value: unknown): StreamOutcome {
    const outcome = this.applyMessage(value);
    if (outcome instanceof Promise) {
      outcome.catch(() => undefined);
      throw new DecodeError('update holds image rectangles that decode asynchronously; use applyMessage()');
    }
    return outcome;
  }

  /**
   * Applies one message. Returns the outcome directly, or, for an update with rectangles that decode
   * asynchronously (Tight JPEG), a promise of it that settles once the whole update is in the
   * framebuffer (rectangles applied strictly in order). The caller must wait for that promise before
   * applying the next message (the worker queues them); applying one earlier throws.
   */
  applyMessage(value: unknown): StreamOutcome | Promise<StreamOutcome> {
    if (this.busy) throw new Error('StreamDecoder: the previous update is still decoding');
    const message = toServerStreamMessage(value);
    if (message === null) return { type: 'ignored' };
    switch (message.t) {
      case 'init':
        return this.init(message.width, message.height, message.name);
      case 'update':
        return this.update(message.seq, message.rects);
      case 'bell':
        return { type: 'bell' };
      case 'clipboard':
        return { type: 'clipboard', text: message.text };
      case 'state':
        return { type: 'state', state: message.state };
      case 'error':
        return { type: 'error', code: message.code, message: message.message };
    }
  }

  private init(width: number, height: number, name: string): StreamOutcome {
    // A new init means a new RFB connection behind the gateway, so a new zlib stream too.
    this.registry = new DecoderRegistry(this.options);
    this.framebuffer.resize(width, height);
    // Nothing of a previous connection's picture may show through; the first update paints it all.
    this.framebuffer.fillRect(0, 0, width, height, packRgb(0, 0, 0));
    this.framebuffer.takeDirty();
    this.initialized = true;
    return { type: 'init', width, height, name };
  }

  private update(seq: number, rects: StreamRect[]): StreamOutcome | Promise<StreamOutcome> {
    if (!this.initialized) throw new DecodeError('update before init');
    const fb = this.framebuffer;
    const { width, height } = fb;
    this.lastRegions = [];
    for (const r of rects) {
      if (r.encoding >= 0 || r.encoding === Encoding.TightPNG)
        this.lastRegions.push({ x: r.x, y: r.y, w: r.w, h: r.h });
    }
    const pending = this.registry.decodeUpdate(rects, fb);
    if (!pending) return this.updated(seq, rects.length, width, height);
    this.busy = true;
    return pending.then(
      () => {
        this.busy = false;
        return this.updated(seq, rects.length, width, height);
      },
      (error: unknown) => {
        this.busy = false;
        throw error;
      },
    );
  }

  private updated(seq: number, rects: number, width: number, height: number): StreamOutcome {
    const fb = this.framebuffer;
    const resized = fb.width !== width || fb.height !== height;
    const outcome: StreamOutcome = { type: 'update', seq, rects, dirty: fb.takeDirty(), resized };
    const cursor = this.registry.takeCursor();
    if (cursor) outcome.cursor = cursor;
    const desktopName = this.registry.takeDesktopName();
    if (desktopName !== null) outcome.desktopName = desktopName;
    return outcome;
  }
}

const ERROR_CODES = new Set<string>(Object.keys(ERRORS));
const STATES = new Set<string>(SESSION_STATES);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function int(value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new DecodeError(`${what} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new DecodeError(`${what} must be a string`);
  return value;
}

function toRect(value: unknown): StreamRect {
  if (!isRecord(value)) throw new DecodeError('rectangle must be a map');
  const { data } = value;
  if (!(data instanceof Uint8Array)) throw new DecodeError('rectangle data must be binary');
  return {
    x: int(value.x, 0, 0xffff, 'rectangle x'),
    y: int(value.y, 0, 0xffff, 'rectangle y'),
    w: int(value.w, 0, 0xffff, 'rectangle w'),
    h: int(value.h, 0, 0xffff, 'rectangle h'),
    encoding: int(value.encoding, -0x80000000, 0x7fffffff, 'rectangle encoding'),
    data,
  };
}

/**
 * Checks the shape of an unpacked server message. Returns null for a message type this version does
 * not know, so that a gateway may add types without breaking older viewers; a known type with a
 * wrong shape is a DecodeError.
 */
export function toServerStreamMessage(value: unknown): ServerStreamMessageV1 | null {
  if (!isRecord(value)) throw new DecodeError('stream message must be a map');
  switch (value.t) {
    case 'init': {
      const version = int(value.version, 0, Number.MAX_SAFE_INTEGER, 'init version');
      if (version < STREAM_PROTOCOL_MIN_VERSION || version > STREAM_PROTOCOL_VERSION)
        throw new DecodeError(`stream protocol version ${version} is not supported`);
      return {
        t: 'init',
        version,
        width: int(value.width, 0, 0xffff, 'init width'),
        height: int(value.height, 0, 0xffff, 'init height'),
        name: str(value.name, 'init name'),
      };
    }
    case 'update': {
      if (!Array.isArray(value.rects)) throw new DecodeError('update rects must be an array');
      return {
        t: 'update',
        seq: int(value.seq, 0, Number.MAX_SAFE_INTEGER, 'update seq'),
        rects: value.rects.map(toRect),
      };
    }
    case 'bell':
      return { t: 'bell' };
    case 'clipboard':
      return { t: 'clipboard', text: str(value.text, 'clipboard text') };
    case 'state': {
      const state = str(value.state, 'state');
      if (!STATES.has(state)) throw new DecodeError(`unknown session state ${state}`);
      return { t: 'state', state: state as SessionState };
    }
    case 'error': {
      const code = str(value.code, 'error code');
      // An unknown code from a newer gateway is still an error; keep its sentence.
      return {
        t: 'error',
        code: ERROR_CODES.has(code) ? (code as ErrorCode) : 'INTERNAL',
        message: str(value.message, 'error message'),
      };
    }
    default:
      if (typeof value.t !== 'string') throw new DecodeError('stream message has no type');
      return null;
  }
}
