import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import type { StreamRect } from '../../../protocol/stream.ts';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import { DecoderRegistry } from '../../../worker/decoders/decoder-registry.ts';
import type { ImageDecodeFn } from '../../../worker/decoders/image-decoder.ts';
import { TightDecoder } from '../../../worker/decoders/tight-decoder.ts';
import { Framebuffer } from '../../../worker/framebuffer.ts';
import { rect, region } from './helpers.ts';
import { compact, ZlibStreamEncoder } from './zlib-stream-encoder.ts';

const TIGHT = Encoding.Tight;
const A = [10, 20, 30];
const B = [40, 50, 60];
const C = [70, 80, 90];
const D = [1, 2, 3];
const s = (c: number[]): string => c.join(',');

/** Compression control for basic compression: stream id, explicit filter flag, reset bits. */
const basic = (stream: number, filter: boolean, reset = 0): number =>
  ((stream | (filter ? 4 : 0)) << 4) | reset;

/** A decoder that must not be asked for images. */
const noImages: ImageDecodeFn = () => Promise.reject(new Error('unexpected image'));

function decodeSync(decoder: TightDecoder, r: StreamRect, fb: Framebuffer): void {
  const result = decoder.decode(r, fb);
  assert.equal(result, undefined, 'decoded synchronously');
}

function rejects(
  fb: Framebuffer,
  r: StreamRect,
  pattern: RegExp,
  decoder = new TightDecoder(noImages),
): void {
  assert.throws(
    () => decoder.decode(r, fb),
    (e: unknown) => e instanceof DecodeError && pattern.test(e.message),
  );
}

/** Tight's gradient filter as a server applies it (TigerVNC's FilterGradient24): residuals mod 256. */
function gradientEncode(w: number, h: number, rgb: number[]): number[] {
  const at = (x: number, y: number, c: number): number =>
    x < 0 || y < 0 ? 0 : (rgb[(y * w + x) * 3 + c] as number);
  const out: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const estimate = Math.min(255, Math.max(0, at(x - 1, y, c) + at(x, y - 1, c) - at(x - 1, y - 1, c)));
        out.push((at(x, y, c) - estimate) & 0xff);
      }
    }
  }
  return out;
}

/** Resolvable promise, to finish fake image decodes in any order. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (e: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A solid RGBA image of w × h. */
function solid(w: number, h: number, c: number[]): Uint8ClampedArray {
  const out = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < out.length; i += 4) out.set([...c, 255], i);
  return out;
}

describe('TightDecoder', () => {
  it('fills a rectangle with one TPIXEL (3 bytes R, G, B)', () => {
    const fb = new Framebuffer(4, 3);
    fb.takeDirty();
    decodeSync(new TightDecoder(noImages), rect(1, 1, 2, 2, TIGHT, [0x80, ...A]), fb);
    assert.deepEqual(region(fb, 1, 1, 2, 2), new Array<string>(4).fill(s(A)));
    assert.deepEqual(region(fb, 0, 0, 1, 1), ['0,0,0']);
    assert.deepEqual(fb.takeDirty(), { x: 1, y: 1, w: 2, h: 2 });
  });

  it('takes filtered data under 12 bytes raw, without zlib or length', () => {
    const fb = new Framebuffer(3, 1);
    decodeSync(new TightDecoder(noImages), rect(0, 0, 3, 1, TIGHT, [basic(0, false), ...A, ...B, ...C]), fb);
    assert.deepEqual(region(fb, 0, 0, 3, 1), [A, B, C].map(s));
    // Explicit copy filter, 2 colours of 1-bit palette (2 bytes of indices): raw too.
    const fb2 = new Framebuffer(9, 2);
    decodeSync(
      new TightDecoder(noImages),
      rect(0, 0, 9, 2, TIGHT, [basic(3, true), 1, 1, ...A, ...B, 0b01001100, 0b10000000, 0xff, 0x80]),
      fb2,
    );
    assert.deepEqual(region(fb2, 0, 0, 9, 1), [A, B, A, A, B, B, A, A, B].map(s));
    assert.deepEqual(region(fb2, 0, 1, 9, 1), new Array<string>(9).fill(s(B)));
  });

  it('inflates the copy filter through zlib with 1-, 2- and 3-byte compact lengths', () => {
    const decoder = new TightDecoder(noImages);
    const zlib = new ZlibStreamEncoder();
    const fb = new Framebuffer(100, 61);
    const small = [...A, ...B, ...C, ...D]; // 2×2: exactly 12 bytes, so compressed
    decodeSync(decoder, rect(0, 0, 2, 2, TIGHT, [basic(0, false), ...compact(zlib.piece(small))]), fb);
    assert.deepEqual(region(fb, 0, 0, 2, 2), [A, B, C, D].map(s));
    // Noise barely compresses: 100×60×3 = 18000 bytes need a 3-byte length, a 50×30 part 2 bytes.
    let seed = 7;
    const noise = Array.from(
      { length: 100 * 60 * 3 },
      () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24,
    );
    const big = zlib.piece(noise);
    assert.ok(big.length >= 16384, `3-byte length (${big.length})`);
    decodeSync(decoder, rect(0, 1, 100, 60, TIGHT, [basic(0, true), 0, ...compact(big)]), fb);
    assert.deepEqual(region(fb, 99, 60, 1, 1), [noise.slice(-3).join(',')]);
    assert.deepEqual(region(fb, 0, 1, 1, 1), [noise.slice(0, 3).join(',')]);
    const part = Array.from(
      { length: 50 * 30 * 3 },
      () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24,
    );
    const medium = zlib.piece(part);
    assert.ok(medium.length >= 128 && medium.length < 16384, `2-byte length (${medium.length})`);
    decodeSync(decoder, rect(50, 0, 50, 30, TIGHT, [basic(0, false), ...compact(medium)]), fb);
    assert.deepEqual(region(fb, 50, 0, 1, 1), [part.slice(0, 3).join(',')]);
  });

  it('decodes the palette filter with 1 bit per pixel for 2 colours and 1 byte for more', () => {
    const decoder = new TightDecoder(noImages);
    const zlib = new ZlibStreamEncoder();
    const fb = new Framebuffer(16, 3);
    // 2 colours, 16×2: rows of 2 bytes → 4 bytes, raw.
    decodeSync(
      decoder,
      rect(0, 0, 16, 2, TIGHT, [basic(1, true), 1, 1, ...C, ...D, 0xf0, 0x0f, 0x00, 0xff]),
      fb,
    );
    assert.deepEqual(
      region(fb, 0, 0, 16, 1),
      [
        ...new Array<number[]>(4).fill(D),
        ...new Array<number[]>(8).fill(C),
        ...new Array<number[]>(4).fill(D),
      ].map(s),
    );
    assert.deepEqual(
      region(fb, 0, 1, 16, 1),
      [...new Array<number[]>(8).fill(C), ...new Array<number[]>(8).fill(D)].map(s),
    );
    // 3 colours, 4×3 = 12 index bytes → zlib on stream 1.
    const indices = [0, 1, 2, 0, 2, 2, 1, 1, 0, 0, 0, 2];
    decodeSync(
      decoder,
      rect(12, 0, 4, 3, TIGHT, [basic(1, true), 1, 2, ...A, ...B, ...C, ...compact(zlib.piece(indices))]),
      fb,
    );
    assert.deepEqual(
      region(fb, 12, 0, 4, 3),
      indices.map((i) => s([A, B, C][i] as number[])),
    );
  });

  it('reverses the gradient filter (left + above − above-left, clamped)', () => {
    const decoder = new TightDecoder(noImages);
    const zlib = new ZlibStreamEncoder();
    let seed = 3;
    const w = 7;
    const h = 5;
    // Extremes included so that the estimate is clamped at both ends.
    const rgb = Array.from({ length: w * h * 3 }, (_, i) =>
      i % 11 === 0 ? 255 : i % 13 === 0 ? 0 : (seed = (Math.imul(seed, 69069) + 1) >>> 0) >>> 24,
    );
    const fb = new Framebuffer(10, 10);
    fb.fillRect(0, 0, 10, 10, 0xffffffff); // the rectangle's neighbours must not be predicted from
    decodeSync(
      decoder,
      rect(2, 3, w, h, TIGHT, [basic(2, true), 2, ...compact(zlib.piece(gradientEncode(w, h, rgb)))]),
      fb,
    );
    const expected: string[] = [];
    for (let i = 0; i < w * h; i++) expected.push(rgb.slice(i * 3, i * 3 + 3).join(','));
    assert.deepEqual(region(fb, 2, 3, w, h), expected);
    // A 1×3 gradient (9 bytes) is sent raw.
    const tiny = [200, 100, 50, 10, 20, 30, 255, 255, 255];
    decodeSync(decoder, rect(0, 0, 1, 3, TIGHT, [basic(0, true), 2, ...gradientEncode(1, 3, tiny)]), fb);
    assert.deepEqual(region(fb, 0, 0, 1, 3), ['200,100,50', '10,20,30', '255,255,255']);
  });

  it('keeps four independent zlib streams and resets the ones the control bits name', () => {
    const decoder = new TightDecoder(noImages);
    const streams = [0, 1, 2, 3].map(() => new ZlibStreamEncoder());
    const fb = new Framebuffer(4, 4);
    const tile = (c: number[]): number[] => [...c, ...c, ...c, ...c];
    const send = (id: number, row: number, c: number[], reset = 0): void => {
      const piece = (streams[id] as ZlibStreamEncoder).piece(tile(c));
      decodeSync(decoder, rect(0, row, 4, 1, TIGHT, [basic(id, false, reset), ...compact(piece)]), fb);
    };
    // Interleaved: every stream refers back to its own earlier output only.
    send(0, 0, A);
    send(1, 1, B);
    send(2, 2, C);
    send(3, 3, D);
    send(2, 0, C);
    send(0, 1, A);
    send(3, 2, D);
    send(1, 3, B);
    assert.deepEqual(region(fb, 0, 0, 1, 4), [C, A, D, B].map(s));
    // The server resets stream 2: its next piece is a new zlib stream, header and all.
    streams[2]?.reset();
    send(2, 0, D, 0b0100);
    assert.deepEqual(region(fb, 0, 0, 4, 1), new Array<string>(4).fill(s(D)));
    // A reset bit on a fill rectangle resets too; stream 1 then starts again.
    streams[1]?.reset();
    decodeSync(decoder, rect(0, 3, 1, 1, TIGHT, [0x80 | 0b0010, ...A]), fb);
    send(1, 3, C);
    assert.deepEqual(region(fb, 0, 3, 4, 1), new Array<string>(4).fill(s(C)));
    // Without the reset bit, a new header in the middle of a stream is garbage.
    const fresh = new ZlibStreamEncoder().piece(tile(A));
    rejects(fb, rect(0, 0, 4, 1, TIGHT, [basic(0, false), ...compact(fresh)]), /zlib/, decoder);
  });

  it('inflates an update’s pieces of each stream together with the same result, resets included', () => {
    const streams = [0, 1].map(() => new ZlibStreamEncoder());
    const rows: Array<{ id: number; c: number[]; reset?: number }> = [
      { id: 0, c: A },
      { id: 1, c: B },
      { id: 0, c: C },
      { id: 0, c: D, reset: 0b01 }, // stream 0 starts again here
      { id: 1, c: A },
      { id: 0, c: B },
    ];
    const update: StreamRect[] = rows.map(({ id, c, reset = 0 }, row) => {
      if (reset & (1 << id)) streams[id]?.reset();
      const piece = (streams[id] as ZlibStreamEncoder).piece([...c, ...c, ...c, ...c]);
      return rect(0, row, 4, 1, TIGHT, [basic(id, false, reset), ...compact(piece)]);
    });
    // A fill between them and raw rectangles do not disturb the batches.
    update.splice(2, 0, rect(0, 6, 4, 1, TIGHT, [0x80, ...D]));
    const batched = new Framebuffer(4, 7);
    assert.equal(new DecoderRegistry({ decodeImage: noImages }).decodeUpdate(update, batched), undefined);
    const oneByOne = new Framebuffer(4, 7);
    const decoder = new TightDecoder(noImages);
    for (const r of update) decodeSync(decoder, r, oneByOne);
    assert.deepEqual(region(batched, 0, 0, 4, 7), region(oneByOne, 0, 0, 4, 7));
    assert.deepEqual(region(batched, 0, 0, 1, 7), [A, B, C, D, A, B, D].map(s));
    // A piece one byte short shows up as the batch inflating to less than its rectangles need.
    const zlib = new ZlibStreamEncoder();
    const short = [
      rect(0, 0, 4, 1, TIGHT, [basic(0, false), ...compact(zlib.piece(new Array<number>(12).fill(1)))]),
      rect(0, 1, 4, 1, TIGHT, [basic(0, false), ...compact(zlib.piece(new Array<number>(11).fill(1)))]),
    ];
    assert.throws(
      () => new DecoderRegistry({ decodeImage: noImages }).decodeUpdate(short, new Framebuffer(4, 2)),
      /inflated to 23 bytes instead of 24/,
    );
  });

  it('caps inflation at the rectangle size (no zlib bomb)', () => {
    const fb = new Framebuffer(2, 2);
    const bomb = new Uint8Array(deflateSync(new Uint8Array(4 * 1024 * 1024)));
    rejects(
      fb,
      rect(0, 0, 2, 2, TIGHT, [basic(0, false), ...compact(bomb.subarray(0, 4000))]),
      /more than 12 bytes|inflated to/,
    );
    const zlib = new ZlibStreamEncoder();
    rejects(
      fb,
      rect(0, 0, 2, 2, TIGHT, [basic(0, false), ...compact(zlib.piece(new Array<number>(13).fill(1)))]),
      /more than 12/,
    );
    rejects(
      fb,
      rect(0, 0, 2, 2, TIGHT, [
        basic(0, false),
        ...compact(new ZlibStreamEncoder().piece(new Array<number>(11).fill(1))),
      ]),
      /inflated to 11 bytes instead of 12/,
    );
  });

  it('rejects malformed rectangles', () => {
    const fb = new Framebuffer(4, 4);
    rejects(fb, rect(0, 0, 1, 1, TIGHT, []), /compression control is missing/);
    rejects(fb, rect(0, 0, 1, 1, TIGHT, [0x80, 1, 2]), /fill needs 4 bytes/);
    rejects(fb, rect(0, 0, 1, 1, TIGHT, [0x80, 1, 2, 3, 4]), /fill needs 4 bytes/);
    rejects(fb, rect(0, 0, 1, 1, TIGHT, [0xb0]), /compression control 11/);
    rejects(fb, rect(0, 0, 1, 1, TIGHT, [0xa0, 0]), /only TightPNG/);
    rejects(fb, rect(0, 0, 1, 1, TIGHT, [0x40]), /filter id is missing/);
    rejects(fb, rect(0, 0, 1, 1, TIGHT, [0x40, 3]), /filter 3/);
    rejects(fb, rect(0, 0, 1, 1, TIGHT, [0x40, 1]), /palette size/);
    rejects(fb, rect(0, 0, 1, 1, TIGHT, [0x40, 1, 1, ...A]), /palette is truncated/);
    rejects(fb, rect(0, 0, 2, 1, TIGHT, [0x40, 1, 2, ...A, ...B, ...C, 0, 3]), /palette index 3 with 3/);
    rejects(fb, rect(0, 0, 2, 1, TIGHT, [0x40, 1, 0, ...A, 0b01000000]), /palette index 1 with 1/);
    rejects(fb, rect(0, 0, 1, 1, TIGHT, [0x00, 1, 2]), /raw data needs 3 bytes/);
    rejects(fb, rect(0, 0, 2, 2, TIGHT, [0x00]), /zlib data length is truncated/);
    rejects(fb, rect(0, 0, 2, 2, TIGHT, [0x00, 0x80]), /zlib data length is truncated/);
    rejects(fb, rect(0, 0, 2, 2, TIGHT, [0x00, 5, 1, 2]), /says 5 zlib bytes/);
    rejects(fb, rect(3, 3, 2, 2, TIGHT, [0x80, ...A]), /outside/);
    rejects(fb, rect(0, 0, 2, 2, TIGHT, [0x90, 5, 1, 2]), /says 5 bytes/);
    rejects(fb, rect(0, 0, 2, 2, TIGHT, [0x90]), /length is truncated/);
  });

  it('decodes JPEG through the injected image decoder and writes it in place', async () => {
    const calls: Array<{ bytes: number[]; mime: string; w: number; h: number }> = [];
    const decoder = new TightDecoder((data, mime, w, h) => {
      calls.push({ bytes: [...data], mime, w, h });
      return Promise.resolve(solid(w, h, A));
    });
    const fb = new Framebuffer(4, 4);
    fb.takeDirty();
    const pending = decoder.decode(rect(1, 1, 3, 2, TIGHT, [0x9f, 3, 0xff, 0xd8, 0xff]), fb);
    assert.ok(pending instanceof Promise, 'JPEG finishes asynchronously');
    assert.deepEqual(region(fb, 1, 1, 1, 1), ['0,0,0'], 'not drawn before the image is decoded');
    await pending;
    assert.deepEqual(calls, [{ bytes: [0xff, 0xd8, 0xff], mime: 'image/jpeg', w: 3, h: 2 }]);
    assert.deepEqual(region(fb, 1, 1, 3, 2), new Array<string>(6).fill(s(A)));
    assert.deepEqual(fb.takeDirty(), { x: 1, y: 1, w: 3, h: 2 });
    // An empty JPEG rectangle draws nothing and decodes nothing.
    assert.equal(decoder.decode(rect(0, 0, 0, 0, TIGHT, [0x90, 0]), fb), undefined);
    assert.equal(calls.length, 1);
  });

  it('starts all of an update’s JPEG decodes at once but lands every rectangle in order', async () => {
    const started: Array<{ w: number; done: ReturnType<typeof deferred<Uint8ClampedArray>> }> = [];
    const registry = new DecoderRegistry({
      decodeImage: (_data, _mime, w) => {
        const done = deferred<Uint8ClampedArray>();
        started.push({ w, done });
        return done.promise;
      },
    });
    const fb = new Framebuffer(6, 1);
    const update: StreamRect[] = [
      rect(0, 0, 1, 1, TIGHT, [0x90, 1, 0xa1]), // JPEG → A
      rect(1, 0, 1, 1, Encoding.CopyRect, [0, 0, 0, 0]), // copies the JPEG's pixel: must see A
      rect(2, 0, 2, 1, TIGHT, [0x90, 1, 0xa2]), // JPEG → B
      rect(3, 0, 1, 1, TIGHT, [0x80, ...C]), // fill over the second JPEG's right half: C wins
      rect(4, 0, 2, 1, Encoding.Raw, [...D, 0, ...D, 0]),
    ];
    const pending = registry.decodeUpdate(update, fb);
    assert.ok(pending instanceof Promise);
    assert.deepEqual(
      started.map((x) => x.w),
      [1, 2],
      'both decodes started before either finished',
    );
    assert.deepEqual(
      region(fb, 0, 0, 6, 1),
      new Array<string>(6).fill('0,0,0'),
      'nothing after the first JPEG yet',
    );
    // The second image finishes first; it must still land after the first and the CopyRect.
    started[1]?.done.resolve(solid(2, 1, B));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(region(fb, 0, 0, 6, 1), new Array<string>(6).fill('0,0,0'));
    started[0]?.done.resolve(solid(1, 1, A));
    await pending;
    assert.deepEqual(region(fb, 0, 0, 6, 1), [A, A, B, C, D, D].map(s));
  });

  it('fails the update when an image does not decode or has the wrong size, without unhandled rejections', async () => {
    const fb = new Framebuffer(4, 1);
    const failing = new DecoderRegistry({
      decodeImage: (_data, mime) => Promise.reject(new DecodeError(`${mime} rectangle does not decode`)),
    });
    const update = [rect(0, 0, 1, 1, TIGHT, [0x90, 1, 0]), rect(1, 0, 1, 1, TIGHT, [0x90, 1, 0])];
    await assert.rejects(Promise.resolve(failing.decodeUpdate(update, fb)), /does not decode/);
    const wrongSize = new TightDecoder(() => Promise.resolve(solid(2, 2, A)));
    await assert.rejects(
      Promise.resolve(wrongSize.decode(rect(0, 0, 1, 1, TIGHT, [0x90, 1, 0]), fb)),
      /decoded to 16 bytes instead of 4/,
    );
    // A later rectangle's error surfaces in order, after the JPEG before it landed.
    const ok = new DecoderRegistry({ decodeImage: (_d, _m, w, h) => Promise.resolve(solid(w, h, B)) });
    await assert.rejects(
      Promise.resolve(
        ok.decodeUpdate([rect(0, 0, 1, 1, TIGHT, [0x90, 1, 0]), rect(0, 0, 1, 1, TIGHT, [0xb0])], fb),
      ),
      /compression control 11/,
    );
    assert.deepEqual(region(fb, 0, 0, 1, 1), [s(B)]);
    // The registry is usable for the next update (its hooks were reset).
    assert.equal(ok.decodeUpdate([rect(1, 0, 1, 1, TIGHT, [0x80, ...C])], fb), undefined);
    assert.deepEqual(region(fb, 1, 0, 1, 1), [s(C)]);
  });

  it('limits how many image pixels decode in parallel', async () => {
    let inFlight = 0;
    let most = 0;
    const registry = new DecoderRegistry({
      decodeImage: async (_data, _mime, w, h) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        return solid(w, h, A);
      },
    });
    // Twelve full 1024×1024 JPEGs: 12 Mpixel in one update, more than the 8 Mpixel budget.
    const fb = new Framebuffer(1024, 1024);
    const update = Array.from({ length: 12 }, () => rect(0, 0, 1024, 1024, TIGHT, [0x90, 1, 0]));
    await registry.decodeUpdate(update, fb);
    assert.equal(most, 8);
    assert.deepEqual(region(fb, 1023, 1023, 1, 1), [s(A)]);
  });
});
