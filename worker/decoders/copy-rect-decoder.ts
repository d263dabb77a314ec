import type { StreamRect } from '../../protocol/stream.ts';
import type { Framebuffer } from '../framebuffer.ts';
import { DecodeError } from './decode-error.ts';
import type { RectDecoder } from './rect-decoder.ts';

/** CopyRect (1): u16 src-x, u16 src-y; the rectangle's pixels come from there in the current framebuffer. */
export class CopyRectDecoder implements RectDecoder {
  decode(rect: StreamRect, fb: Framebuffer): void {
    const { x, y, w, h, data } = rect;
    if (data.length !== 4) throw new DecodeError(`CopyRect needs 4 bytes, got ${data.length}`);
    const sx = ((data[0] as number) << 8) | (data[1] as number);
    const sy = ((data[2] as number) << 8) | (data[3] as number);
    fb.copyRect(sx, sy, x, y, w, h);
    fb.markDirty(x, y, w, h);
  }
}
