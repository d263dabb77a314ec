import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import { CursorDecoder } from '../../../worker/decoders/cursor-decoder.ts';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import { DecoderRegistry } from '../../../worker/decoders/decoder-registry.ts';
import { Framebuffer } from '../../../worker/framebuffer.ts';
import { rect } from './helpers.ts';

const CURSOR = Encoding.Cursor;

describe('CursorDecoder', () => {
  it('makes RGBA from R, G, B, X pixels and the bitmask (1 = opaque, rows padded to bytes)', () => {
    const decoder = new CursorDecoder();
    // 9×2: row 0 opaque at columns 0 and 8, row 1 at column 1.
    const pixels: number[] = [];
    for (let i = 0; i < 18; i++) pixels.push(i, 100 + i, 200 - i, 0x55);
    decoder.decode(rect(8, 1, 9, 2, CURSOR, [...pixels, 0b10000000, 0b10000000, 0b01000000, 0]));
    const cursor = decoder.take();
    assert.ok(cursor);
    assert.deepEqual([cursor.width, cursor.height, cursor.hotX, cursor.hotY], [9, 2, 8, 1]);
    const alpha = Array.from({ length: 18 }, (_, i) => cursor.rgba[i * 4 + 3]);
    assert.deepEqual(alpha, [255, 0, 0, 0, 0, 0, 0, 0, 255, 0, 255, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(cursor.rgba.subarray(0, 4)), [0, 100, 200, 255]);
    assert.deepEqual(Array.from(cursor.rgba.subarray(8 * 4, 9 * 4)), [8, 108, 192, 255]);
    assert.deepEqual(Array.from(cursor.rgba.subarray(10 * 4, 11 * 4)), [10, 110, 190, 255]);
    assert.deepEqual(Array.from(cursor.rgba.subarray(4, 8)), [0, 0, 0, 0], 'transparent pixels are all zero');
    assert.equal(decoder.take(), null, 'take() hands a shape over once');
  });

  it('takes a 0×0 cursor as "no visible pointer" and draws nothing into the framebuffer', () => {
    const registry = new DecoderRegistry();
    const fb = new Framebuffer(2, 2);
    fb.takeDirty();
    assert.equal(registry.decodeUpdate([rect(0, 0, 0, 0, CURSOR, [])], fb), undefined);
    assert.deepEqual(registry.takeCursor(), {
      width: 0,
      height: 0,
      hotX: 0,
      hotY: 0,
      rgba: new Uint8ClampedArray(0),
    });
    assert.equal(fb.takeDirty(), null);
    // Outside the framebuffer is fine: x, y are the hotspot, not a position.
    registry.decode(
      rect(500, 0, 501, 1, CURSOR, [...new Array<number>(501 * 4).fill(0), ...new Array<number>(63).fill(0)]),
      fb,
    );
  });

  it('rejects a wrong payload size, a hotspot outside the image and absurd sizes', () => {
    const bad = (r: ReturnType<typeof rect>, pattern: RegExp): void =>
      assert.throws(
        () => new CursorDecoder().decode(r),
        (e: unknown) => e instanceof DecodeError && pattern.test(e.message),
      );
    bad(rect(0, 0, 2, 2, CURSOR, new Array<number>(16 + 1).fill(0)), /needs 18 bytes, got 17/);
    bad(rect(0, 0, 2, 2, CURSOR, new Array<number>(16 + 3).fill(0)), /needs 18 bytes, got 19/);
    bad(rect(2, 0, 2, 2, CURSOR, new Array<number>(18).fill(0)), /hotspot 2,0 is outside/);
    bad(rect(0, 2, 2, 2, CURSOR, new Array<number>(18).fill(0)), /hotspot 0,2 is outside/);
    bad(rect(0, 0, 65535, 1, CURSOR, []), /too large/);
  });
});
