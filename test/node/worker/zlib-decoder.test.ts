import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import { ZlibDecoder } from '../../../worker/decoders/zlib-decoder.ts';
import { Framebuffer } from '../../../worker/framebuffer.ts';
import { rect, region } from './helpers.ts';
import { lengthPrefixed, ZlibStreamEncoder } from './zlib-stream-encoder.ts';

const ZLIB = Encoding.Zlib;

describe('ZlibDecoder', () => {
  it('inflates Raw pixels (4 bytes R, G, B, X) from one stream kept across rectangles', () => {
    const fb = new Framebuffer(4, 2);
    fb.takeDirty();
    const zlib = new ZlibStreamEncoder();
    const decoder = new ZlibDecoder();
    const pixels = [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 10, 11, 12, 0];
    decoder.decode(rect(0, 0, 4, 1, ZLIB, lengthPrefixed(zlib.piece(pixels))), fb);
    // An empty rectangle still advances the stream.
    decoder.decode(rect(0, 0, 0, 0, ZLIB, lengthPrefixed(zlib.piece([]))), fb);
    const second = zlib.piece(pixels);
    assert.ok(second.length < 16, `a back-reference into the first rectangle (${second.length} bytes)`);
    decoder.decode(rect(0, 1, 4, 1, ZLIB, lengthPrefixed(second)), fb);
    assert.deepEqual(region(fb, 0, 0, 4, 2), [
      ...['1,2,3', '4,5,6', '7,8,9', '10,11,12'],
      ...['1,2,3', '4,5,6', '7,8,9', '10,11,12'],
    ]);
    assert.deepEqual(fb.takeDirty(), { x: 0, y: 0, w: 4, h: 2 });
  });

  it('rejects a bad length prefix, too much or too little output and bad zlib data', () => {
    const fb = new Framebuffer(4, 4);
    const bad = (data: number[], pattern: RegExp, w = 1, h = 1): void =>
      assert.throws(
        () => new ZlibDecoder().decode(rect(0, 0, w, h, ZLIB, data), fb),
        (e: unknown) => e instanceof DecodeError && pattern.test(e.message),
      );
    const one = new ZlibStreamEncoder().piece([1, 2, 3, 0]);
    bad([0, 0, 1], /length is truncated/);
    bad(lengthPrefixed(one).slice(0, -1), /payload has/);
    bad([...lengthPrefixed(one), 0], /payload has/);
    bad(lengthPrefixed(new ZlibStreamEncoder().piece([1, 2, 3])), /inflated to 3/);
    bad(lengthPrefixed(new ZlibStreamEncoder().piece([1, 2, 3, 0, 5])), /more than 4 bytes/);
    bad(lengthPrefixed([0x78, 0x00, 0x00]), /zlib/);
    // A bomb: 64 MB of zeros for a 1×1 rectangle is refused early, not inflated.
    bad(lengthPrefixed(deflateSync(new Uint8Array(64 * 1024 * 1024))), /more than 4 bytes/);
    assert.throws(() => new ZlibDecoder().decode(rect(3, 3, 2, 2, ZLIB, lengthPrefixed(one)), fb), /outside/);
  });
});
