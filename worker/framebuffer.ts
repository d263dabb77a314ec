import { DecodeError } from './decoders/decode-error.ts';

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Larger than any real desktop, small enough that a hostile DesktopSize cannot make us allocate
 * gigabytes (RFB sizes are u16, so 65535² × 4 bytes would otherwise be possible).
 */
export const MAX_DIMENSION = 16384;
export const MAX_PIXELS = 8192 * 8192;

/** Packed pixels are written through a Uint32Array, whose byte order is the platform's. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** An opaque pixel as the framebuffer's Uint32Array view stores it (bytes R, G, B, 255 in memory). */
export function packRgb(r: number, g: number, b: number): number {
  return LITTLE_ENDIAN
    ? (r | (g << 8) | (b << 16) | 0xff000000) >>> 0
    : ((r << 24) | (g << 16) | (b << 8) | 0xff) >>> 0;
}

/** `packRgb` of the bytes R, G, B at `src[i]`; callers check that three bytes are there. */
export function rgbAt(src: Uint8Array, i: number): number {
  return packRgb(src[i] as number, src[i + 1] as number, src[i + 2] as number);
}

/**
 * The decoded screen: RGBA bytes (alpha always 255) ready for `ImageData`, plus a Uint32 view for
 * whole-pixel writes, plus the union box of everything changed since the last `takeDirty()`.
 * Every method checks its rectangle, so a decoder bug or a hostile stream cannot write outside it.
 */
export class Framebuffer {
  width = 0;
  height = 0;
  data: Uint8ClampedArray<ArrayBuffer> = new Uint8ClampedArray(0);
  pixels: Uint32Array<ArrayBuffer> = new Uint32Array(0);
  private dx0 = Infinity;
  private dy0 = Infinity;
  private dx1 = -Infinity;
  private dy1 = -Infinity;

  constructor(width = 0, height = 0) {
    this.resize(width, height);
  }

  /** New size; what overlaps the old picture is kept and the rest is black (as noVNC's display does). */
  resize(width: number, height: number): void {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
      throw new DecodeError(`invalid framebuffer size ${width}x${height}`);
    }
    if (width > MAX_DIMENSION || height > MAX_DIMENSION || width * height > MAX_PIXELS) {
      throw new DecodeError(`framebuffer size ${width}x${height} is too large`);
    }
    if (width === this.width && height === this.height) return;
    const data = new Uint8ClampedArray(width * height * 4);
    const pixels = new Uint32Array(data.buffer);
    pixels.fill(packRgb(0, 0, 0));
    const keepW = Math.min(width, this.width);
    const keepH = Math.min(height, this.height);
    for (let row = 0; row < keepH; row++) {
      const from = row * this.width;
      pixels.set(this.pixels.subarray(from, from + keepW), row * width);
    }
    this.width = width;
    this.height = height;
    this.data = data;
    this.pixels = pixels;
    this.dx0 = this.dy0 = Infinity;
    this.dx1 = this.dy1 = -Infinity;
    this.markDirty(0, 0, width, height);
  }

  /** Throws unless the rectangle lies entirely inside the framebuffer. */
  checkRect(x: number, y: number, w: number, h: number, what = 'rectangle'): void {
    if (
      !Number.isInteger(x) ||
      !Number.isInteger(y) ||
      !Number.isInteger(w) ||
      !Number.isInteger(h) ||
      x < 0 ||
      y < 0 ||
      w < 0 ||
      h < 0 ||
      x + w > this.width ||
      y + h > this.height
    ) {
      throw new DecodeError(
        `${what} ${w}x${h}+${x}+${y} is outside the ${this.width}x${this.height} framebuffer`,
      );
    }
  }

  fillRect(x: number, y: number, w: number, h: number, color: number): void {
    this.checkRect(x, y, w, h);
    const stride = this.width;
    for (let row = y; row < y + h; row++) {
      const start = row * stride + x;
      this.pixels.fill(color, start, start + w);
    }
  }

  /** Copies within the framebuffer; overlapping source and destination work (memmove semantics). */
  copyRect(sx: number, sy: number, dx: number, dy: number, w: number, h: number): void {
    this.checkRect(sx, sy, w, h, 'copy source');
    this.checkRect(dx, dy, w, h, 'copy destination');
    const stride = this.width;
    const p = this.pixels;
    // copyWithin is a memmove within a row; across rows, walk away from the destination so that no
    // source row is overwritten before it is read.
    if (dy > sy) {
      for (let row = h - 1; row >= 0; row--) {
        const s = (sy + row) * stride + sx;
        p.copyWithin((dy + row) * stride + dx, s, s + w);
      }
    } else {
      for (let row = 0; row < h; row++) {
        const s = (sy + row) * stride + sx;
        p.copyWithin((dy + row) * stride + dx, s, s + w);
      }
    }
  }

  /** Puts pixels stored as 4 bytes R, G, B, X (Raw, Hextile) starting at `src[offset]`. */
  putRgbx(x: number, y: number, w: number, h: number, src: Uint8Array, offset: number): void {
    this.checkRect(x, y, w, h);
    if (offset < 0 || offset + w * h * 4 > src.length) throw new DecodeError('pixel data is truncated');
    const d = this.data;
    const rowBytes = w * 4;
    for (let row = 0; row < h; row++) {
      const start = ((y + row) * this.width + x) * 4;
      const from = offset + row * rowBytes;
      d.set(src.subarray(from, from + rowBytes), start);
      // X is unused by the server (0 in practice); the canvas needs it opaque.
      for (let i = start + 3, end = start + rowBytes; i < end; i += 4) d[i] = 255;
    }
  }

  /** Puts pixels stored as 3 bytes R, G, B (ZRLE's CPIXEL) starting at `src[offset]`. */
  putRgb(x: number, y: number, w: number, h: number, src: Uint8Array, offset: number): void {
    this.checkRect(x, y, w, h);
    if (offset < 0 || offset + w * h * 3 > src.length) throw new DecodeError('pixel data is truncated');
    const d = this.data;
    let s = offset;
    for (let row = 0; row < h; row++) {
      let i = ((y + row) * this.width + x) * 4;
      for (const end = i + w * 4; i < end; i += 4, s += 3) {
        d[i] = src[s] as number;
        d[i + 1] = src[s + 1] as number;
        d[i + 2] = src[s + 2] as number;
        d[i + 3] = 255;
      }
    }
  }

  /** Copies a w×h block of packed pixels (row-major, stride w) from `src` into the framebuffer. */
  putPixels(x: number, y: number, w: number, h: number, src: Uint32Array): void {
    this.checkRect(x, y, w, h);
    if (w * h > src.length) throw new DecodeError('pixel block is truncated');
    for (let row = 0; row < h; row++) {
      this.pixels.set(src.subarray(row * w, row * w + w), (y + row) * this.width + x);
    }
  }

  markDirty(x: number, y: number, w: number, h: number): void {
    if (w <= 0 || h <= 0) return;
    this.dx0 = Math.min(this.dx0, x);
    this.dy0 = Math.min(this.dy0, y);
    this.dx1 = Math.max(this.dx1, x + w);
    this.dy1 = Math.max(this.dy1, y + h);
  }

  /** The union box of everything changed since the last call (clipped to the framebuffer), then resets it. */
  takeDirty(): Rect | null {
    const x0 = Math.max(0, this.dx0);
    const y0 = Math.max(0, this.dy0);
    const x1 = Math.min(this.width, this.dx1);
    const y1 = Math.min(this.height, this.dy1);
    this.dx0 = this.dy0 = Infinity;
    this.dx1 = this.dy1 = -Infinity;
    if (x1 <= x0 || y1 <= y0) return null;
    return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }

  /** The picture as R, G, B bytes, row-major (the form the fixtures' `finalFrame.rgbSha256` hashes). */
  toRgb(): Uint8Array {
    const out = new Uint8Array(this.width * this.height * 3);
    const d = this.data;
    for (let i = 0, o = 0; i < d.length; i += 4, o += 3) {
      out[o] = d[i] as number;
      out[o + 1] = d[i + 1] as number;
      out[o + 2] = d[i + 2] as number;
    }
    return out;
  }
}
