import { DecodeError } from './decode-error.ts';

export type ImageMime = 'image/jpeg' | 'image/png';

/**
 * Decodes a compressed image (Tight's JPEG, TightPNG's PNG) of exactly `width` × `height` pixels into
 * RGBA bytes, row-major. Asynchronous, because browsers decode images off the calling thread; rejects
 * with DecodeError when the data is not such an image.
 */
export type ImageDecodeFn = (
  data: Uint8Array,
  mime: ImageMime,
  width: number,
  height: number,
) => Promise<Uint8Array | Uint8ClampedArray>;

/** Checks that a decoder handed back exactly one RGBA image of the rectangle's size. */
export function checkImagePixels(
  pixels: Uint8Array | Uint8ClampedArray,
  mime: ImageMime,
  width: number,
  height: number,
): Uint8Array {
  if (pixels.length !== width * height * 4) {
    throw new DecodeError(
      `${mime} rectangle ${width}x${height} decoded to ${pixels.length} bytes instead of ${width * height * 4}`,
    );
  }
  return pixels instanceof Uint8Array
    ? pixels
    : new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength);
}

function ownBytes(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return data.buffer instanceof ArrayBuffer
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
}

function decodeFailed(mime: ImageMime, error: unknown): DecodeError {
  if (error instanceof DecodeError) return error;
  return new DecodeError(
    `${mime} rectangle does not decode: ${error instanceof Error ? error.message : String(error)}`,
  );
}

function checkSize(mime: ImageMime, actualW: number, actualH: number, width: number, height: number): void {
  if (actualW !== width || actualH !== height) {
    throw new DecodeError(`${mime} image is ${actualW}x${actualH}, its rectangle ${width}x${height}`);
  }
}

/**
 * The worker's image decoder. Both paths decode off the worker's thread (the browser's decoder
 * threads), so all of an update's images decode in parallel:
 *
 * - WebCodecs' `ImageDecoder` where it exists (Chromium): the bytes go straight in (no Blob round trip
 *   through the browser process, which made createImageBitmap about 3× slower on the desktop-tight
 *   recording's 452 JPEGs), and the frame is converted to RGBA by `VideoFrame.copyTo` when the browser
 *   supports that conversion. JPEG arrives as YUV 4:4:4 here and the conversion may differ from
 *   libjpeg-turbo's own (what <img> and createImageBitmap use) by 1 in a few values.
 * - otherwise `createImageBitmap(new Blob([bytes]))`.
 *
 * Where pixels cannot be copied out directly, one draw into a CPU-backed scratch canvas reads them
 * back, since the framebuffer (not the canvas) holds the picture that CopyRect and later updates work
 * on. Frames and bitmaps are closed at once.
 */
export function createBrowserImageDecoder(options: { webCodecs?: boolean } = {}): ImageDecodeFn {
  const webCodecs = (options.webCodecs ?? true) && typeof ImageDecoder === 'function';
  let scratch: OffscreenCanvasRenderingContext2D | null = null;

  const readBack = (image: CanvasImageSource, width: number, height: number): Uint8ClampedArray => {
    if (!scratch || scratch.canvas.width < width || scratch.canvas.height < height) {
      const canvas = new OffscreenCanvas(
        Math.max(width, scratch?.canvas.width ?? 0),
        Math.max(height, scratch?.canvas.height ?? 0),
      );
      scratch = canvas.getContext('2d', { willReadFrequently: true });
      if (!scratch) throw new DecodeError('no 2d context to decode images with');
    }
    // 'copy' takes the image's pixels as they are, transparent ones included (a PNG may have alpha).
    scratch.globalCompositeOperation = 'copy';
    scratch.drawImage(image, 0, 0);
    return scratch.getImageData(0, 0, width, height).data;
  };

  const withImageDecoder = async (
    data: Uint8Array,
    mime: ImageMime,
    width: number,
    height: number,
  ): Promise<Uint8Array | Uint8ClampedArray> => {
    let decoder: ImageDecoder | null = null;
    let frame: VideoFrame | null = null;
    try {
      decoder = new ImageDecoder({
        data: ownBytes(data),
        type: mime,
        colorSpaceConversion: 'none',
      });
      frame = (await decoder.decode()).image;
      checkSize(mime, frame.displayWidth, frame.displayHeight, width, height);
      let direct = false;
      try {
        // An engine that does not know the `format` option would report the native (YUV) size.
        direct = frame.allocationSize({ format: 'RGBA' }) === width * height * 4;
      } catch {
        direct = false;
      }
      if (!direct) return readBack(frame, width, height);
      const rgba = new Uint8Array(width * height * 4);
      await frame.copyTo(rgba, { format: 'RGBA' });
      return rgba;
    } catch (error) {
      throw decodeFailed(mime, error);
    } finally {
      frame?.close();
      decoder?.close();
    }
  };

  const withBitmap = async (
    data: Uint8Array,
    mime: ImageMime,
    width: number,
    height: number,
  ): Promise<Uint8Array | Uint8ClampedArray> => {
    let bitmap: ImageBitmap | null = null;
    try {
      bitmap = await createImageBitmap(new Blob([ownBytes(data)], { type: mime }), {
        premultiplyAlpha: 'none',
        colorSpaceConversion: 'none',
      });
      checkSize(mime, bitmap.width, bitmap.height, width, height);
      return readBack(bitmap, width, height);
    } catch (error) {
      throw decodeFailed(mime, error);
    } finally {
      bitmap?.close();
    }
  };

  return webCodecs ? withImageDecoder : withBitmap;
}

/** For environments without `createImageBitmap` (Node): image rectangles are a stream error. */
export const unavailableImageDecoder: ImageDecodeFn = (_data, mime) =>
  Promise.reject(new DecodeError(`no ${mime} decoder in this environment`));

/** The browser decoder where there is one, otherwise `unavailableImageDecoder`. */
export function defaultImageDecoder(): ImageDecodeFn {
  return typeof OffscreenCanvas === 'function' &&
    (typeof ImageDecoder === 'function' || typeof createImageBitmap === 'function')
    ? createBrowserImageDecoder()
    : unavailableImageDecoder;
}
