import { constants, deflateRawSync, deflateSync } from 'node:zlib';
import type { StreamRect } from '../../../protocol/stream.ts';
import type { Framebuffer } from '../../../worker/framebuffer.ts';

export function rect(
  x: number,
  y: number,
  w: number,
  h: number,
  encoding: number,
  data: ArrayLike<number>,
): StreamRect {
  return { x, y, w, h, encoding, data: Uint8Array.from(data) };
}

/** [r, g, b, a] at (x, y). */
export function pixel(fb: Framebuffer, x: number, y: number): number[] {
  const i = (y * fb.width + x) * 4;
  return Array.from(fb.data.subarray(i, i + 4));
}

/** Every pixel of a region as 'r,g,b' strings, row-major: compact to compare in assertions. */
export function region(fb: Framebuffer, x: number, y: number, w: number, h: number): string[] {
  const out: string[] = [];
  for (let row = y; row < y + h; row++) {
    for (let col = x; col < x + w; col++) out.push(pixel(fb, col, row).slice(0, 3).join(','));
  }
  return out;
}

/**
 * Builds ZRLE payloads the way a server does: one deflate stream for the whole connection, each
 * rectangle ending with a sync flush. The first rectangle carries the zlib header; later ones are raw
 * deflate primed with the earlier output as dictionary, so they really refer back across rectangles.
 */
export class ZrleStreamEncoder {
  private history = Buffer.alloc(0);

  payload(tiles: ArrayLike<number>): Uint8Array {
    const input = Buffer.from(Uint8Array.from(tiles));
    const opts = { finishFlush: constants.Z_SYNC_FLUSH };
    const compressed =
      this.history.length === 0
        ? deflateSync(input, opts)
        : deflateRawSync(input, { ...opts, dictionary: this.history.subarray(-32768) });
    this.history = Buffer.concat([this.history, input]).subarray(-32768);
    const out = new Uint8Array(4 + compressed.length);
    new DataView(out.buffer).setUint32(0, compressed.length);
    out.set(compressed, 4);
    return out;
  }
}
