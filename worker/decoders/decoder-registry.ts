import { Encoding } from '../../protocol/rfb-encodings.ts';
import type { StreamRect } from '../../protocol/stream.ts';
import type { Framebuffer } from '../framebuffer.ts';
import { CopyRectDecoder } from './copy-rect-decoder.ts';
import { CursorDecoder, type CursorImage } from './cursor-decoder.ts';
import { DecodeError } from './decode-error.ts';
import { DesktopNameDecoder } from './desktop-name-decoder.ts';
import { DesktopSizeDecoder, ExtendedDesktopSizeDecoder, LastRectDecoder } from './desktop-size-decoder.ts';
import { HextileDecoder } from './hextile-decoder.ts';
import { defaultImageDecoder, type ImageDecodeFn } from './image-decoder.ts';
import { RawDecoder } from './raw-decoder.ts';
import type { RectDecoder } from './rect-decoder.ts';
import { RreDecoder } from './rre-decoder.ts';
import { TightDecoder } from './tight-decoder.ts';
import { TightPngDecoder } from './tight-png-decoder.ts';
import { ZlibDecoder } from './zlib-decoder.ts';
import { ZrleDecoder } from './zrle-decoder.ts';

export interface DecoderOptions {
  /**
   * Decodes Tight's JPEG and TightPNG's PNG rectangles. Default: createImageBitmap where it exists
   * (browser, worker); elsewhere (Node) such rectangles are a DecodeError unless a decoder is given.
   */
  decodeImage?: ImageDecodeFn;
}

/**
 * Encoding number → decoder, for one connection. Create a new registry per connection: the ZRLE,
 * Zlib and Tight decoders' zlib streams must start afresh with the server's.
 */
export class DecoderRegistry {
  private readonly decoders = new Map<number, RectDecoder>();
  private readonly cursor = new CursorDecoder();
  private readonly desktopName = new DesktopNameDecoder();

  constructor(options: DecoderOptions = {}) {
    const decodeImage = options.decodeImage ?? defaultImageDecoder();
    this.decoders.set(Encoding.Raw, new RawDecoder());
    this.decoders.set(Encoding.CopyRect, new CopyRectDecoder());
    this.decoders.set(Encoding.RRE, new RreDecoder());
    this.decoders.set(Encoding.Hextile, new HextileDecoder());
    this.decoders.set(Encoding.Zlib, new ZlibDecoder());
    this.decoders.set(Encoding.Tight, new TightDecoder(decodeImage));
    this.decoders.set(Encoding.ZRLE, new ZrleDecoder());
    this.decoders.set(Encoding.TightPNG, new TightPngDecoder(decodeImage));
    this.decoders.set(Encoding.DesktopSize, new DesktopSizeDecoder());
    this.decoders.set(Encoding.ExtendedDesktopSize, new ExtendedDesktopSizeDecoder());
    this.decoders.set(Encoding.LastRect, new LastRectDecoder());
    this.decoders.set(Encoding.Cursor, this.cursor);
    this.decoders.set(Encoding.DesktopName, this.desktopName);
  }

  has(encoding: number): boolean {
    return this.decoders.has(encoding);
  }

  /**
   * Applies one update's rectangles in order. Returns nothing when the whole update was applied
   * synchronously, or a promise when a rectangle (Tight JPEG) decodes asynchronously: the rectangles
   * after it are applied only once it has landed, and the promise settles when the last one has. Do
   * not start another update before it settles.
   */
  decodeUpdate(rects: StreamRect[], fb: Framebuffer): void | Promise<void> {
    const hooked: RectDecoder[] = [];
    for (const [encoding, decoder] of this.decoders) {
      if (!decoder.beginUpdate) continue;
      const mine = rects.filter((r) => r.encoding === encoding);
      if (mine.length === 0) continue;
      hooked.push(decoder);
      decoder.beginUpdate(mine);
    }
    let async = false;
    try {
      for (let i = 0; i < rects.length; i++) {
        const pending = this.decode(rects[i] as StreamRect, fb);
        if (pending) {
          async = true;
          return this.finishAsync(pending, rects, i + 1, fb, hooked);
        }
      }
    } finally {
      if (!async) for (const decoder of hooked) decoder.endUpdate?.();
    }
  }

  private async finishAsync(
    pending: Promise<void>,
    rects: StreamRect[],
    from: number,
    fb: Framebuffer,
    hooked: RectDecoder[],
  ): Promise<void> {
    try {
      await pending;
      for (let i = from; i < rects.length; i++) {
        const next = this.decode(rects[i] as StreamRect, fb);
        if (next) await next;
      }
    } finally {
      for (const decoder of hooked) decoder.endUpdate?.();
    }
  }

  /** Applies one rectangle to the framebuffer; an encoding we cannot decode is a stream error. */
  decode(rect: StreamRect, fb: Framebuffer): void | Promise<void> {
    const decoder = this.decoders.get(rect.encoding);
    if (!decoder) throw new DecodeError(`unsupported encoding ${rect.encoding}`);
    return decoder.decode(rect, fb);
  }

  /** The last cursor shape decoded since the previous call, or null. */
  takeCursor(): CursorImage | null {
    return this.cursor.take();
  }

  /** The last desktop name decoded since the previous call, or null. */
  takeDesktopName(): string | null {
    return this.desktopName.take();
  }
}
