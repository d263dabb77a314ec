import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import { DecoderRegistry } from '../../../worker/decoders/decoder-registry.ts';
import type { ImageDecodeFn } from '../../../worker/decoders/image-decoder.ts';
import { TightPngDecoder } from '../../../worker/decoders/tight-png-decoder.ts';
import { Framebuffer } from '../../../worker/framebuffer.ts';
import { rect, region } from './helpers.ts';
import { compact } from './zlib-stream-encoder.ts';

const TIGHT_PNG = Encoding.TightPNG;

/** A real PNG decoder for Node (pngjs), as createImageBitmap is in the worker. */
const pngjs: ImageDecodeFn = (data, mime, w, h) => {
  if (mime !== 'image/png') return Promise.reject(new DecodeError(`no ${mime} decoder`));
  try {
    const png = PNG.sync.read(Buffer.from(data));
    if (png.width !== w || png.height !== h) throw new DecodeError(`PNG is ${png.width}x${png.height}`);
    return Promise.resolve(new Uint8Array(png.data));
  } catch (error) {
    return Promise.reject(error instanceof DecodeError ? error : new DecodeError(String(error)));
  }
};

/** Encodes an RGB picture given row-major as [r, g, b] triples. */
function pngOf(w: number, h: number, pixels: number[][]): Uint8Array {
  const png = new PNG({ width: w, height: h });
  pixels.forEach(([r = 0, g = 0, b = 0], i) => png.data.set([r, g, b, 255], i * 4));
  return new Uint8Array(PNG.sync.write(png));
}

describe('TightPngDecoder', () => {
  it('decodes PNG rectangles (mode 0xA) through the image decoder', async () => {
    const fb = new Framebuffer(4, 3);
    fb.takeDirty();
    const pixels = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ];
    const pending = new TightPngDecoder(pngjs).decode(
      rect(1, 1, 3, 2, TIGHT_PNG, [0xa0, ...compact(pngOf(3, 2, pixels))]),
      fb,
    );
    assert.ok(pending instanceof Promise);
    await pending;
    assert.deepEqual(
      region(fb, 1, 1, 3, 2),
      pixels.map((p) => p.join(',')),
    );
    assert.deepEqual(fb.takeDirty(), { x: 1, y: 1, w: 3, h: 2 });
  });

  it('fills, and hands JPEG to the image decoder as Tight does', async () => {
    const fb = new Framebuffer(2, 1);
    const seen: string[] = [];
    const decoder = new TightPngDecoder((_data, mime, w, h) => {
      seen.push(mime);
      return Promise.resolve(new Uint8ClampedArray(w * h * 4).fill(9));
    });
    assert.equal(decoder.decode(rect(0, 0, 1, 1, TIGHT_PNG, [0x80, 7, 8, 9]), fb), undefined);
    await decoder.decode(rect(1, 0, 1, 1, TIGHT_PNG, [0x90, 2, 0xff, 0xd8]), fb);
    assert.deepEqual(region(fb, 0, 0, 2, 1), ['7,8,9', '9,9,9']);
    assert.deepEqual(seen, ['image/jpeg']);
  });

  it('lands PNG rectangles of an update in order', async () => {
    const fb = new Framebuffer(2, 1);
    const registry = new DecoderRegistry({ decodeImage: pngjs });
    await registry.decodeUpdate(
      [
        rect(0, 0, 2, 1, TIGHT_PNG, [
          0xa0,
          ...compact(
            pngOf(2, 1, [
              [1, 1, 1],
              [2, 2, 2],
            ]),
          ),
        ]),
        rect(1, 0, 1, 1, Encoding.CopyRect, [0, 0, 0, 0]),
      ],
      fb,
    );
    assert.deepEqual(region(fb, 0, 0, 2, 1), ['1,1,1', '1,1,1']);
  });

  it('rejects basic compression, bad PNG data and a PNG of the wrong size', async () => {
    const fb = new Framebuffer(4, 4);
    const decoder = new TightPngDecoder(pngjs);
    assert.throws(
      () => decoder.decode(rect(0, 0, 1, 1, TIGHT_PNG, [0x00, 1, 2, 3]), fb),
      /basic compression/,
    );
    assert.throws(() => decoder.decode(rect(0, 0, 1, 1, TIGHT_PNG, [0xb0]), fb), /compression control 11/);
    assert.throws(() => decoder.decode(rect(0, 0, 1, 1, TIGHT_PNG, [0xa0, 3, 1]), fb), /says 3 bytes/);
    await assert.rejects(
      Promise.resolve(decoder.decode(rect(0, 0, 1, 1, TIGHT_PNG, [0xa0, 2, 1, 2]), fb)),
      DecodeError,
    );
    await assert.rejects(
      Promise.resolve(
        decoder.decode(rect(0, 0, 2, 2, TIGHT_PNG, [0xa0, ...compact(pngOf(1, 1, [[0, 0, 0]]))]), fb),
      ),
      /PNG is 1x1/,
    );
  });
});
