import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import { RreDecoder } from '../../../worker/decoders/rre-decoder.ts';
import { Framebuffer } from '../../../worker/framebuffer.ts';
import { rect, region } from './helpers.ts';

const RRE = Encoding.RRE;
const BG = [10, 20, 30, 0];
const FG = [1, 2, 3, 0];

function u16(n: number): number[] {
  return [n >> 8, n & 0xff];
}

function rre(background: number[], subrects: Array<[number[], number, number, number, number]>): number[] {
  const out = [0, 0, 0, subrects.length, ...background];
  for (const [pixel, x, y, w, h] of subrects) out.push(...pixel, ...u16(x), ...u16(y), ...u16(w), ...u16(h));
  return out;
}

describe('RreDecoder', () => {
  it('fills the background, then each subrectangle relative to the rectangle', () => {
    const fb = new Framebuffer(6, 4);
    fb.takeDirty();
    new RreDecoder().decode(
      rect(
        1,
        1,
        4,
        3,
        RRE,
        rre(BG, [
          [FG, 1, 0, 2, 2],
          [[7, 7, 7, 9], 3, 2, 1, 1],
        ]),
      ),
      fb,
    );
    const bg = '10,20,30';
    const fg = '1,2,3';
    assert.deepEqual(region(fb, 1, 1, 4, 3), [bg, fg, fg, bg, bg, fg, fg, bg, bg, bg, bg, '7,7,7']);
    assert.deepEqual(region(fb, 0, 0, 1, 1), ['0,0,0']);
    assert.deepEqual(region(fb, 5, 3, 1, 1), ['0,0,0']);
    assert.deepEqual(fb.takeDirty(), { x: 1, y: 1, w: 4, h: 3 });
  });

  it('accepts no subrectangles and an empty rectangle', () => {
    const fb = new Framebuffer(2, 2);
    new RreDecoder().decode(rect(0, 0, 2, 2, RRE, rre(FG, [])), fb);
    assert.deepEqual(region(fb, 0, 0, 2, 2), new Array<string>(4).fill('1,2,3'));
    new RreDecoder().decode(rect(2, 2, 0, 0, RRE, rre(BG, [])), fb);
  });

  it('rejects truncated or oversized payloads and subrectangles outside the rectangle', () => {
    const fb = new Framebuffer(4, 4);
    const bad = (data: number[], pattern: RegExp, w = 2, h = 2): void =>
      assert.throws(
        () => new RreDecoder().decode(rect(0, 0, w, h, RRE, data), fb),
        (e: unknown) => e instanceof DecodeError && pattern.test(e.message),
      );
    bad([0, 0, 0, 0, 1, 2, 3], /header is truncated/);
    bad(rre(BG, [[FG, 0, 0, 1, 1]]).slice(0, -1), /needs 20 bytes, got 19/);
    bad([...rre(BG, []), 0], /needs 8 bytes, got 9/);
    bad([0xff, 0xff, 0xff, 0xff, ...BG], /4294967295 subrectangles/);
    bad(rre(BG, [[FG, 1, 0, 2, 1]]), /outside its 2x2/);
    bad(rre(BG, [[FG, 0, 1, 1, 2]]), /outside its 2x2/);
    bad(rre(BG, [[FG, 65535, 0, 2, 1]]), /outside/);
    assert.throws(() => new RreDecoder().decode(rect(3, 3, 2, 2, RRE, rre(BG, [])), fb), /outside the 4x4/);
  });
});
