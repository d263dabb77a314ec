import type { StreamRect } from '../../protocol/stream.ts';
import { rgbAt, type Framebuffer } from '../framebuffer.ts';
import { DecodeError } from './decode-error.ts';
import { InflateStream } from './inflate-stream.ts';
import type { RectDecoder } from './rect-decoder.ts';

const TILE = 64;
const EMPTY = new Uint8Array(0);

/** Checks a ZRLE payload's u32 length prefix against its size and returns the zlib byte count. */
function zlibLength(rect: StreamRect): number {
  const { data } = rect;
  if (data.length < 4) throw new DecodeError('ZRLE length is truncated');
  const length = new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
  if (data.length !== 4 + length) {
    throw new DecodeError(`ZRLE says ${length} zlib bytes, payload has ${data.length - 4}`);
  }
  return length;
}

/**
 * ZRLE (16): u32 length + that many bytes of one zlib stream shared by the whole connection. Inflated,
 * the rectangle is 64×64 tiles, row-major, each a subencoding byte and its data; a pixel (CPIXEL) is
 * 3 bytes R, G, B. One instance per connection: a fresh stream needs a fresh decoder.
 */
export class ZrleDecoder implements RectDecoder {
  private readonly zlib = new InflateStream();
  // Reused for every tile so decoding allocates nothing per tile or pixel.
  private readonly tile = new Uint32Array(TILE * TILE);
  private readonly palette = new Uint32Array(128);
  private run = 0;
  // The update being decoded (see beginUpdate): its rectangles, how many are done, and their inflated bytes.
  private batch: StreamRect[] = [];
  private batchIndex = 0;
  private batchOut: Uint8Array = EMPTY;
  private batchPos = 0;

  /**
   * Inflates all of an update's ZRLE rectangles in one go. They are consecutive pieces of one stream
   * and each one's tile data delimits itself, so one `push` gives the same bytes as one per rectangle;
   * but fflate's streaming inflate allocates and copies ~200 KB per push, which at thousands of small
   * rectangles (a scrolling terminal) cost more than the decoding itself.
   */
  beginUpdate(rects: StreamRect[]): void {
    // Bounded by what the rectangles can need (maxInflated), so a zlib bomb is refused, not allocated.
    let total = 0;
    for (const rect of rects) total += zlibLength(rect);
    let joined: Uint8Array;
    const [only] = rects;
    if (rects.length === 1 && only) {
      joined = only.data.subarray(4);
    } else {
      joined = new Uint8Array(total);
      let at = 0;
      for (const rect of rects) {
        joined.set(rect.data.subarray(4), at);
        at += rect.data.length - 4;
      }
    }
    this.batch = rects;
    this.batchIndex = 0;
    this.batchOut = this.zlib.push(
      joined,
      rects.reduce((sum, r) => sum + maxInflated(r), 0),
    );
    this.batchPos = 0;
  }

  endUpdate(): void {
    this.batch = [];
    this.batchOut = EMPTY;
  }

  decode(rect: StreamRect, fb: Framebuffer): void {
    const { x, y, w, h } = rect;
    fb.checkRect(x, y, w, h);
    let src: Uint8Array;
    let pos: number;
    const batched = this.batchIndex < this.batch.length;
    if (batched) {
      if (this.batch[this.batchIndex] !== rect) throw new DecodeError('ZRLE rectangles decoded out of order');
      this.batchIndex++;
      src = this.batchOut;
      pos = this.batchPos;
    } else {
      zlibLength(rect);
      // Inflate even an empty rectangle's bytes: skipping them would desynchronise the shared stream.
      src = this.zlib.push(rect.data.subarray(4), maxInflated(rect));
      pos = 0;
    }
    for (let ty = 0; ty < h; ty += TILE) {
      const th = Math.min(TILE, h - ty);
      for (let tx = 0; tx < w; tx += TILE) {
        const tw = Math.min(TILE, w - tx);
        pos = this.decodeTile(src, pos, fb, x + tx, y + ty, tw, th);
      }
    }
    this.batchPos = pos;
    if ((!batched || this.batchIndex === this.batch.length) && pos !== src.length) {
      throw new DecodeError(`ZRLE data has ${src.length - pos} bytes left over`);
    }
    fb.markDirty(x, y, w, h);
  }

  /** Decodes one tile at `src[pos]` and returns the position after it. */
  private decodeTile(
    src: Uint8Array,
    pos: number,
    fb: Framebuffer,
    x: number,
    y: number,
    w: number,
    h: number,
  ): number {
    const n = w * h;
    if (pos >= src.length) throw new DecodeError('ZRLE tile is truncated');
    const type = src[pos++] as number;
    if (type === 0) {
      fb.putRgb(x, y, w, h, src, pos);
      return pos + n * 3;
    }
    if (type === 1) {
      if (pos + 3 > src.length) throw new DecodeError('ZRLE solid tile is truncated');
      fb.fillRect(x, y, w, h, rgbAt(src, pos));
      return pos + 3;
    }
    if ((type > 16 && type < 128) || type === 129)
      throw new DecodeError(`ZRLE subencoding ${type} is not defined`);
    const size = type & 0x7f;
    pos = this.readPalette(src, pos, size);
    const tile = this.tile;
    const palette = this.palette;
    if (type <= 16) {
      // Packed palette: 1, 2 or 4 bits per index, most significant first, each row padded to a byte.
      const bits = size === 2 ? 1 : size <= 4 ? 2 : 4;
      const mask = (1 << bits) - 1;
      const rowBytes = (w * bits + 7) >> 3;
      if (pos + rowBytes * h > src.length) throw new DecodeError('ZRLE packed palette tile is truncated');
      let i = 0;
      for (let row = 0; row < h; row++, pos += rowBytes) {
        let byte = 0;
        let shift = 0;
        for (let col = 0, b = pos; col < w; col++) {
          if (shift === 0) {
            byte = src[b++] as number;
            shift = 8;
          }
          shift -= bits;
          const index = (byte >> shift) & mask;
          if (index >= size) throw new DecodeError(`ZRLE palette index ${index} with ${size} colours`);
          tile[i++] = palette[index] as number;
        }
      }
    } else {
      // 128: plain RLE (a CPIXEL then a run length); 130–255: palette RLE (an index, top bit = run follows).
      let i = 0;
      while (i < n) {
        let color: number;
        let run = 1;
        if (size === 0) {
          if (pos + 3 > src.length) throw new DecodeError('ZRLE RLE tile is truncated');
          color = rgbAt(src, pos);
          pos += 3;
          pos = this.readRunLength(src, pos);
          run = this.run;
        } else {
          if (pos >= src.length) throw new DecodeError('ZRLE palette RLE tile is truncated');
          const b = src[pos++] as number;
          const index = b & 0x7f;
          if (index >= size) throw new DecodeError(`ZRLE palette index ${index} with ${size} colours`);
          color = palette[index] as number;
          if (b & 0x80) {
            pos = this.readRunLength(src, pos);
            run = this.run;
          }
        }
        if (run > n - i) throw new DecodeError('ZRLE run goes past the end of its tile');
        tile.fill(color, i, i + run);
        i += run;
      }
    }
    fb.putPixels(x, y, w, h, tile);
    return pos;
  }

  private readPalette(src: Uint8Array, pos: number, size: number): number {
    if (pos + size * 3 > src.length) throw new DecodeError('ZRLE palette is truncated');
    for (let i = 0; i < size; i++, pos += 3) this.palette[i] = rgbAt(src, pos);
    return pos;
  }

  /**
   * A run length is 1 + the sum of bytes up to and including the first that is not 255. Leaves it in
   * `this.run` and returns the position after it (no tuple, to keep the hot loop allocation-free).
   */
  private readRunLength(src: Uint8Array, pos: number): number {
    let run = 1;
    let b: number;
    do {
      if (pos >= src.length) throw new DecodeError('ZRLE run length is truncated');
      b = src[pos++] as number;
      run += b;
    } while (b === 255);
    this.run = run;
    return pos;
  }
}

/**
 * The most inflated bytes a ZRLE rectangle can use: per 64×64 tile a subencoding byte and a 16-colour
 * palette, then at worst 4 bytes a pixel (a 3-byte CPIXEL plus a 1-byte run for every pixel).
 */
function maxInflated(rect: StreamRect): number {
  const tiles = Math.ceil(rect.w / TILE) * Math.ceil(rect.h / TILE);
  return tiles * (1 + 16 * 3) + rect.w * rect.h * 4;
}
