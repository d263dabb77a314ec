import type { StreamRect } from '../../protocol/stream.ts';
import type { Framebuffer } from '../framebuffer.ts';

/**
 * One RFB encoding. The gateway forwards whole rectangles, so `decode` always sees a rectangle's
 * complete payload; decoders that keep state across rectangles (ZRLE's zlib stream) live as long as
 * the connection. A malformed payload throws `DecodeError` before anything is written out of bounds.
 *
 * `decode` returns a promise only for a rectangle that finishes asynchronously (Tight's JPEG, which
 * the browser decodes off the thread); it settles once the rectangle is in the framebuffer, and
 * nothing of the update may be decoded before it has (the registry awaits it).
 */
export interface RectDecoder {
  /** Before an update's first rectangle: that update's rectangles of this decoder's encoding, in order. */
  beginUpdate?(rects: StreamRect[]): void;
  decode(rect: StreamRect, fb: Framebuffer): void | Promise<void>;
  /** After an update, whether or not it decoded completely. */
  endUpdate?(): void;
}
