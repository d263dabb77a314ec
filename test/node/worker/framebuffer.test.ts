import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import { Framebuffer, packRgb } from '../../../worker/framebuffer.ts';
import { pixel, region } from './helpers.ts';

/** A 4×4 framebuffer whose pixel (x, y) has red = x, green = y, blue = 10·y + x. */
function numbered(): Framebuffer {
  const fb = new Framebuffer(4, 4);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) fb.fillRect(x, y, 1, 1, packRgb(x, y, 10 * y + x));
  fb.takeDirty();
  return fb;
}

describe('Framebuffer', () => {
  it('starts opaque black and stores packed colours as R, G, B, 255 bytes', () => {
    const fb = new Framebuffer(2, 1);
    assert.deepEqual(pixel(fb, 1, 0), [0, 0, 0, 255]);
    fb.fillRect(1, 0, 1, 1, packRgb(1, 2, 3));
    assert.deepEqual(pixel(fb, 1, 0), [1, 2, 3, 255]);
  });

  it('keeps the overlapping picture on resize and marks everything dirty', () => {
    const fb = numbered();
    fb.resize(5, 2);
    assert.deepEqual(region(fb, 0, 0, 5, 2), [
      '0,0,0',
      '1,0,1',
      '2,0,2',
      '3,0,3',
      '0,0,0',
      '0,1,10',
      '1,1,11',
      '2,1,12',
      '3,1,13',
      '0,0,0',
    ]);
    assert.deepEqual(fb.takeDirty(), { x: 0, y: 0, w: 5, h: 2 });
  });

  it('copies overlapping regions in every direction like memmove', () => {
    for (const [dx, dy] of [
      [1, 1],
      [-1, -1],
      [1, -1],
      [-1, 1],
      [1, 0],
      [0, 1],
    ] as const) {
      const fb = numbered();
      const expected = region(numbered(), 1, 1, 2, 2);
      fb.copyRect(1, 1, 1 + dx, 1 + dy, 2, 2);
      assert.deepEqual(region(fb, 1 + dx, 1 + dy, 2, 2), expected, `shift ${dx},${dy}`);
    }
  });

  it('tracks the union box of dirty regions and resets it', () => {
    const fb = new Framebuffer(10, 10);
    fb.takeDirty();
    assert.equal(fb.takeDirty(), null);
    fb.markDirty(1, 2, 3, 1);
    fb.markDirty(5, 5, 2, 2);
    fb.markDirty(0, 0, 0, 5);
    assert.deepEqual(fb.takeDirty(), { x: 1, y: 2, w: 6, h: 5 });
    assert.equal(fb.takeDirty(), null);
  });

  it('refuses writes outside itself and absurd sizes', () => {
    const fb = new Framebuffer(4, 4);
    assert.throws(() => fb.fillRect(3, 0, 2, 1, 0), DecodeError);
    assert.throws(() => fb.fillRect(-1, 0, 1, 1, 0), DecodeError);
    assert.throws(() => fb.copyRect(0, 3, 0, 0, 1, 2), DecodeError);
    assert.throws(() => fb.putRgbx(0, 0, 2, 2, new Uint8Array(15), 0), DecodeError);
    assert.throws(() => fb.putRgb(0, 0, 2, 2, new Uint8Array(12), 1), DecodeError);
    assert.throws(() => fb.resize(65535, 65535), DecodeError);
    assert.throws(() => fb.resize(1.5, 2), DecodeError);
  });

  it('exports R, G, B bytes row-major', () => {
    assert.deepEqual(Array.from(numbered().toRgb().subarray(0, 9)), [0, 0, 0, 1, 0, 1, 2, 0, 2]);
  });
});
