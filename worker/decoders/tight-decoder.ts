import type { StreamRect } from '../../protocol/stream.ts';
import { rgbAt, type Framebuffer } from '../framebuffer.ts';
import { DecodeError } from './decode-error.ts';
import {
  checkImagePixels,
  defaultImageDecoder,
  type ImageDecodeFn,
  type ImageMime,
} from './image-decoder.ts';
import { InflateStream } from './inflate-stream.ts';
import type { RectDecoder } from './rect-decoder.ts';

const FILL = 0x8;
const JPEG = 0x9;
const PNG = 0xa;
const FILTER_COPY = 0;
const FILTER_PALETTE = 1;
const FILTER_GRADIENT = 2;
/** Filtered data shorter than this is sent as is, without zlib and without a length. */
const MIN_COMPRESSED = 12;
/**
 * Image rectangles of one update decode in parallel, but only up to this many pixels at a time (RGBA
 * bytes = 4 ×), so that an update of thousands of tiny JPEGs that each claim a whole screen cannot
 * make the browser hold gigabytes of decoded images at once. A larger image starts alone.
 */
const MAX_PARALLEL_IMAGE_PIXELS = 8 * 1024 * 1024;
/** An update's pieces of one zlib stream inflate together up to this many output bytes (see beginUpdate). */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * Tight's "compact length": 1 to 3 bytes, 7 bits each (the third 8), low bits first. Returns the
 * position of the data it announces and that data's length.
 */
function compactLength(data: Uint8Array, pos: number, what: string): [start: number, length: number] {
  if (pos >= data.length) throw new DecodeError(`Tight ${what} length is truncated`);
  const b0 = data[pos] as number;
  if (!(b0 & 0x80)) return [pos + 1, b0];
  if (pos + 1 >= data.length) throw new DecodeError(`Tight ${what} length is truncated`);
  const b1 = data[pos + 1] as number;
  if (!(b1 & 0x80)) return [pos + 2, (b0 & 0x7f) | (b1 << 7)];
  if (pos + 2 >= data.length) throw new DecodeError(`Tight ${what} length is truncated`);
  return [pos + 3, (b0 & 0x7f) | ((b1 & 0x7f) << 7) | ((data[pos + 2] as number) << 14)];
}

interface PendingImage {
  rect: StreamRect;
  pixels: Promise<Uint8Array | Uint8ClampedArray> | null;
}

/** A basic-compression rectangle's header, parsed. */
interface BasicHeader {
  filter: number;
  /** Palette size (palette filter only) and where the palette's TPIXELs start. */
  colours: number;
  paletteAt: number;
  /** Size of the filtered data, and where it starts (raw) or its zlib bytes start. */
  rawLength: number;
  dataAt: number;
  compressed: boolean;
}

/** Consecutive pieces of one zlib stream within an update, inflated with one push. */
interface Batch {
  stream: number;
  rects: StreamRect[];
  headers: BasicHeader[];
  total: number;
  out: Uint8Array | null;
  /** The next rectangle to take its bytes, and where they start. */
  index: number;
  pos: number;
}

function parseBasic(data: Uint8Array, w: number, h: number, mode: number): BasicHeader {
  let pos = 1;
  let filter = FILTER_COPY;
  if (mode & 0x4) {
    if (data.length < 2) throw new DecodeError('Tight filter id is missing');
    filter = data[1] as number;
    pos = 2;
  }
  let colours = 0;
  let paletteAt = 0;
  let rawLength: number;
  if (filter === FILTER_COPY || filter === FILTER_GRADIENT) {
    rawLength = w * h * 3;
  } else if (filter === FILTER_PALETTE) {
    if (pos >= data.length) throw new DecodeError('Tight palette size is missing');
    colours = (data[pos++] as number) + 1;
    paletteAt = pos;
    pos += colours * 3;
    if (pos > data.length) throw new DecodeError('Tight palette is truncated');
    rawLength = (colours <= 2 ? (w + 7) >> 3 : w) * h;
  } else {
    throw new DecodeError(`Tight filter ${filter} is not defined`);
  }
  if (rawLength < MIN_COMPRESSED) {
    if (data.length !== pos + rawLength) {
      throw new DecodeError(`Tight raw data needs ${rawLength} bytes, payload has ${data.length - pos}`);
    }
    return { filter, colours, paletteAt, rawLength, dataAt: pos, compressed: false };
  }
  const [start, length] = compactLength(data, pos, 'zlib data');
  if (data.length !== start + length) {
    throw new DecodeError(`Tight says ${length} zlib bytes, payload has ${data.length - start}`);
  }
  return { filter, colours, paletteAt, rawLength, dataAt: start, compressed: true };
}

/**
 * Tight (7). The first byte (compression control) has four bits that reset the connection's four zlib
 * streams, then a mode in its high nibble: fill (one TPIXEL), JPEG (compact length + JFIF data), or
 * "basic" compression (bits 0–1 pick a zlib stream, bit 2 says a filter id follows: copy, palette or
 * gradient). Filtered data under 12 bytes is sent raw; longer data is a compact length plus that
 * stream's next piece, which must inflate to exactly the filtered size. A TPIXEL is 3 bytes R, G, B.
 *
 * JPEG rectangles decode asynchronously (`decodeImage`: the browser's ImageDecoder or
 * createImageBitmap in the worker, see image-decoder.ts), so `decode` returns a promise for them: the
 * registry awaits it before the update's next rectangle, so every rectangle lands in order. To overlap the waits, `beginUpdate` starts decoding all of an update's
 * images at once (up to a pixel budget) and `decode` then only waits for the one whose turn it is.
 * One instance per connection: the zlib streams live as long as it.
 */
export class TightDecoder implements RectDecoder {
  private readonly streams: Array<InflateStream | null> = [null, null, null, null];
  private readonly palette = new Uint32Array(256);
  private prevRow = new Uint8Array(0);
  private thisRow = new Uint8Array(0);
  /** The update's image rectangles, in order, with their decodes once started. */
  private images: PendingImage[] = [];
  private nextImage = 0;
  private startedPixels = 0;
  /** The update's zlib rectangles that inflate in batches. */
  private batches = new Map<StreamRect, Batch>();

  constructor(
    private readonly decodeImage: ImageDecodeFn = defaultImageDecoder(),
    /** TightPNG (-260): PNG instead of basic compression. */
    private readonly png = false,
  ) {}

  protected get name(): string {
    return this.png ? 'TightPNG' : 'Tight';
  }

  /**
   * Starts the update's image decodes, and groups its zlib rectangles into batches: consecutive pieces
   * of one stream (no reset between them) inflate with one push instead of one each, since fflate's
   * streaming inflate allocates and copies ~200 KB per push — more than decoding a small rectangle
   * costs, and a scrolling terminal sends dozens per update. The output is the same bytes; each
   * rectangle still takes exactly its filtered size from it, in order. A rectangle whose header does
   * not parse ends the batching (it, and what follows, decode one by one and report their errors in
   * order).
   */
  beginUpdate(rects: StreamRect[]): void {
    this.endUpdate();
    const open: Array<Batch | null> = [null, null, null, null];
    for (const rect of rects) {
      const { w, h, data } = rect;
      if (data.length < 1) break;
      const control = data[0] as number;
      for (let i = 0; i < 4; i++) if ((control >> i) & 1) open[i] = null;
      const mode = control >> 4;
      if ((mode === JPEG || (mode === PNG && this.png)) && w > 0 && h > 0) {
        this.images.push({ rect, pixels: null });
        continue;
      }
      if (mode >= FILL || this.png) continue;
      let header: BasicHeader;
      try {
        header = parseBasic(data, w, h, mode);
      } catch {
        break;
      }
      if (!header.compressed) continue;
      const stream = mode & 0x3;
      let batch = open[stream] ?? null;
      if (!batch || batch.total + header.rawLength > MAX_BATCH_BYTES) {
        batch = { stream, rects: [], headers: [], total: 0, out: null, index: 0, pos: 0 };
        open[stream] = batch;
      }
      batch.rects.push(rect);
      batch.headers.push(header);
      batch.total += header.rawLength;
      this.batches.set(rect, batch);
    }
    this.startImages();
  }

  endUpdate(): void {
    // Decodes still running after a failed update settle unobserved (their rejections are handled).
    this.images = [];
    this.nextImage = 0;
    this.startedPixels = 0;
    if (this.batches.size > 0) this.batches = new Map();
  }

  decode(rect: StreamRect, fb: Framebuffer): void | Promise<void> {
    const { x, y, w, h, data } = rect;
    fb.checkRect(x, y, w, h);
    if (data.length < 1) throw new DecodeError(`${this.name} compression control is missing`);
    const control = data[0] as number;
    for (let i = 0; i < 4; i++) if ((control >> i) & 1) this.streams[i] = null;
    const mode = control >> 4;
    if (mode === FILL) {
      if (data.length !== 4) throw new DecodeError(`${this.name} fill needs 4 bytes, got ${data.length}`);
      fb.fillRect(x, y, w, h, rgbAt(data, 1));
      fb.markDirty(x, y, w, h);
      return;
    }
    if (mode === JPEG) return this.decodeImageRect(rect, fb, 'image/jpeg');
    if (mode === PNG) {
      if (!this.png) throw new DecodeError('Tight rectangle uses PNG, which only TightPNG allows');
      return this.decodeImageRect(rect, fb, 'image/png');
    }
    if (mode > PNG) throw new DecodeError(`${this.name} compression control ${mode} is not defined`);
    if (this.png) throw new DecodeError('TightPNG rectangle uses basic compression');
    this.decodeBasic(rect, fb, mode);
  }

  private decodeImageRect(rect: StreamRect, fb: Framebuffer, mime: ImageMime): void | Promise<void> {
    const { x, y, w, h, data } = rect;
    const [start, length] = compactLength(data, 1, mime);
    if (data.length !== start + length) {
      throw new DecodeError(`${this.name} ${mime} says ${length} bytes, payload has ${data.length - start}`);
    }
    // Nothing to draw (and a 0×0 image cannot be decoded); noVNC skips these too.
    if (w === 0 || h === 0) return;
    const pixels = this.takeImage(rect) ?? this.decodeImage(data.subarray(start), mime, w, h);
    return pixels.then((decoded) => {
      fb.putRgbx(x, y, w, h, checkImagePixels(decoded, mime, w, h), 0);
      fb.markDirty(x, y, w, h);
    });
  }

  /**
   * The decode `beginUpdate` started for this rectangle, or null. Its pixels count against the
   * parallel budget until it has settled; then the next images start.
   */
  private takeImage(rect: StreamRect): Promise<Uint8Array | Uint8ClampedArray> | null {
    const image = this.images[this.nextImage];
    if (!image || image.rect !== rect) return null;
    this.nextImage++;
    const { pixels } = image;
    if (!pixels) return null; // not started: the caller decodes it now
    image.pixels = null;
    const images = this.images;
    const release = (): void => {
      if (this.images !== images) return; // that update is over
      this.startedPixels -= rect.w * rect.h;
      this.startImages();
    };
    pixels.then(release, release);
    return pixels;
  }

  private startImages(): void {
    for (let i = this.nextImage; i < this.images.length; i++) {
      const image = this.images[i] as PendingImage;
      if (image.pixels) continue;
      const { w, h, data } = image.rect;
      if (this.startedPixels > 0 && this.startedPixels + w * h > MAX_PARALLEL_IMAGE_PIXELS) return;
      let start: number;
      let length: number;
      try {
        [start, length] = compactLength(data, 1, 'image');
      } catch {
        return; // decode() reports it when this rectangle's turn comes
      }
      if (data.length !== start + length) return;
      const mime: ImageMime = (data[0] as number) >> 4 === PNG ? 'image/png' : 'image/jpeg';
      const pixels = this.decodeImage(data.subarray(start), mime, w, h);
      // Awaited in decode(); until then (or if an earlier rectangle fails) a rejection is not unhandled.
      pixels.catch(() => undefined);
      image.pixels = pixels;
      this.startedPixels += w * h;
    }
  }

  private stream(id: number): InflateStream {
    let stream = this.streams[id];
    if (!stream) {
      stream = new InflateStream();
      this.streams[id] = stream;
    }
    return stream;
  }

  private decodeBasic(rect: StreamRect, fb: Framebuffer, mode: number): void {
    const { x, y, w, h, data } = rect;
    const header = parseBasic(data, w, h, mode);
    const { filter, colours, rawLength } = header;
    for (let i = 0, p = header.paletteAt; i < colours; i++, p += 3) this.palette[i] = rgbAt(data, p);
    let src: Uint8Array;
    let at: number;
    if (!header.compressed) {
      src = data;
      at = header.dataAt;
    } else {
      const batch = this.batches.get(rect);
      if (batch) {
        src = this.fromBatch(batch, rect);
      } else {
        src = this.stream(mode & 0x3).push(data.subarray(header.dataAt), rawLength);
        if (src.length !== rawLength) {
          throw new DecodeError(`Tight zlib data inflated to ${src.length} bytes instead of ${rawLength}`);
        }
      }
      at = 0;
    }
    if (filter === FILTER_COPY) fb.putRgb(x, y, w, h, src, at);
    else if (filter === FILTER_PALETTE) this.putPalette(fb, rect, src, at, colours);
    else this.putGradient(fb, rect, src, at);
    fb.markDirty(x, y, w, h);
  }

  /** This rectangle's filtered bytes from its batch, inflating the batch at its first rectangle. */
  private fromBatch(batch: Batch, rect: StreamRect): Uint8Array {
    if (!batch.out) {
      let length = 0;
      for (let i = 0; i < batch.rects.length; i++) {
        length += (batch.rects[i] as StreamRect).data.length - (batch.headers[i] as BasicHeader).dataAt;
      }
      const joined = new Uint8Array(length);
      for (let i = 0, at = 0; i < batch.rects.length; i++) {
        const piece = (batch.rects[i] as StreamRect).data.subarray((batch.headers[i] as BasicHeader).dataAt);
        joined.set(piece, at);
        at += piece.length;
      }
      const out = this.stream(batch.stream).push(joined, batch.total);
      if (out.length !== batch.total) {
        throw new DecodeError(`Tight zlib data inflated to ${out.length} bytes instead of ${batch.total}`);
      }
      batch.out = out;
    }
    const header = batch.headers[batch.index];
    if (batch.rects[batch.index] !== rect || !header) {
      throw new DecodeError('Tight rectangles decoded out of order');
    }
    batch.index++;
    const start = batch.pos;
    batch.pos += header.rawLength;
    return batch.out.subarray(start, batch.pos);
  }

  /** Palette indices: 1 bit per pixel (rows padded to a byte, most significant first) for 2 colours, else 1 byte. */
  private putPalette(fb: Framebuffer, rect: StreamRect, src: Uint8Array, at: number, colours: number): void {
    const { x, y, w, h } = rect;
    const pixels = fb.pixels;
    const stride = fb.width;
    const palette = this.palette;
    if (colours <= 2) {
      const rowBytes = (w + 7) >> 3;
      for (let row = 0; row < h; row++) {
        let o = (y + row) * stride + x;
        let s = at + row * rowBytes;
        for (let col = 0; col < w; col += 8) {
          const byte = src[s++] as number;
          const n = Math.min(8, w - col);
          for (let b = 0; b < n; b++) {
            const index = (byte >> (7 - b)) & 1;
            if (index >= colours)
              throw new DecodeError(`Tight palette index ${index} with ${colours} colours`);
            pixels[o++] = palette[index] as number;
          }
        }
      }
    } else {
      let s = at;
      for (let row = 0; row < h; row++) {
        let o = (y + row) * stride + x;
        for (const end = o + w; o < end; o++) {
          const index = src[s++] as number;
          if (index >= colours) throw new DecodeError(`Tight palette index ${index} with ${colours} colours`);
          pixels[o] = palette[index] as number;
        }
      }
    }
  }

  /**
   * Gradient filter (as TigerVNC's FilterGradient24): each component is sent as the difference from
   * left + above − above-left (clamped to 0…255), with 0 outside the rectangle; sums wrap modulo 256.
   */
  private putGradient(fb: Framebuffer, rect: StreamRect, src: Uint8Array, at: number): void {
    const { x, y, w, h } = rect;
    const rowBytes = w * 3;
    if (this.prevRow.length < rowBytes) {
      this.prevRow = new Uint8Array(rowBytes);
      this.thisRow = new Uint8Array(rowBytes);
    }
    let prev = this.prevRow;
    let cur = this.thisRow;
    prev.fill(0, 0, rowBytes);
    let s = at;
    for (let row = 0; row < h; row++) {
      for (let c = 0; c < 3; c++) cur[c] = ((prev[c] as number) + (src[s++] as number)) & 0xff;
      for (let i = 3; i < rowBytes; i++) {
        let estimate = (prev[i] as number) + (cur[i - 3] as number) - (prev[i - 3] as number);
        if (estimate < 0) estimate = 0;
        else if (estimate > 255) estimate = 255;
        cur[i] = (estimate + (src[s++] as number)) & 0xff;
      }
      fb.putRgb(x, y + row, w, 1, cur, 0);
      const t = prev;
      prev = cur;
      cur = t;
    }
  }
}
