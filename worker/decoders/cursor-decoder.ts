import type { StreamRect } from '../../protocol/stream.ts';
import { DecodeError } from './decode-error.ts';
import type { RectDecoder } from './rect-decoder.ts';

/** Larger than any real pointer shape; browsers show CSS cursors only up to 128×128 anyway. */
export const MAX_CURSOR_SIZE = 1024;

/** A pointer shape to show locally: RGBA, row-major; (hotX, hotY) is the pixel that points. 0×0 hides it. */
export interface CursorImage {
  width: number;
  height: number;
  hotX: number;
  hotY: number;
  rgba: Uint8ClampedArray<ArrayBuffer>;
}

/**
 * Cursor (-239) pseudo-rectangle: x, y = hotspot, w × h = size; w × h pixels of 4 bytes R, G, B, X,
 * then a bitmask of ((w + 7) >> 3) bytes per row, most significant bit first, 1 = opaque. It draws
 * nothing into the framebuffer: the shape is kept for `take()` and shown by the viewer.
 */
export class CursorDecoder implements RectDecoder {
  private latest: CursorImage | null = null;

  decode(rect: StreamRect): void {
    const { x: hotX, y: hotY, w, h, data } = rect;
    if (w > MAX_CURSOR_SIZE || h > MAX_CURSOR_SIZE) throw new DecodeError(`cursor ${w}x${h} is too large`);
    const maskRow = (w + 7) >> 3;
    const size = w * h * 4 + maskRow * h;
    if (data.length !== size)
      throw new DecodeError(`cursor ${w}x${h} needs ${size} bytes, got ${data.length}`);
    if (w > 0 && h > 0 && (hotX >= w || hotY >= h)) {
      throw new DecodeError(`cursor hotspot ${hotX},${hotY} is outside its ${w}x${h} image`);
    }
    const rgba = new Uint8ClampedArray(w * h * 4);
    const mask = w * h * 4;
    for (let row = 0; row < h; row++) {
      for (let col = 0; col < w; col++) {
        const i = (row * w + col) * 4;
        if (!(((data[mask + row * maskRow + (col >> 3)] as number) >> (7 - (col & 7))) & 1)) continue;
        rgba[i] = data[i] as number;
        rgba[i + 1] = data[i + 1] as number;
        rgba[i + 2] = data[i + 2] as number;
        rgba[i + 3] = 255;
      }
    }
    this.latest = {
      width: w,
      height: h,
      hotX: w > 0 && h > 0 ? hotX : 0,
      hotY: w > 0 && h > 0 ? hotY : 0,
      rgba,
    };
  }

  /** The last shape decoded since the previous call, or null. */
  take(): CursorImage | null {
    const latest = this.latest;
    this.latest = null;
    return latest;
  }
}
