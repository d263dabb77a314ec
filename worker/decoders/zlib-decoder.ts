import type { StreamRect } from '../../protocol/stream.ts';
import type { Framebuffer } from '../framebuffer.ts';
import { DecodeError } from './decode-error.ts';
import { InflateStream } from './inflate-stream.ts';
import type { RectDecoder } from './rect-decoder.ts';

/**
 * Zlib (6): u32 length + that many bytes of the connection's own zlib stream (not ZRLE's, not
 * Tight's), which inflate to exactly the rectangle's Raw pixels: w × h × 4 bytes R, G, B, X.
 * One instance per connection.
 */
export class ZlibDecoder implements RectDecoder {
  private readonly zlib = new InflateStream();

  decode(rect: StreamRect, fb: Framebuffer): void {
    const { x, y, w, h, data } = rect;
    fb.checkRect(x, y, w, h);
    if (data.length < 4) throw new DecodeError('Zlib length is truncated');
    const length = new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
    if (data.length !== 4 + length) {
      throw new DecodeError(`Zlib says ${length} bytes, payload has ${data.length - 4}`);
    }
    const size = w * h * 4;
    // Inflate even an empty rectangle's bytes: skipping them would desynchronise the stream.
    const pixels = this.zlib.push(data.subarray(4), size);
    if (pixels.length !== size) {
      throw new DecodeError(`Zlib ${w}x${h} needs ${size} bytes, inflated to ${pixels.length}`);
    }
    fb.putRgbx(x, y, w, h, pixels, 0);
    fb.markDirty(x, y, w, h);
  }
}
