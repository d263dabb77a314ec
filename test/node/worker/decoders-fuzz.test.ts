import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import type { StreamRect } from '../../../protocol/stream.ts';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import { DecoderRegistry } from '../../../worker/decoders/decoder-registry.ts';
import { Framebuffer } from '../../../worker/framebuffer.ts';
import { compact, lengthPrefixed, ZlibStreamEncoder } from './zlib-stream-encoder.ts';

/** Small seeded PRNG (mulberry32): the same inputs on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Valid rectangles of the new encodings, to mutate. */
function seeds(): StreamRect[] {
  const z = new ZlibStreamEncoder();
  const tile = Array.from({ length: 8 * 4 * 3 }, (_, i) => (i * 29) % 256);
  const rre = [0, 0, 0, 1, 9, 9, 9, 0, 1, 2, 3, 0, 0, 1, 0, 1, 0, 2, 0, 2];
  return [
    { x: 0, y: 0, w: 8, h: 4, encoding: Encoding.Tight, data: Uint8Array.from([0x80, 1, 2, 3]) },
    {
      x: 0,
      y: 0,
      w: 8,
      h: 4,
      encoding: Encoding.Tight,
      data: Uint8Array.from([0x00, ...compact(z.piece(tile))]),
    },
    {
      x: 1,
      y: 1,
      w: 8,
      h: 2,
      encoding: Encoding.Tight,
      data: Uint8Array.from([0x50, 1, 1, 1, 2, 3, 4, 5, 6, 0xaa, 0x55]),
    },
    {
      x: 0,
      y: 0,
      w: 4,
      h: 4,
      encoding: Encoding.Tight,
      data: Uint8Array.from([0x60, 2, ...compact(new ZlibStreamEncoder().piece(tile.slice(0, 48)))]),
    },
    { x: 0, y: 0, w: 2, h: 2, encoding: Encoding.Tight, data: Uint8Array.from([0x90, 3, 0xff, 0xd8, 0xff]) },
    { x: 0, y: 0, w: 2, h: 2, encoding: Encoding.TightPNG, data: Uint8Array.from([0xa0, 2, 0x89, 0x50]) },
    { x: 2, y: 2, w: 4, h: 3, encoding: Encoding.RRE, data: Uint8Array.from(rre) },
    {
      x: 0,
      y: 0,
      w: 2,
      h: 2,
      encoding: Encoding.Zlib,
      data: Uint8Array.from(lengthPrefixed(new ZlibStreamEncoder().piece(new Array<number>(16).fill(7)))),
    },
    {
      x: 1,
      y: 1,
      w: 2,
      h: 1,
      encoding: Encoding.Cursor,
      data: Uint8Array.from([1, 2, 3, 0, 4, 5, 6, 0, 0xc0]),
    },
    {
      x: 0,
      y: 0,
      w: 0,
      h: 0,
      encoding: Encoding.DesktopName,
      data: Uint8Array.from([0, 0, 0, 2, 0x68, 0x69]),
    },
  ];
}

function mutate(rect: StreamRect, next: () => number): StreamRect {
  const data = Array.from(rect.data);
  const edits = 1 + Math.floor(next() * 4);
  for (let i = 0; i < edits; i++) {
    const r = next();
    const at = Math.floor(next() * (data.length + 1));
    if (r < 0.4 && data.length > 0) data[Math.min(at, data.length - 1)] = Math.floor(next() * 256);
    else if (r < 0.6)
      data.length = at; // truncate
    else if (r < 0.8) data.splice(at, 0, Math.floor(next() * 256));
    else data.splice(at, 1);
  }
  const dims = next() < 0.2;
  return {
    ...rect,
    x: dims ? Math.floor(next() * 12) : rect.x,
    y: dims ? Math.floor(next() * 12) : rect.y,
    w: dims ? Math.floor(next() * 12) : rect.w,
    h: dims ? Math.floor(next() * 12) : rect.h,
    data: Uint8Array.from(data),
  };
}

describe('new decoders under malformed input (seeded fuzz)', () => {
  it('fail only with DecodeError, never write outside the framebuffer, never hang', async () => {
    const next = random(0x5eed);
    // Images decode to the rectangle's size, so that only framing is under test here.
    const registry = (): DecoderRegistry =>
      new DecoderRegistry({
        decodeImage: (_d, _m, w, h) => Promise.resolve(new Uint8ClampedArray(w * h * 4)),
      });
    let failures = 0;
    let successes = 0;
    const base = seeds();
    for (let i = 0; i < 4000; i++) {
      const fb = new Framebuffer(10, 8);
      const before = fb.data.length;
      const rect = mutate(base[i % base.length] as StreamRect, next);
      try {
        await registry().decodeUpdate([rect], fb);
        successes++;
      } catch (error) {
        assert.ok(
          error instanceof DecodeError,
          `${String(error)} for ${JSON.stringify({ ...rect, data: [...rect.data] })}`,
        );
        failures++;
      }
      assert.equal(fb.data.length, before);
      assert.deepEqual([fb.width, fb.height], [10, 8]);
    }
    assert.ok(failures > 1000 && successes > 100, `${failures} rejected, ${successes} accepted`);
  });
});
