import type { StreamRect } from '../../protocol/stream.ts';
import { rgbAt, type Framebuffer } from '../framebuffer.ts';
import { DecodeError } from './decode-error.ts';
import type { RectDecoder } from './rect-decoder.ts';

const SUBRECT_BYTES = 4 + 8;

/**
 * RRE (2): u32 number of subrectangles, the background pixel, then per subrectangle a pixel and u16
 * x, y, w, h relative to the rectangle. Pixels are 4 bytes R, G, B, X.
 */
export class RreDecoder implements RectDecoder {
  decode(rect: StreamRect, fb: Framebuffer): void {
    const { x, y, w, h, data } = rect;
    fb.checkRect(x, y, w, h);
    if (data.length < 8) throw new DecodeError('RRE header is truncated');
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const count = view.getUint32(0);
    if (data.length !== 8 + count * SUBRECT_BYTES) {
      throw new DecodeError(
        `RRE with ${count} subrectangles needs ${8 + count * SUBRECT_BYTES} bytes, got ${data.length}`,
      );
    }
    fb.fillRect(x, y, w, h, rgbAt(data, 4));
    for (let i = 0, p = 8; i < count; i++, p += SUBRECT_BYTES) {
      const sx = view.getUint16(p + 4);
      const sy = view.getUint16(p + 6);
      const sw = view.getUint16(p + 8);
      const sh = view.getUint16(p + 10);
      if (sx + sw > w || sy + sh > h) {
        throw new DecodeError(`RRE subrectangle ${sw}x${sh}+${sx}+${sy} is outside its ${w}x${h} rectangle`);
      }
      fb.fillRect(x + sx, y + sy, sw, sh, rgbAt(data, p));
    }
    fb.markDirty(x, y, w, h);
  }
}
