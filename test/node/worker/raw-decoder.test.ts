import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import { RawDecoder } from '../../../worker/decoders/raw-decoder.ts';
import { Framebuffer } from '../../../worker/framebuffer.ts';
import { pixel, rect } from './helpers.ts';

describe('RawDecoder', () => {
  it('puts R, G, B, X pixels as opaque RGBA at the right place', () => {
    const fb = new Framebuffer(4, 3);
    fb.takeDirty();
    new RawDecoder().decode(rect(1, 1, 2, 2, 0, [1, 2, 3, 0, 4, 5, 6, 99, 7, 8, 9, 0, 10, 11, 12, 0]), fb);
    assert.deepEqual(pixel(fb, 1, 1), [1, 2, 3, 255]);
    assert.deepEqual(pixel(fb, 2, 1), [4, 5, 6, 255]);
    assert.deepEqual(pixel(fb, 1, 2), [7, 8, 9, 255]);
    assert.deepEqual(pixel(fb, 2, 2), [10, 11, 12, 255]);
    assert.deepEqual(pixel(fb, 0, 1), [0, 0, 0, 255]);
    assert.deepEqual(pixel(fb, 3, 2), [0, 0, 0, 255]);
    assert.deepEqual(fb.takeDirty(), { x: 1, y: 1, w: 2, h: 2 });
  });

  it('reads from an unaligned view into a larger buffer', () => {
    const fb = new Framebuffer(1, 1);
    const backing = new Uint8Array([9, 1, 2, 3, 0, 9]);
    new RawDecoder().decode({ x: 0, y: 0, w: 1, h: 1, encoding: 0, data: backing.subarray(1, 5) }, fb);
    assert.deepEqual(pixel(fb, 0, 0), [1, 2, 3, 255]);
  });

  it('accepts an empty rectangle', () => {
    const fb = new Framebuffer(2, 2);
    fb.takeDirty();
    new RawDecoder().decode(rect(2, 2, 0, 0, 0, []), fb);
    assert.equal(fb.takeDirty(), null);
  });

  it('rejects wrong lengths and rectangles outside the framebuffer', () => {
    const fb = new Framebuffer(2, 2);
    const d = new RawDecoder();
    assert.throws(() => d.decode(rect(0, 0, 1, 1, 0, [1, 2, 3]), fb), DecodeError);
    assert.throws(() => d.decode(rect(0, 0, 1, 1, 0, [1, 2, 3, 4, 5]), fb), DecodeError);
    assert.throws(() => d.decode(rect(1, 1, 2, 1, 0, new Array<number>(8).fill(0)), fb), DecodeError);
  });
});
