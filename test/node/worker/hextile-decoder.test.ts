import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import { HextileDecoder } from '../../../worker/decoders/hextile-decoder.ts';
import { Framebuffer } from '../../../worker/framebuffer.ts';
import { rect, region } from './helpers.ts';

const HEXTILE = 5;
const RAW = 0x01;
const BG = 0x02;
const FG = 0x04;
const ANY = 0x08;
const COLOURED = 0x10;
const A = [10, 20, 30];
const B = [40, 50, 60];
const C = [70, 80, 90];
const D = [1, 2, 3];
const px = (c: number[]): number[] => [...c, 0];
const s = (c: number[]): string => c.join(',');

function decodeOne(w: number, h: number, data: number[], fbSize = [w, h] as const): Framebuffer {
  const fb = new Framebuffer(fbSize[0], fbSize[1]);
  new HextileDecoder().decode(rect(0, 0, w, h, HEXTILE, data), fb);
  return fb;
}

function rejects(w: number, h: number, data: number[], pattern: RegExp): void {
  assert.throws(
    () => decodeOne(w, h, data),
    (e: unknown) => e instanceof DecodeError && pattern.test(e.message),
  );
}

describe('HextileDecoder', () => {
  it('decodes a raw tile of R, G, B, X pixels', () => {
    const fb = decodeOne(2, 2, [RAW, ...px(A), ...px(B), ...px(C), ...px(D)]);
    assert.deepEqual(region(fb, 0, 0, 2, 2), [A, B, C, D].map(s));
  });

  it('fills a tile with its background and marks the rectangle dirty', () => {
    const fb = new Framebuffer(6, 6);
    fb.takeDirty();
    new HextileDecoder().decode(rect(1, 2, 3, 3, HEXTILE, [BG, ...px(A)]), fb);
    assert.deepEqual(region(fb, 1, 2, 3, 3), new Array<string>(9).fill(s(A)));
    assert.deepEqual(region(fb, 0, 2, 1, 1), ['0,0,0']);
    assert.deepEqual(fb.takeDirty(), { x: 1, y: 2, w: 3, h: 3 });
  });

  it('draws foreground subrectangles over the background', () => {
    // Subrects: 3×1 at (1, 2) and 1×1 at (0, 0).
    const fb = decodeOne(4, 4, [BG | FG | ANY, ...px(A), ...px(B), 2, 0x12, 0x20, 0x00, 0x00]);
    assert.deepEqual(
      region(fb, 0, 0, 4, 4),
      [...[B, A, A, A], ...[A, A, A, A], ...[A, B, B, B], ...[A, A, A, A]].map(s),
    );
  });

  it('draws coloured subrectangles', () => {
    // C: 2×2 at (2, 2); D: 1×4 at (0, 0).
    const fb = decodeOne(4, 4, [
      BG | ANY | COLOURED,
      ...px(A),
      2,
      ...px(C),
      0x22,
      0x11,
      ...px(D),
      0x00,
      0x03,
    ]);
    assert.deepEqual(
      region(fb, 0, 0, 4, 4),
      [...[D, A, A, A], ...[D, A, A, A], ...[D, A, C, C], ...[D, A, C, C]].map(s),
    );
  });

  it('carries background and foreground over to the next tile', () => {
    // Two 16×1 tiles: the second specifies nothing and has one 1×1 subrect at (3, 0).
    const fb = decodeOne(32, 1, [BG | FG | ANY, ...px(A), ...px(B), 0, ANY, 1, 0x30, 0x00]);
    const row = region(fb, 0, 0, 32, 1);
    assert.deepEqual(row.slice(0, 16), new Array<string>(16).fill(s(A)));
    assert.deepEqual(row.slice(16, 20), [A, A, A, B].map(s));
    assert.deepEqual(row.slice(20), new Array<string>(12).fill(s(A)));
  });

  it('walks 16×16 tiles row by row with partial tiles at the edges', () => {
    const fb = decodeOne(17, 17, [BG, ...px(A), BG, ...px(B), BG, ...px(C), BG, ...px(D)], [20, 20]);
    assert.deepEqual(
      region(fb, 15, 15, 3, 3),
      [
        ...[A, B, [0, 0, 0]],
        ...[C, D, [0, 0, 0]],
        ...[
          [0, 0, 0],
          [0, 0, 0],
          [0, 0, 0],
        ],
      ].map(s),
    );
  });

  it('rejects malformed tiles', () => {
    rejects(2, 2, [0], /no background/);
    rejects(2, 2, [BG | ANY, ...px(A), 1, 0x00, 0x00], /no foreground/);
    rejects(4, 4, [BG | FG | ANY, ...px(A), ...px(B), 1, 0x30, 0x10], /outside/);
    rejects(4, 4, [BG | FG | ANY, ...px(A), ...px(B), 1, 0x03, 0x01], /outside/);
    rejects(2, 2, [RAW, ...px(A)], /truncated/);
    rejects(2, 2, [BG, 1, 2], /truncated/);
    rejects(2, 2, [BG | FG, ...px(A), 1], /truncated/);
    rejects(2, 2, [BG | ANY, ...px(A)], /truncated/);
    rejects(2, 2, [BG | FG | ANY, ...px(A), ...px(B), 2, 0, 0], /truncated/);
    rejects(17, 1, [BG, ...px(A)], /truncated/);
    rejects(2, 2, [BG, ...px(A), 0], /left over/);
    rejects(2, 2, [0x20 | BG, ...px(A)], /undefined bits/);
  });

  it('accepts AnySubrects with zero subrectangles and no foreground', () => {
    const fb = decodeOne(2, 1, [BG | ANY, ...px(A), 0]);
    assert.deepEqual(region(fb, 0, 0, 2, 1), [s(A), s(A)]);
  });

  it('rejects rectangles outside the framebuffer', () => {
    const fb = new Framebuffer(4, 4);
    assert.throws(
      () => new HextileDecoder().decode(rect(3, 0, 2, 1, HEXTILE, [BG, ...px(A)]), fb),
      DecodeError,
    );
  });
});
