import type { StreamRect } from '../../protocol/stream.ts';
import { Encoding } from '../../protocol/rfb-encodings.ts';
import { RfbProtocolError } from './rfb-protocol-error.ts';

/**
 * Incremental framing of RFB server-to-client messages (RFC 6143 §7.6), after ServerInit.
 *
 * It finds where every message and rectangle ends and copies rectangle payloads out unchanged; it never
 * decodes pixels. Pixel sizes assume the format the gateway always sets (32 bpp, depth 24, true colour:
 * 4-byte pixels, 3-byte ZRLE CPIXEL and Tight TPIXEL).
 */
export type RfbServerMessage =
  /** LastRect pseudo-rectangles are dropped; `data` is each rectangle's payload after its 12-byte header. */
  | { type: 'framebufferUpdate'; rects: StreamRect[] }
  | { type: 'setColourMapEntries'; firstColour: number; colours: Array<[number, number, number]> }
  | { type: 'bell' }
  /** Latin-1, as RFC 6143 specifies. */
  | { type: 'serverCutText'; text: string };

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** ServerCutText is refused above this (or above maxMessageBytes if smaller). */
export const MAX_CUT_TEXT_BYTES = 8 * 1024 * 1024;
const MAX_DESKTOP_NAME_BYTES = 64 * 1024;

const BYTES_PER_PIXEL = 4;
const TPIXEL_BYTES = 3;
const HEXTILE_SIZE = 16;
/** Payload length not known yet: wait for more bytes. */
const NEED_MORE = -1;
/** An emptied buffer larger than this is released, so one huge update does not pin memory forever. */
const KEEP_BUFFER_BYTES = 1024 * 1024;
const MIN_BUFFER_BYTES = 64 * 1024;

const enum Phase {
  MessageStart,
  RectHeader,
  RectPayload,
}

const u8 = (d: Uint8Array, p: number): number => d[p] as number;
const u16 = (d: Uint8Array, p: number): number => ((d[p] as number) << 8) | (d[p + 1] as number);
const u32 = (d: Uint8Array, p: number): number =>
  (d[p] as number) * 0x1000000 +
  (((d[p + 1] as number) << 16) | ((d[p + 2] as number) << 8) | (d[p + 3] as number));
const s32 = (d: Uint8Array, p: number): number =>
  ((d[p] as number) << 24) |
  ((d[p + 1] as number) << 16) |
  ((d[p + 2] as number) << 8) |
  (d[p + 3] as number);

function copyBytes(d: Uint8Array, p: number, n: number): Uint8Array {
  // Always a fresh, exactly sized copy: Buffer#slice would alias the caller's (possibly reused) chunk.
  const out = new Uint8Array(n);
  out.set(d.subarray(p, p + n));
  return out;
}

function latin1(d: Uint8Array, p: number, n: number): string {
  // TextDecoder('latin1') is really windows-1252, which maps 0x80–0x9F differently; decode by hand.
  let text = '';
  for (let i = 0; i < n; i += 8192)
    text += String.fromCharCode(...d.subarray(p + i, p + Math.min(n, i + 8192)));
  return text;
}

/** Bytes of a Tight "compact length" plus the data it announces, or NEED_MORE. */
function tightCompactData(d: Uint8Array, p: number, avail: number): number {
  if (avail < 1) return NEED_MORE;
  const b0 = u8(d, p);
  if (!(b0 & 0x80)) return 1 + b0;
  if (avail < 2) return NEED_MORE;
  const b1 = u8(d, p + 1);
  if (!(b1 & 0x80)) return 2 + ((b0 & 0x7f) | (b1 << 7));
  if (avail < 3) return NEED_MORE;
  return 3 + ((b0 & 0x7f) | ((b1 & 0x7f) << 7) | (u8(d, p + 2) << 14));
}

export class RfbMessageParser {
  private fbWidth: number;
  private fbHeight: number;
  private readonly maxMessageBytes: number;

  /** Unconsumed bytes live in buf[start, end); empty whenever the last push ended on a boundary. */
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;
  private failure: RfbProtocolError | null = null;

  private phase = Phase.MessageStart;
  private rectsLeft = 0;
  private rects: StreamRect[] = [];
  /** Bytes of the FramebufferUpdate so far (header, rect headers, payloads), checked against maxMessageBytes. */
  private updateBytes = 0;
  private rx = 0;
  private ry = 0;
  private rw = 0;
  private rh = 0;
  private renc = 0;
  /** Hextile progress inside the current rectangle, so a big rect arriving in pieces is scanned once. */
  private hexOffset = 0;
  private hexTile = 0;

  constructor(options: { width: number; height: number; maxMessageBytes?: number }) {
    this.fbWidth = options.width;
    this.fbHeight = options.height;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Current framebuffer size (follows DesktopSize / ExtendedDesktopSize rectangles). */
  get width(): number {
    return this.fbWidth;
  }

  get height(): number {
    return this.fbHeight;
  }

  /** Feed bytes; returns every message completed by them, in order. Throws RfbProtocolError (code 'UPSTREAM_PROTOCOL'). */
  push(chunk: Uint8Array): RfbServerMessage[] {
    if (this.failure) throw this.failure;
    const out: RfbServerMessage[] = [];
    try {
      if (this.start === this.end) {
        // Nothing pending: parse straight from the caller's chunk and keep only an unfinished tail.
        const used = this.parse(chunk, 0, chunk.length, out);
        if (used < chunk.length) this.keep(chunk, used);
      } else {
        this.append(chunk);
        this.start = this.parse(this.buf, this.start, this.end, out);
        if (this.start === this.end) {
          this.start = this.end = 0;
          if (this.buf.length > KEEP_BUFFER_BYTES) this.buf = new Uint8Array(0);
        }
      }
    } catch (err) {
      if (err instanceof RfbProtocolError) this.failure = err;
      throw err;
    }
    return out;
  }

  private keep(chunk: Uint8Array, from: number): void {
    const n = chunk.length - from;
    if (this.buf.length < n) this.buf = new Uint8Array(Math.max(MIN_BUFFER_BYTES, n * 2));
    this.buf.set(chunk.subarray(from), 0);
    this.start = 0;
    this.end = n;
  }

  private append(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.buf.length) {
      const pending = this.end - this.start;
      const needed = pending + chunk.length;
      // Grow so that at least half the buffer is free after compaction: amortised O(1) copying per byte.
      if (needed * 2 > this.buf.length) {
        const bigger = new Uint8Array(Math.max(MIN_BUFFER_BYTES, needed * 2));
        bigger.set(this.buf.subarray(this.start, this.end), 0);
        this.buf = bigger;
      } else {
        this.buf.copyWithin(0, this.start, this.end);
      }
      this.start = 0;
      this.end = pending;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** Parses complete units from d[pos, end); returns the position of the first unconsumed byte. */
  private parse(d: Uint8Array, pos: number, end: number, out: RfbServerMessage[]): number {
    for (;;) {
      if (this.phase === Phase.MessageStart) {
        if (pos >= end) return pos;
        const avail = end - pos;
        const type = u8(d, pos);
        if (type === 0) {
          if (avail < 4) return pos;
          this.rectsLeft = u16(d, pos + 2);
          this.rects = [];
          this.updateBytes = 4;
          pos += 4;
          if (this.rectsLeft === 0) this.finishUpdate(out);
          else this.phase = Phase.RectHeader;
        } else if (type === 1) {
          if (avail < 6) return pos;
          const count = u16(d, pos + 4);
          const size = 6 + count * 6;
          if (avail < size) return pos;
          const firstColour = u16(d, pos + 2);
          const colours: Array<[number, number, number]> = new Array(count);
          for (let i = 0, p = pos + 6; i < count; i++, p += 6)
            colours[i] = [u16(d, p), u16(d, p + 2), u16(d, p + 4)];
          pos += size;
          out.push({ type: 'setColourMapEntries', firstColour, colours });
        } else if (type === 2) {
          pos += 1;
          out.push({ type: 'bell' });
        } else if (type === 3) {
          if (avail < 8) return pos;
          const length = u32(d, pos + 4);
          const limit = Math.min(MAX_CUT_TEXT_BYTES, this.maxMessageBytes);
          if (length > limit) throw new RfbProtocolError(`ServerCutText of ${length} bytes exceeds ${limit}`);
          if (avail < 8 + length) return pos;
          const text = latin1(d, pos + 8, length);
          pos += 8 + length;
          out.push({ type: 'serverCutText', text });
        } else {
          throw new RfbProtocolError(`unknown server message type ${type}`);
        }
        continue;
      }

      if (this.phase === Phase.RectHeader) {
        if (end - pos < 12) return pos;
        this.rx = u16(d, pos);
        this.ry = u16(d, pos + 2);
        this.rw = u16(d, pos + 4);
        this.rh = u16(d, pos + 6);
        this.renc = s32(d, pos + 8);
        pos += 12;
        this.reserve(12);
        this.updateBytes += 12;
        if (this.renc === Encoding.LastRect) {
          this.finishUpdate(out);
          continue;
        }
        this.checkRectHeader();
        this.hexOffset = 0;
        this.hexTile = 0;
        this.phase = Phase.RectPayload;
      }

      // Phase.RectPayload
      const length = this.payloadLength(d, pos, end - pos);
      if (length === NEED_MORE || end - pos < length) return pos;
      this.rects.push({
        x: this.rx,
        y: this.ry,
        w: this.rw,
        h: this.rh,
        encoding: this.renc,
        data: copyBytes(d, pos, length),
      });
      pos += length;
      this.updateBytes += length;
      this.afterRect();
      if (--this.rectsLeft === 0) this.finishUpdate(out);
      else this.phase = Phase.RectHeader;
    }
  }

  private finishUpdate(out: RfbServerMessage[]): void {
    out.push({ type: 'framebufferUpdate', rects: this.rects });
    this.rects = [];
    this.phase = Phase.MessageStart;
  }

  /** Throws unless `more` bytes still fit in this update's budget. */
  private reserve(more: number): void {
    if (this.updateBytes + more > this.maxMessageBytes) {
      throw new RfbProtocolError(`FramebufferUpdate exceeds ${this.maxMessageBytes} bytes`);
    }
  }

  private checkRectHeader(): void {
    const { rx, ry, rw, rh, renc } = this;
    switch (renc) {
      case Encoding.Raw:
      case Encoding.CopyRect:
      case Encoding.RRE:
      case Encoding.Hextile:
      case Encoding.Zlib:
      case Encoding.Tight:
      case Encoding.TightPNG:
      case Encoding.ZRLE:
        if (rx + rw > this.fbWidth || ry + rh > this.fbHeight) {
          throw new RfbProtocolError(
            `rectangle ${rw}x${rh}+${rx}+${ry} (encoding ${renc}) outside the ${this.fbWidth}x${this.fbHeight} framebuffer`,
          );
        }
        return;
      case Encoding.DesktopSize:
      case Encoding.Cursor:
      case Encoding.DesktopName:
      case Encoding.ExtendedDesktopSize:
        return;
      default:
        throw new RfbProtocolError(`unsupported rectangle encoding ${renc}`);
    }
  }

  /** Size changes take effect for the rectangles that follow in the same update. */
  private afterRect(): void {
    if (this.renc === Encoding.DesktopSize) {
      this.fbWidth = this.rw;
      this.fbHeight = this.rh;
    } else if (this.renc === Encoding.ExtendedDesktopSize && !(this.rx === 1 && this.ry !== 0)) {
      // x = 1 is a reply to our own resize request; a non-zero y then means it was refused.
      this.fbWidth = this.rw;
      this.fbHeight = this.rh;
    }
  }

  /** Total payload bytes of the current rectangle, or NEED_MORE while that cannot be known yet. */
  private payloadLength(d: Uint8Array, p: number, avail: number): number {
    const { rw: w, rh: h } = this;
    let length: number;
    switch (this.renc) {
      case Encoding.Raw:
        length = w * h * BYTES_PER_PIXEL;
        break;
      case Encoding.CopyRect:
        if (avail < 4) return NEED_MORE;
        if (u16(d, p) + w > this.fbWidth || u16(d, p + 2) + h > this.fbHeight) {
          throw new RfbProtocolError('CopyRect source outside the framebuffer');
        }
        length = 4;
        break;
      case Encoding.RRE:
        if (avail < 4) return NEED_MORE;
        length = 4 + BYTES_PER_PIXEL + u32(d, p) * (BYTES_PER_PIXEL + 8);
        break;
      case Encoding.Hextile:
        return this.scanHextile(d, p, avail);
      case Encoding.Zlib:
      case Encoding.ZRLE:
        if (avail < 4) return NEED_MORE;
        length = 4 + u32(d, p);
        break;
      case Encoding.Tight:
      case Encoding.TightPNG:
        length = this.tightLength(d, p, avail, this.renc === Encoding.TightPNG);
        if (length === NEED_MORE) return NEED_MORE;
        break;
      case Encoding.DesktopSize:
        return 0;
      case Encoding.Cursor:
        length = w * h * BYTES_PER_PIXEL + ((w + 7) >> 3) * h;
        break;
      case Encoding.DesktopName:
        if (avail < 4) return NEED_MORE;
        length = u32(d, p);
        if (length > MAX_DESKTOP_NAME_BYTES) throw new RfbProtocolError(`desktop name of ${length} bytes`);
        length += 4;
        break;
      case Encoding.ExtendedDesktopSize:
        if (avail < 1) return NEED_MORE;
        length = 4 + u8(d, p) * 16;
        break;
      default:
        throw new RfbProtocolError(`unsupported rectangle encoding ${this.renc}`);
    }
    this.reserve(length);
    return length;
  }

  /**
   * Tight and TightPNG share the control byte. TightPNG (-260) adds PNG (0xA, compact length + PNG bytes) and
   * has no basic compression, so it never involves a zlib stream.
   */
  private tightLength(d: Uint8Array, p: number, avail: number, png: boolean): number {
    if (avail < 1) return NEED_MORE;
    const mode = u8(d, p) >> 4; // the low 4 bits only reset zlib streams
    if (mode === 0x8) return 1 + TPIXEL_BYTES; // fill
    if (mode === 0x9 || (png && mode === 0xa)) {
      const data = tightCompactData(d, p + 1, avail - 1); // JPEG or PNG
      return data === NEED_MORE ? NEED_MORE : 1 + data;
    }
    const name = png ? 'TightPNG' : 'Tight';
    if (mode > 0x9) throw new RfbProtocolError(`${name} compression control ${mode} is not valid`);
    if (png) throw new RfbProtocolError('TightPNG rectangle with basic (zlib) compression');
    // Basic compression: bits 0-1 pick the zlib stream, bit 2 says an explicit filter id follows.
    let off = 1;
    let filter = 0;
    if (mode & 0x4) {
      if (avail < 2) return NEED_MORE;
      filter = u8(d, p + 1);
      off = 2;
    }
    const { rw: w, rh: h } = this;
    let raw: number;
    if (filter === 0 || filter === 2) {
      raw = w * h * TPIXEL_BYTES; // copy, gradient
    } else if (filter === 1) {
      if (avail < off + 1) return NEED_MORE;
      const colours = u8(d, p + off) + 1;
      off += 1 + colours * TPIXEL_BYTES;
      raw = (colours <= 2 ? (w + 7) >> 3 : w) * h;
    } else {
      throw new RfbProtocolError(`unknown Tight filter ${filter}`);
    }
    // Less than 12 bytes of filtered data are sent as is, without a length.
    if (raw < 12) return off + raw;
    const data = tightCompactData(d, p + off, avail - off);
    return data === NEED_MORE ? NEED_MORE : off + data;
  }

  private scanHextile(d: Uint8Array, p: number, avail: number): number {
    const { rw: w, rh: h } = this;
    const tilesX = Math.ceil(w / HEXTILE_SIZE);
    const tiles = tilesX * Math.ceil(h / HEXTILE_SIZE);
    let off = this.hexOffset;
    let tile = this.hexTile;
    while (tile < tiles && off < avail) {
      const tx = tile % tilesX;
      const ty = (tile - tx) / tilesX;
      const sub = u8(d, p + off);
      let n: number;
      if (sub & 0x01) {
        // Raw tile: the other flags are ignored.
        n =
          1 +
          Math.min(HEXTILE_SIZE, w - tx * HEXTILE_SIZE) *
            Math.min(HEXTILE_SIZE, h - ty * HEXTILE_SIZE) *
            BYTES_PER_PIXEL;
      } else {
        if (sub > 0x1f) throw new RfbProtocolError(`invalid Hextile subencoding ${sub}`);
        n = 1 + (sub & 0x02 ? BYTES_PER_PIXEL : 0) + (sub & 0x04 ? BYTES_PER_PIXEL : 0);
        if (sub & 0x08) {
          if (off + n >= avail) break;
          n += 1 + u8(d, p + off + n) * (sub & 0x10 ? BYTES_PER_PIXEL + 2 : 2);
        }
      }
      this.reserve(off + n);
      if (off + n > avail) break;
      off += n;
      tile++;
    }
    this.hexOffset = off;
    this.hexTile = tile;
    return tile === tiles ? off : NEED_MORE;
  }
}
