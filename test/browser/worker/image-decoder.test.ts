import { expect } from '@open-wc/testing';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import {
  createBrowserImageDecoder,
  defaultImageDecoder,
  unavailableImageDecoder,
} from '../../../worker/decoders/image-decoder.ts';
import { StreamDecoder } from '../../../worker/stream-decoder.ts';

/** A JPEG (or PNG) made by the browser itself: left half red, right half blue. */
async function picture(w: number, h: number, type: 'image/jpeg' | 'image/png'): Promise<Uint8Array> {
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2d context');
  ctx.fillStyle = 'rgb(255, 0, 0)';
  ctx.fillRect(0, 0, w / 2, h);
  ctx.fillStyle = 'rgb(0, 0, 255)';
  ctx.fillRect(w / 2, 0, w / 2, h);
  return new Uint8Array(await (await canvas.convertToBlob({ type, quality: 1 })).arrayBuffer());
}

/** Tight's compact length + data. */
function compact(data: Uint8Array): number[] {
  const n = data.length;
  const head =
    n < 0x80
      ? [n]
      : n < 0x4000
        ? [(n & 0x7f) | 0x80, n >> 7]
        : [(n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, n >> 14];
  return [...head, ...data];
}

function near(actual: ArrayLike<number>, expected: number[], tolerance: number): boolean {
  return expected.every((v, i) => Math.abs((actual[i] as number) - v) <= tolerance);
}

for (const webCodecs of [true, false]) {
  describe(`image decoding in the browser (${webCodecs ? 'ImageDecoder' : 'createImageBitmap'})`, () => {
    it('decodes a JPEG to RGBA of its rectangle’s size', async () => {
      const decode = createBrowserImageDecoder({ webCodecs });
      const rgba = await decode(await picture(32, 16, 'image/jpeg'), 'image/jpeg', 32, 16);
      expect(rgba.length).to.equal(32 * 16 * 4);
      expect(near(rgba.subarray(0, 4), [255, 0, 0, 255], 8)).to.equal(true);
      const right = (8 * 32 + 31) * 4;
      expect(near(rgba.subarray(right, right + 4), [0, 0, 255, 255], 8)).to.equal(true);
      // A smaller image after a larger one (the scratch canvas is reused) is exact too.
      const png = await decode(await picture(4, 2, 'image/png'), 'image/png', 4, 2);
      expect(Array.from(png.subarray(0, 4))).to.deep.equal([255, 0, 0, 255]);
      expect(Array.from(png.subarray(28, 32))).to.deep.equal([0, 0, 255, 255]);
    });

    it('rejects garbage and an image whose size is not the rectangle’s with DecodeError', async () => {
      const decode = createBrowserImageDecoder({ webCodecs });
      let error: unknown = null;
      await decode(Uint8Array.of(0xff, 0xd8, 1, 2, 3), 'image/jpeg', 2, 2).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(DecodeError);
      error = null;
      await decode(await picture(8, 8, 'image/jpeg'), 'image/jpeg', 8, 4).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(DecodeError);
      expect((error as DecodeError).message).to.match(/8x8, its rectangle 8x4/);
    });
  });
}

describe('Tight JPEG through the default image decoder', () => {
  it('is available in a browser', () => {
    expect(defaultImageDecoder()).to.not.equal(unavailableImageDecoder);
  });

  it('lands a Tight JPEG rectangle before the CopyRect after it', async () => {
    const decoder = new StreamDecoder();
    decoder.apply({ t: 'init', version: 1, width: 48, height: 16, name: '' });
    const jpeg = await picture(32, 16, 'image/jpeg');
    const outcome = await decoder.applyMessage({
      t: 'update',
      seq: 1,
      rects: [
        {
          x: 0,
          y: 0,
          w: 32,
          h: 16,
          encoding: Encoding.Tight,
          data: Uint8Array.from([0x90, ...compact(jpeg)]),
        },
        // Copies the JPEG's red left edge to x = 40.
        { x: 40, y: 0, w: 8, h: 16, encoding: Encoding.CopyRect, data: Uint8Array.of(0, 0, 0, 0) },
      ],
    });
    expect(outcome).to.deep.include({ type: 'update', seq: 1, dirty: { x: 0, y: 0, w: 48, h: 16 } });
    const fb = decoder.framebuffer;
    const at = (x: number, y: number): Uint8ClampedArray =>
      fb.data.subarray((y * 48 + x) * 4, (y * 48 + x) * 4 + 4);
    expect(near(at(40, 8), [255, 0, 0, 255], 8)).to.equal(true);
    expect(near(at(31, 8), [0, 0, 255, 255], 8)).to.equal(true);
    expect(Array.from(at(36, 8))).to.deep.equal([0, 0, 0, 255], 'untouched');
  });
});
