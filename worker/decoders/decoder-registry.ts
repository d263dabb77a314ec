import { Encoding } from '../../protocol/rfb-encodings.ts';
import type { StreamRect } from '../../protocol/stream.ts';
import type { Framebuffer } from '../framebuffer.ts';
import { CopyRectDecoder } from './copy-rect-decoder.ts';
import { DecodeError } from './decode-error.ts';
import { DesktopSizeDecoder, ExtendedDesktopSizeDecoder, LastRectDecoder } from './desktop-size-decoder.ts';
import { HextileDecoder } from './hextile-decoder.ts';
import { RawDecoder } from './raw-decoder.ts';
import type { RectDecoder } from './rect-decoder.ts';
import { ZrleDecoder } from './zrle-decoder.ts';

/**
 * Encoding number → decoder, for one connection. Create a new registry per connection: the ZRLE
 * decoder's zlib stream must start afresh with the server's.
 */
export class DecoderRegistry {
  private readonly decoders = new Map<number, RectDecoder>();

  constructor() {
    this.decoders.set(Encoding.Raw, new RawDecoder());
    this.decoders.set(Encoding.CopyRect, new CopyRectDecoder());
    this.decoders.set(Encoding.Hextile, new HextileDecoder());
    this.decoders.set(Encoding.ZRLE, new ZrleDecoder());
    this.decoders.set(Encoding.DesktopSize, new DesktopSizeDecoder());
    this.decoders.set(Encoding.ExtendedDesktopSize, new ExtendedDesktopSizeDecoder());
    this.decoders.set(Encoding.LastRect, new LastRectDecoder());
  }

  has(encoding: number): boolean {
    return this.decoders.has(encoding);
  }

  /** Applies one update's rectangles in order. */
  decodeUpdate(rects: StreamRect[], fb: Framebuffer): void {
    const hooked: RectDecoder[] = [];
    for (const [encoding, decoder] of this.decoders) {
      if (!decoder.beginUpdate) continue;
      const mine = rects.filter((r) => r.encoding === encoding);
      if (mine.length === 0) continue;
      hooked.push(decoder);
      decoder.beginUpdate(mine);
    }
    try {
      for (const rect of rects) this.decode(rect, fb);
    } finally {
      for (const decoder of hooked) decoder.endUpdate?.();
    }
  }

  /** Applies one rectangle to the framebuffer; an encoding we cannot decode is a stream error. */
  decode(rect: StreamRect, fb: Framebuffer): void {
    const decoder = this.decoders.get(rect.encoding);
    if (!decoder) throw new DecodeError(`unsupported encoding ${rect.encoding}`);
    decoder.decode(rect, fb);
  }
}
