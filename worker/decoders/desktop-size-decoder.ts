import type { StreamRect } from '../../protocol/stream.ts';
import type { Framebuffer } from '../framebuffer.ts';
import { DecodeError } from './decode-error.ts';
import type { RectDecoder } from './rect-decoder.ts';

/** DesktopSize (-223) pseudo-rectangle: no payload; w × h is the new framebuffer size. */
export class DesktopSizeDecoder implements RectDecoder {
  decode(rect: StreamRect, fb: Framebuffer): void {
    if (rect.data.length !== 0)
      throw new DecodeError(`DesktopSize carries no payload, got ${rect.data.length} bytes`);
    fb.resize(rect.w, rect.h);
  }
}

/**
 * ExtendedDesktopSize (-308): u8 number-of-screens, 3 padding, 16 bytes per screen. y is the status;
 * a non-zero status answers a refused SetDesktopSize and leaves the size unchanged.
 */
export class ExtendedDesktopSizeDecoder implements RectDecoder {
  decode(rect: StreamRect, fb: Framebuffer): void {
    const { data } = rect;
    if (data.length < 4) throw new DecodeError('ExtendedDesktopSize is truncated');
    const screens = data[0] as number;
    if (data.length !== 4 + screens * 16) {
      throw new DecodeError(
        `ExtendedDesktopSize with ${screens} screens needs ${4 + screens * 16} bytes, got ${data.length}`,
      );
    }
    if (rect.y === 0) fb.resize(rect.w, rect.h);
  }
}

/** LastRect (-224): the gateway normally drops it; harmless if one gets through. */
export class LastRectDecoder implements RectDecoder {
  decode(): void {}
}
