import type { StreamRect } from '../../protocol/stream.ts';
import type { Framebuffer } from '../framebuffer.ts';
import { DecodeError } from './decode-error.ts';
import type { RectDecoder } from './rect-decoder.ts';

/** Raw (0): w × h pixels of 4 bytes R, G, B, X, row-major. */
export class RawDecoder implements RectDecoder {
  decode(rect: StreamRect, fb: Framebuffer): void {
    const { x, y, w, h, data } = rect;
    fb.checkRect(x, y, w, h);
    if (data.length !== w * h * 4) {
      throw new DecodeError(`Raw ${w}x${h} needs ${w * h * 4} bytes, got ${data.length}`);
    }
    fb.putRgbx(x, y, w, h, data, 0);
    fb.markDirty(x, y, w, h);
  }
}
