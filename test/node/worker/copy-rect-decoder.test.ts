import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CopyRectDecoder } from '../../../worker/decoders/copy-rect-decoder.ts';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import { Framebuffer, packRgb } from '../../../worker/framebuffer.ts';
import { rect, region } from './helpers.ts';

function striped(): Framebuffer {
  const fb = new Framebuffer(6, 6);
  for (let y = 0; y < 6; y++) for (let x = 0; x < 6; x++) fb.fillRect(x, y, 1, 1, packRgb(x, y, 0));
  fb.takeDirty();
  return fb;
}

describe('CopyRectDecoder', () => {
  it('copies from the big-endian source position and marks the destination dirty', () => {
    const fb = striped();
    new CopyRectDecoder().decode(rect(4, 4, 2, 2, 1, [0, 0, 0, 1]), fb);
    assert.deepEqual(region(fb, 4, 4, 2, 2), ['0,1,0', '1,1,0', '0,2,0', '1,2,0']);
    assert.deepEqual(fb.takeDirty(), { x: 4, y: 4, w: 2, h: 2 });
  });

  it('handles overlapping copies in all four diagonal directions', () => {
    for (const [sx, sy, dx, dy] of [
      [1, 1, 2, 2],
      [2, 2, 1, 1],
      [1, 2, 2, 1],
      [2, 1, 1, 2],
    ] as const) {
      const fb = striped();
      const expected = region(striped(), sx, sy, 3, 3);
      new CopyRectDecoder().decode(rect(dx, dy, 3, 3, 1, [0, sx, 0, sy]), fb);
      assert.deepEqual(region(fb, dx, dy, 3, 3), expected, `${sx},${sy} → ${dx},${dy}`);
    }
  });

  it('reads u16 coordinates', () => {
    const fb = new Framebuffer(300, 2);
    fb.fillRect(260, 1, 1, 1, packRgb(7, 7, 7));
    new CopyRectDecoder().decode(rect(0, 0, 1, 1, 1, [1, 4, 0, 1]), fb);
    assert.deepEqual(region(fb, 0, 0, 1, 1), ['7,7,7']);
  });

  it('rejects a wrong length and sources or destinations outside the framebuffer', () => {
    const fb = striped();
    const d = new CopyRectDecoder();
    assert.throws(() => d.decode(rect(0, 0, 1, 1, 1, [0, 0, 0]), fb), DecodeError);
    assert.throws(() => d.decode(rect(0, 0, 1, 1, 1, [0, 0, 0, 0, 0]), fb), DecodeError);
    assert.throws(() => d.decode(rect(0, 0, 2, 2, 1, [0, 5, 0, 0]), fb), DecodeError);
    assert.throws(() => d.decode(rect(5, 5, 2, 2, 1, [0, 0, 0, 0]), fb), DecodeError);
  });
});
