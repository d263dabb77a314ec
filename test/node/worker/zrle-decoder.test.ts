import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constants as zlibConstants, deflateSync } from 'node:zlib';
import type { StreamRect } from '../../../protocol/stream.ts';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import { DecoderRegistry } from '../../../worker/decoders/decoder-registry.ts';
import { ZrleDecoder } from '../../../worker/decoders/zrle-decoder.ts';
import { Framebuffer } from '../../../worker/framebuffer.ts';
import { region, ZrleStreamEncoder } from './helpers.ts';

const ZRLE = 16;
const A = [10, 20, 30];
const B = [40, 50, 60];
const C = [70, 80, 90];
const D = [1, 2, 3];
const E = [4, 5, 6];
const s = (c: number[]): string => c.join(',');

/** Decodes one ZRLE rectangle (tiles given uncompressed) into a fresh framebuffer. */
function decodeOne(w: number, h: number, tiles: number[], fbSize = [w, h] as const): Framebuffer {
  const fb = new Framebuffer(fbSize[0], fbSize[1]);
  const data = new ZrleStreamEncoder().payload(tiles);
  new ZrleDecoder().decode({ x: 0, y: 0, w, h, encoding: ZRLE, data }, fb);
  return fb;
}

function rejects(w: number, h: number, tiles: number[], pattern: RegExp): void {
  assert.throws(
    () => decodeOne(w, h, tiles),
    (e: unknown) => e instanceof DecodeError && pattern.test(e.message),
  );
}

describe('ZrleDecoder', () => {
  it('refuses a zlib bomb instead of inflating it', () => {
    // 1×1 pixel needs at most a few dozen bytes; this inflates to 16 MB of zeros.
    const bomb = deflateSync(Buffer.alloc(16 * 1024 * 1024), { flush: zlibConstants.Z_SYNC_FLUSH });
    const data = new Uint8Array(4 + bomb.length);
    new DataView(data.buffer).setUint32(0, bomb.length);
    data.set(bomb, 4);
    const fb = new Framebuffer(4, 4);
    assert.throws(
      () => new ZrleDecoder().decode({ x: 0, y: 0, w: 1, h: 1, encoding: 16, data }, fb),
      DecodeError,
    );
  });

  it('decodes a raw tile (3-byte R, G, B pixels)', () => {
    const fb = decodeOne(2, 2, [0, ...A, ...B, ...C, ...D]);
    assert.deepEqual(region(fb, 0, 0, 2, 2), [s(A), s(B), s(C), s(D)]);
  });

  it('decodes a solid tile at the rectangle position and marks it dirty', () => {
    const fb = new Framebuffer(5, 5);
    fb.takeDirty();
    const data = new ZrleStreamEncoder().payload([1, ...C]);
    new ZrleDecoder().decode({ x: 1, y: 2, w: 3, h: 2, encoding: ZRLE, data }, fb);
    assert.deepEqual(region(fb, 1, 2, 3, 2), new Array<string>(6).fill(s(C)));
    assert.deepEqual(region(fb, 0, 2, 1, 1), ['0,0,0']);
    assert.deepEqual(fb.takeDirty(), { x: 1, y: 2, w: 3, h: 2 });
  });

  it('decodes a 2-colour packed palette tile (1 bit per pixel, rows padded to a byte)', () => {
    // Row 0: A B A A B B A A | B ; row 1: all B.
    const fb = decodeOne(9, 2, [2, ...A, ...B, 0b01001100, 0b10000000, 0xff, 0x80]);
    assert.deepEqual(region(fb, 0, 0, 9, 1), [A, B, A, A, B, B, A, A, B].map(s));
    assert.deepEqual(region(fb, 0, 1, 9, 1), new Array<string>(9).fill(s(B)));
  });

  it('decodes 3- and 4-colour packed palettes with 2 bits per pixel', () => {
    const fb = decodeOne(3, 1, [3, ...A, ...B, ...C, 0b10_00_01_00]);
    assert.deepEqual(region(fb, 0, 0, 3, 1), [C, A, B].map(s));
    const fb4 = decodeOne(5, 1, [4, ...A, ...B, ...C, ...D, 0b11_10_01_00, 0b11_000000]);
    assert.deepEqual(region(fb4, 0, 0, 5, 1), [D, C, B, A, D].map(s));
  });

  it('decodes 5- to 16-colour packed palettes with 4 bits per pixel', () => {
    const fb = decodeOne(3, 2, [5, ...A, ...B, ...C, ...D, ...E, 0x40, 0x30, 0x12, 0x30]);
    assert.deepEqual(region(fb, 0, 0, 3, 2), [E, A, D, B, C, D].map(s));
    const palette16 = Array.from({ length: 16 }, (_, i) => [i, i, i]);
    const fb16 = decodeOne(2, 1, [16, ...palette16.flat(), 0xf7]);
    assert.deepEqual(region(fb16, 0, 0, 2, 1), ['15,15,15', '7,7,7']);
  });

  it('decodes plain RLE with multi-byte run lengths across rows', () => {
    // 20×20 = 400 pixels: A × 300 (1 + 255 + 44), then B × 100.
    const fb = decodeOne(20, 20, [128, ...A, 255, 44, ...B, 99]);
    const all = region(fb, 0, 0, 20, 20);
    assert.deepEqual(all.slice(0, 300), new Array<string>(300).fill(s(A)));
    assert.deepEqual(all.slice(300), new Array<string>(100).fill(s(B)));
  });

  it('decodes palette RLE with single pixels and runs', () => {
    // 8×33 = 264 pixels: A, B × 2, A, then C × 260 (run length 1 + 255 + 4).
    const fb = decodeOne(8, 33, [131, ...A, ...B, ...C, 0x00, 0x81, 1, 0x00, 0x82, 255, 4]);
    const all = region(fb, 0, 0, 8, 33);
    assert.deepEqual(all.slice(0, 4), [A, B, B, A].map(s));
    assert.deepEqual(all.slice(4), new Array<string>(260).fill(s(C)));
  });

  it('walks 64×64 tiles row by row with partial tiles at the right and bottom edges', () => {
    const fb = decodeOne(65, 65, [1, ...A, 1, ...B, 1, ...C, 1, ...D], [70, 70]);
    assert.deepEqual(region(fb, 0, 0, 1, 1), [s(A)]);
    assert.deepEqual(region(fb, 63, 63, 1, 1), [s(A)]);
    assert.deepEqual(region(fb, 64, 0, 1, 1), [s(B)]);
    assert.deepEqual(region(fb, 64, 63, 1, 1), [s(B)]);
    assert.deepEqual(region(fb, 0, 64, 1, 1), [s(C)]);
    assert.deepEqual(region(fb, 63, 64, 1, 1), [s(C)]);
    assert.deepEqual(region(fb, 64, 64, 1, 1), [s(D)]);
    assert.deepEqual(region(fb, 65, 65, 1, 1), ['0,0,0']);
  });

  it('keeps one zlib stream across rectangles, back-references included', () => {
    const fb = new Framebuffer(16, 16);
    const encoder = new ZrleStreamEncoder();
    const decoder = new ZrleDecoder();
    const pattern = Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 37) % 251);
    const tile = [0, ...pattern];
    decoder.decode({ x: 0, y: 0, w: 8, h: 8, encoding: ZRLE, data: encoder.payload(tile) }, fb);
    // An empty rectangle still advances the stream.
    decoder.decode({ x: 0, y: 0, w: 0, h: 0, encoding: ZRLE, data: encoder.payload([]) }, fb);
    const second = encoder.payload(tile);
    assert.ok(
      second.length < 40,
      `second rectangle should be mostly a back-reference (${second.length} bytes)`,
    );
    decoder.decode({ x: 8, y: 8, w: 8, h: 8, encoding: ZRLE, data: second }, fb);
    decoder.decode({ x: 8, y: 0, w: 8, h: 8, encoding: ZRLE, data: encoder.payload([1, ...E]) }, fb);
    assert.deepEqual(region(fb, 8, 8, 8, 8), region(fb, 0, 0, 8, 8));
    assert.deepEqual(region(fb, 0, 0, 2, 1), ['0,37,74', '111,148,185']);
    assert.deepEqual(region(fb, 15, 7, 1, 1), [s(E)]);
  });

  it('inflates a whole update at once and still decodes its rectangles in order', () => {
    const fb = new Framebuffer(4, 1);
    const encoder = new ZrleStreamEncoder();
    const registry = new DecoderRegistry();
    const zrle = (x: number, tiles: number[]): StreamRect => ({
      x,
      y: 0,
      w: 1,
      h: 1,
      encoding: ZRLE,
      data: encoder.payload(tiles),
    });
    registry.decodeUpdate(
      [
        zrle(0, [1, ...A]),
        // CopyRect between ZRLE rectangles sees the first one already drawn.
        { x: 1, y: 0, w: 1, h: 1, encoding: 1, data: Uint8Array.of(0, 0, 0, 0) },
        zrle(2, [0, ...B]),
        zrle(3, [128, ...C, 0]),
      ],
      fb,
    );
    assert.deepEqual(region(fb, 0, 0, 4, 1), [A, A, B, C].map(s));
    // The stream carries on into the next update, and the decoder still works rectangle by rectangle.
    registry.decodeUpdate([zrle(1, [1, ...D])], fb);
    registry.decode(zrle(2, [1, ...E]), fb);
    assert.deepEqual(region(fb, 0, 0, 4, 1), [A, D, E, C].map(s));
  });

  it('finds bytes left over at the end of a batched update', () => {
    const fb = new Framebuffer(2, 1);
    const encoder = new ZrleStreamEncoder();
    const rects = [0, 1].map((x) => ({
      x,
      y: 0,
      w: 1,
      h: 1,
      encoding: ZRLE,
      data: encoder.payload([1, ...A, ...(x ? [0] : [])]),
    }));
    assert.throws(() => new DecoderRegistry().decodeUpdate(rects, fb), /left over/);
  });

  it('accepts a zlib header split from its first block', () => {
    const fb = new Framebuffer(1, 1);
    const payload = new ZrleStreamEncoder().payload([1, ...A]);
    const zlib = payload.subarray(4);
    const decoder = new ZrleDecoder();
    const first = new Uint8Array([0, 0, 0, 1, zlib[0] as number]);
    const rest = new Uint8Array(4 + zlib.length - 1);
    new DataView(rest.buffer).setUint32(0, zlib.length - 1);
    rest.set(zlib.subarray(1), 4);
    decoder.decode({ x: 0, y: 0, w: 0, h: 0, encoding: ZRLE, data: first }, fb);
    decoder.decode({ x: 0, y: 0, w: 1, h: 1, encoding: ZRLE, data: rest }, fb);
    assert.deepEqual(region(fb, 0, 0, 1, 1), [s(A)]);
  });

  it('rejects malformed tiles', () => {
    rejects(2, 1, [0, ...A, 1, 2], /truncated/);
    rejects(2, 1, [1, 1, 2], /truncated/);
    rejects(2, 1, [17], /subencoding 17/);
    rejects(2, 1, [129], /subencoding 129/);
    rejects(2, 1, [127], /subencoding 127/);
    rejects(2, 1, [3, ...A, ...B], /palette is truncated/);
    rejects(2, 1, [3, ...A, ...B, ...C, 0b00_11_0000], /palette index 3/);
    rejects(2, 2, [3, ...A, ...B, ...C, 0], /truncated/);
    rejects(2, 1, [128, ...A, 2], /past the end/);
    rejects(2, 1, [128, ...A, 0], /truncated/);
    rejects(2, 1, [128, ...A, 255], /run length is truncated/);
    rejects(2, 1, [130, ...A, ...B, 0x02, 0x00], /palette index 2/);
    rejects(2, 1, [130, ...A, ...B, 0x80], /run length is truncated/);
    rejects(2, 1, [1, ...A, 0], /left over/);
    rejects(65, 1, [1, ...A], /truncated/);
  });

  it('rejects a bad length prefix, bad zlib data and rectangles outside the framebuffer', () => {
    const fb = new Framebuffer(4, 4);
    const good = new ZrleStreamEncoder().payload([1, ...A]);
    const tooShort = good.slice(0, -1);
    const tooLong = Uint8Array.from([...good, 0]);
    assert.throws(
      () => new ZrleDecoder().decode({ x: 0, y: 0, w: 1, h: 1, encoding: ZRLE, data: tooShort }, fb),
      DecodeError,
    );
    assert.throws(
      () => new ZrleDecoder().decode({ x: 0, y: 0, w: 1, h: 1, encoding: ZRLE, data: tooLong }, fb),
      DecodeError,
    );
    assert.throws(
      () => new ZrleDecoder().decode({ x: 0, y: 0, w: 1, h: 1, encoding: ZRLE, data: good.slice(0, 3) }, fb),
      DecodeError,
    );
    const badHeader = Uint8Array.from([0, 0, 0, 3, 0x78, 0x00, 0x00]);
    assert.throws(
      () => new ZrleDecoder().decode({ x: 0, y: 0, w: 1, h: 1, encoding: ZRLE, data: badHeader }, fb),
      /zlib/,
    );
    // BFINAL = 1, BTYPE = 3 (reserved).
    const badBlock = Uint8Array.from([0, 0, 0, 3, 0x78, 0x9c, 0x07]);
    assert.throws(
      () => new ZrleDecoder().decode({ x: 0, y: 0, w: 1, h: 1, encoding: ZRLE, data: badBlock }, fb),
      /zlib/,
    );
    assert.throws(
      () => new ZrleDecoder().decode({ x: 3, y: 3, w: 2, h: 1, encoding: ZRLE, data: good }, fb),
      /outside/,
    );
  });
});
