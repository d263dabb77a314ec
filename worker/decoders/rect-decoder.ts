import type { StreamRect } from '../../protocol/stream.ts';
import type { Framebuffer } from '../framebuffer.ts';

/**
 * One RFB encoding. The gateway forwards whole rectangles, so `decode` always sees a rectangle's
 * complete payload; decoders that keep state across rectangles (ZRLE's zlib stream) live as long as
 * the connection. A malformed payload throws `DecodeError` before anything is written out of bounds.
 */
export interface RectDecoder {
  /** Before an update's first rectangle: that update's rectangles of this decoder's encoding, in order. */
  beginUpdate?(rects: StreamRect[]): void;
  decode(rect: StreamRect, fb: Framebuffer): void;
  /** After an update, whether or not it decoded completely. */
  endUpdate?(): void;
}
