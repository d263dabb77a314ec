import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  RfbMessageParser,
  type RfbServerMessage,
} from '../../../backend-adapter/gateway/rfb-message-parser.ts';
import { RfbProtocolError } from '../../../backend-adapter/gateway/rfb-protocol-error.ts';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import type { StreamRect } from '../../../protocol/stream.ts';
import {
  RECORDING_ENCODING_NAMES,
  listRecordings,
  loadRecording,
  type RfbRecording,
} from '../../support/rfb-recordings.ts';
import {
  concat,
  fbuHeader,
  randomChunks,
  rect,
  rectHeader,
  seededRandom,
  serverCutText,
  u16,
  u32,
} from './rfb-stream-builder.ts';

/** The recording's socket reads with the handshake (ProtocolVersion … ServerInit) cut off. */
function messageChunks(recording: RfbRecording): Uint8Array[] {
  let skip = recording.meta.handshakeBytes;
  const out: Uint8Array[] = [];
  for (const { data } of recording.chunks) {
    const cut = Math.min(skip, data.length);
    skip -= cut;
    if (cut < data.length) out.push(data.subarray(cut));
  }
  return out;
}

interface Tally {
  updates: number;
  otherMessages: number;
  rects: Record<string, number>;
  /** Per encoding: 12-byte headers plus payloads, as the sidecar's bytesByEncoding counts them. */
  bytes: Record<string, number>;
  digest: string;
}

function parseAll(recording: RfbRecording, chunks: Iterable<Uint8Array>): Tally {
  const parser = new RfbMessageParser({ width: recording.meta.width, height: recording.meta.height });
  const tally: Tally = { updates: 0, otherMessages: 0, rects: {}, bytes: {}, digest: '' };
  const hash = createHash('sha256');
  for (const chunk of chunks) {
    for (const message of parser.push(chunk)) {
      if (message.type !== 'framebufferUpdate') {
        tally.otherMessages++;
        continue;
      }
      tally.updates++;
      for (const r of message.rects) {
        const name = RECORDING_ENCODING_NAMES[r.encoding] ?? String(r.encoding);
        tally.rects[name] = (tally.rects[name] ?? 0) + 1;
        tally.bytes[name] = (tally.bytes[name] ?? 0) + 12 + r.data.length;
        hash.update(rectHeader(r.x, r.y, r.w, r.h, r.encoding)).update(r.data);
      }
    }
  }
  tally.digest = hash.digest('hex');
  return tally;
}

function withoutLastRect(counts: Record<string, number>): Record<string, number> {
  const { LastRect: _dropped, ...rest } = counts;
  return rest;
}

/** Offsets of every message and rectangle header (LastRect included) in a prefix of a recording's messages. */
function headerOffsets(recording: RfbRecording, bytes: Uint8Array): number[] {
  const lastRect = recording.meta.encodings.some((e) => e.code === Encoding.LastRect);
  const parser = new RfbMessageParser({ width: recording.meta.width, height: recording.meta.height });
  const offsets: number[] = [];
  let at = 0;
  for (const message of parser.push(bytes)) {
    assert.equal(message.type, 'framebufferUpdate');
    offsets.push(at);
    at += 4;
    for (const r of message.rects) {
      offsets.push(at);
      at += 12 + r.data.length;
    }
    if (lastRect) {
      offsets.push(at);
      at += 12;
    }
  }
  return offsets;
}

function expectProtocolError(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RfbProtocolError, `expected RfbProtocolError, got ${String(err)}`);
    assert.equal(err.code, 'UPSTREAM_PROTOCOL');
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

function onlyUpdate(messages: RfbServerMessage[]): StreamRect[] {
  assert.equal(messages.length, 1);
  const [message] = messages;
  assert.ok(message && message.type === 'framebufferUpdate');
  return message.rects;
}

describe('RfbMessageParser on the recorded streams', () => {
  const names = listRecordings();

  it('finds all 8 recordings', () => {
    assert.equal(names.length, 8);
  });

  for (const name of names) {
    it(`${name}: same updates, rectangles and bytes per encoding as the sidecar, whatever the chunking`, () => {
      const recording = loadRecording(name);
      const { meta } = recording;
      const chunks = messageChunks(recording);

      const started = performance.now();
      const real = parseAll(recording, chunks);
      const ms = performance.now() - started;

      assert.equal(real.updates, meta.framebufferUpdates);
      assert.equal(real.otherMessages, 0);
      assert.deepEqual(real.rects, withoutLastRect(meta.rectsByEncoding));
      assert.deepEqual(real.bytes, withoutLastRect(meta.bytesByEncoding));
      const lastRects = meta.rectsByEncoding['LastRect'] ?? 0;
      assert.equal(
        Object.values(real.rects).reduce((a, b) => a + b, 0),
        meta.rects - lastRects,
      );
      // Far faster than real time (the recordings last ~9 s, or 0.1 s for the byte-capped Raw ones).
      assert.ok(ms < Math.max(meta.durationMs, 1000), `${name} parsed in ${ms.toFixed(0)} ms`);
      console.log(`${name}: ${(meta.bytes / 1e6).toFixed(2)} MB framed in ${ms.toFixed(1)} ms`);

      // Tiny random pieces (every split point: mid-header, mid-rect, mid-tile) give identical output.
      const whole = concat(...chunks);
      const tiny = parseAll(recording, randomChunks(whole, seededRandom(name.length * 7919), 64));
      assert.deepEqual(tiny, real);
    });
  }
});

describe('RfbMessageParser messages and pseudo-encodings', () => {
  const parser = (width = 800, height = 600, maxMessageBytes?: number) =>
    new RfbMessageParser({ width, height, ...(maxMessageBytes ? { maxMessageBytes } : {}) });

  it('waits on a truncated message and completes it with the next bytes', () => {
    const pixels = new Uint8Array(2 * 2 * 4).fill(7);
    const bytes = concat(fbuHeader(1), rect(10, 20, 2, 2, Encoding.Raw, pixels));
    const p = parser();
    for (let split = 0; split < bytes.length; split++) {
      const q = parser();
      assert.deepEqual(q.push(bytes.subarray(0, split)), []);
      const rects = onlyUpdate(q.push(bytes.subarray(split)));
      assert.deepEqual(rects, [{ x: 10, y: 20, w: 2, h: 2, encoding: Encoding.Raw, data: pixels }]);
    }
    assert.equal(onlyUpdate(p.push(bytes)).length, 1);
  });

  it('copies payloads: reusing the input buffer does not change emitted rectangles', () => {
    const input = concat(fbuHeader(1), rect(0, 0, 1, 1, Encoding.Raw, Uint8Array.of(1, 2, 3, 0)));
    const [r] = onlyUpdate(parser().push(input));
    input.fill(0xee);
    assert.deepEqual(r?.data, Uint8Array.of(1, 2, 3, 0));
  });

  it('parses an empty update, Bell, SetColourMapEntries and Latin-1 ServerCutText', () => {
    const bytes = concat(
      fbuHeader(0),
      Uint8Array.of(2),
      Uint8Array.of(1, 0),
      u16(5),
      u16(2),
      u16(0xffff),
      u16(0),
      u16(1),
      u16(2),
      u16(3),
      u16(4),
      serverCutText(Uint8Array.of(0x68, 0xe9, 0x80, 0x0a, 0xff)),
    );
    assert.deepEqual(parser().push(bytes), [
      { type: 'framebufferUpdate', rects: [] },
      { type: 'bell' },
      {
        type: 'setColourMapEntries',
        firstColour: 5,
        colours: [
          [0xffff, 0, 1],
          [2, 3, 4],
        ],
      },
      { type: 'serverCutText', text: 'h\u00e9\u0080\n\u00ff' },
    ]);
  });

  it('ends an update at LastRect and drops the LastRect rectangle', () => {
    const bytes = concat(
      fbuHeader(65535),
      rect(0, 0, 4, 4, Encoding.CopyRect, concat(u16(100), u16(100))),
      rectHeader(0, 0, 0, 0, Encoding.LastRect),
      Uint8Array.of(2),
    );
    const messages = parser().push(bytes);
    assert.equal(messages.length, 2);
    assert.deepEqual(messages[0], {
      type: 'framebufferUpdate',
      rects: [{ x: 0, y: 0, w: 4, h: 4, encoding: Encoding.CopyRect, data: Uint8Array.of(0, 100, 0, 100) }],
    });
    assert.deepEqual(messages[1], { type: 'bell' });
  });

  it('follows DesktopSize and ExtendedDesktopSize for the rectangles after them', () => {
    const p = parser(800, 600);
    const grown = concat(
      fbuHeader(2),
      rectHeader(0, 0, 1024, 768, Encoding.DesktopSize),
      rect(1000, 700, 24, 68, Encoding.ZRLE, concat(u32(3), Uint8Array.of(1, 2, 3))),
    );
    const rects = onlyUpdate(p.push(grown));
    assert.deepEqual(
      rects.map((r) => [r.encoding, r.data.length]),
      [
        [Encoding.DesktopSize, 0],
        [Encoding.ZRLE, 7],
      ],
    );
    assert.deepEqual([p.width, p.height], [1024, 768]);

    const screen = concat(u32(1), u16(0), u16(0), u16(640), u16(480), u32(0));
    const shrunk = concat(
      fbuHeader(1),
      rect(0, 0, 640, 480, Encoding.ExtendedDesktopSize, concat(Uint8Array.of(1, 0, 0, 0), screen)),
    );
    assert.equal(onlyUpdate(p.push(shrunk))[0]?.data.length, 20);
    assert.deepEqual([p.width, p.height], [640, 480]);
    // A refused resize of our own (x = 1, y = error) leaves the size alone.
    const refused = concat(
      fbuHeader(1),
      rect(1, 3, 2000, 2000, Encoding.ExtendedDesktopSize, Uint8Array.of(0, 0, 0, 0)),
    );
    onlyUpdate(p.push(refused));
    assert.deepEqual([p.width, p.height], [640, 480]);
    expectProtocolError(
      () => p.push(concat(fbuHeader(1), rect(630, 0, 20, 1, Encoding.Raw, new Uint8Array(80)))),
      /outside/,
    );
  });

  it('frames Cursor, DesktopName and RRE', () => {
    const cursor = new Uint8Array(3 * 2 * 4 + 1 * 2);
    const name = new TextEncoder().encode('bürö');
    const rre = concat(u32(2), new Uint8Array(4), new Uint8Array(24));
    const rects = onlyUpdate(
      parser().push(
        concat(
          fbuHeader(3),
          rect(1, 1, 3, 2, Encoding.Cursor, cursor),
          rect(0, 0, 0, 0, Encoding.DesktopName, concat(u32(name.length), name)),
          rect(0, 0, 10, 10, Encoding.RRE, rre),
        ),
      ),
    );
    assert.deepEqual(
      rects.map((r) => r.data.length),
      [26, 4 + name.length, 32],
    );
  });

  it('frames every kind of Tight rectangle', () => {
    const compact = (n: number): Uint8Array =>
      n < 0x80
        ? Uint8Array.of(n)
        : n < 0x4000
          ? Uint8Array.of(0x80 | (n & 0x7f), n >> 7)
          : Uint8Array.of(0x80 | (n & 0x7f), 0x80 | ((n >> 7) & 0x7f), n >> 14);
    const tight = [
      Uint8Array.of(0x80, 1, 2, 3), // fill
      concat(Uint8Array.of(0x90), compact(300), new Uint8Array(300)), // JPEG, 2-byte length
      concat(Uint8Array.of(0x91 /* resets stream 0 too */), compact(20000), new Uint8Array(20000)), // 3-byte length
      concat(Uint8Array.of(0x00), new Uint8Array(9)), // basic, implicit copy filter, 1x3 px = 9 raw bytes
      concat(Uint8Array.of(0x41, 0x00), compact(5), new Uint8Array(5)), // explicit copy filter, zlib
      concat(Uint8Array.of(0x42, 0x01, 1), new Uint8Array(6), new Uint8Array(3)), // 2 colours, 1x3 mono = 3 raw bytes
      concat(Uint8Array.of(0x43, 0x01, 2), new Uint8Array(9), new Uint8Array(3)), // 3 colours, 1 byte per pixel
      concat(Uint8Array.of(0x40, 0x02), compact(7), new Uint8Array(7)), // gradient
    ];
    const sizes: Array<[number, number]> = [
      [10, 10],
      [10, 10],
      [100, 100],
      [1, 3],
      [10, 10],
      [1, 3],
      [1, 3],
      [10, 10],
    ];
    const bytes = concat(
      fbuHeader(tight.length),
      ...tight.map((payload, i) => {
        const [w, h] = sizes[i] ?? [0, 0];
        return rect(0, 0, w, h, Encoding.Tight, payload);
      }),
    );
    const whole = onlyUpdate(parser().push(bytes));
    assert.deepEqual(
      whole.map((r) => r.data),
      tight,
    );
    // Byte by byte gives the same.
    const p = parser();
    const messages: RfbServerMessage[] = [];
    for (let i = 0; i < bytes.length; i++) messages.push(...p.push(bytes.subarray(i, i + 1)));
    assert.deepEqual(onlyUpdate(messages), whole);

    expectProtocolError(
      () => parser().push(concat(fbuHeader(1), rect(0, 0, 4, 4, Encoding.Tight, Uint8Array.of(0xa0)))),
      /Tight/,
    );
    expectProtocolError(
      () => parser().push(concat(fbuHeader(1), rect(0, 0, 4, 4, Encoding.Tight, Uint8Array.of(0x40, 3)))),
      /filter/,
    );
  });

  it('frames Hextile tiles of every kind, edge tiles included', () => {
    // 20x18: tiles 16x16, 4x16, 16x2, 4x2.
    const tiles = [
      concat(Uint8Array.of(0x01), new Uint8Array(16 * 16 * 4)), // raw
      concat(Uint8Array.of(0x02 | 0x04 | 0x08), new Uint8Array(8), Uint8Array.of(2), new Uint8Array(4)), // bg, fg, 2 subrects
      concat(Uint8Array.of(0x08 | 0x10), Uint8Array.of(1), new Uint8Array(6)), // 1 coloured subrect
      Uint8Array.of(0x00), // same background as before
    ];
    const payload = concat(...tiles);
    const bytes = concat(fbuHeader(1), rect(0, 0, 20, 18, Encoding.Hextile, payload));
    assert.deepEqual(onlyUpdate(parser().push(bytes))[0]?.data, payload);
    const p = parser();
    const messages: RfbServerMessage[] = [];
    for (let i = 0; i < bytes.length; i++) messages.push(...p.push(bytes.subarray(i, i + 1)));
    assert.deepEqual(onlyUpdate(messages)[0]?.data, payload);
    expectProtocolError(
      () => parser().push(concat(fbuHeader(1), rect(0, 0, 16, 16, Encoding.Hextile, Uint8Array.of(0x20)))),
      /Hextile/,
    );
  });

  it('scans a huge Hextile rectangle arriving byte by byte only once', { timeout: 20_000 }, () => {
    // 16384x16384 of 1-byte tiles = 1 Mi tiles; rescanning from the rectangle's start on every push would
    // take ~10^11 steps.
    const side = 16384;
    const tiles = (side / 16) ** 2;
    const payload = new Uint8Array(tiles); // subencoding 0 everywhere
    const bytes = concat(fbuHeader(1), rect(0, 0, side, side, Encoding.Hextile, payload));
    const p = parser(side, side);
    let done: RfbServerMessage[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const out = p.push(bytes.subarray(i, i + 1));
      if (out.length > 0) done = out;
    }
    assert.equal(onlyUpdate(done)[0]?.data.length, tiles);
  });
});

describe('RfbMessageParser on hostile input', () => {
  const parser = () => new RfbMessageParser({ width: 800, height: 600, maxMessageBytes: 1 << 20 });

  it('rejects an unknown message type, and keeps failing afterwards', () => {
    const p = parser();
    expectProtocolError(() => p.push(Uint8Array.of(0x7f)), /message type 127/);
    expectProtocolError(() => p.push(Uint8Array.of(2)));
  });

  it('rejects rectangles outside the framebuffer', () => {
    expectProtocolError(
      () => parser().push(concat(fbuHeader(1), rectHeader(790, 0, 20, 1, Encoding.Raw))),
      /outside/,
    );
    expectProtocolError(
      () => parser().push(concat(fbuHeader(1), rectHeader(0, 599, 1, 2, Encoding.ZRLE))),
      /outside/,
    );
    expectProtocolError(
      () =>
        parser().push(concat(fbuHeader(1), rect(0, 0, 10, 10, Encoding.CopyRect, concat(u16(795), u16(0))))),
      /CopyRect source/,
    );
  });

  it('rejects unknown encodings', () => {
    expectProtocolError(
      () => parser().push(concat(fbuHeader(1), rectHeader(0, 0, 1, 1, 12345))),
      /encoding 12345/,
    );
  });

  it('frames TightPNG rectangles: fill, JPEG and PNG, in one piece or byte by byte', () => {
    const png = concat(Uint8Array.of(0x89, 0x50, 0x4e, 0x47), new Uint8Array(296)); // 300 bytes: 2-byte length
    const rects = [
      Uint8Array.of(0x80, 9, 8, 7), // fill
      concat(Uint8Array.of(0x90, 5), new Uint8Array(5)), // JPEG
      concat(Uint8Array.of(0xa0, 0xac, 0x02), png), // PNG, compact length 300
      concat(Uint8Array.of(0xaf /* reset bits: meaningless here, accepted */, 3), new Uint8Array(3)),
      concat(Uint8Array.of(0xa0, 0x80, 0x80, 0x01), new Uint8Array(16384)), // 3-byte length
    ];
    const bytes = concat(
      fbuHeader(rects.length),
      ...rects.map((payload, i) => rect(i * 10, 0, 10, 10, Encoding.TightPNG, payload)),
    );
    const whole = onlyUpdate(parser().push(bytes));
    assert.deepEqual(
      whole.map((r) => [r.encoding, r.x, r.data]),
      rects.map((data, i) => [Encoding.TightPNG, i * 10, data]),
    );
    const p = parser();
    const messages: RfbServerMessage[] = [];
    for (let i = 0; i < bytes.length; i++) messages.push(...p.push(bytes.subarray(i, i + 1)));
    assert.deepEqual(onlyUpdate(messages), whole);
  });

  it('refuses TightPNG rectangles that are not fill, JPEG or PNG, or lie outside the framebuffer', () => {
    const one = (payload: Uint8Array, w = 4, h = 4, x = 0): Uint8Array =>
      concat(fbuHeader(1), rect(x, 0, w, h, Encoding.TightPNG, payload));
    // Basic compression (a zlib stream TightPNG does not have), with and without an explicit filter.
    expectProtocolError(() => parser().push(one(concat(Uint8Array.of(0x00), new Uint8Array(48)))), /basic/);
    expectProtocolError(() => parser().push(one(Uint8Array.of(0x41, 0x00, 5))), /basic/);
    // Control values above PNG.
    for (const ctl of [0xb0, 0xc0, 0xf0])
      expectProtocolError(() => parser().push(one(Uint8Array.of(ctl, 1, 0))), /TightPNG compression control/);
    expectProtocolError(() => parser().push(one(Uint8Array.of(0x80, 0, 0, 0), 20, 1, 790)), /outside/);
    // PNG in a plain Tight rectangle is still refused.
    expectProtocolError(
      () => parser().push(concat(fbuHeader(1), rect(0, 0, 4, 4, Encoding.Tight, Uint8Array.of(0xa0, 0)))),
      /Tight compression control 10/,
    );
  });

  it('refuses a TightPNG PNG length over the update budget before its data arrives', () => {
    const small = new RfbMessageParser({ width: 800, height: 600, maxMessageBytes: 1024 * 1024 });
    // Compact length 0x3fffff (4 MiB − 1), the largest a compact length can say.
    expectProtocolError(
      () =>
        small.push(
          concat(
            fbuHeader(1),
            rectHeader(0, 0, 8, 8, Encoding.TightPNG),
            Uint8Array.of(0xa0, 0xff, 0xff, 0xff),
          ),
        ),
      /exceeds/,
    );
    // Truncated: the header promises more than comes, and nothing is emitted or retained beyond the budget.
    const p = parser();
    assert.deepEqual(
      p.push(
        concat(
          fbuHeader(1),
          rectHeader(0, 0, 8, 8, Encoding.TightPNG),
          Uint8Array.of(0xa0, 0x90, 0x4e),
          new Uint8Array(100),
        ),
      ),
      [],
    );
  });

  it('rejects absurd lengths as soon as they are read, before their data', () => {
    const huge = [
      concat(fbuHeader(1), rectHeader(0, 0, 8, 8, Encoding.ZRLE), u32(0xfffffff0)),
      concat(fbuHeader(1), rectHeader(0, 0, 8, 8, Encoding.Zlib), u32(0x7fffffff)),
      concat(fbuHeader(1), rectHeader(0, 0, 8, 8, Encoding.RRE), u32(0xffffffff)),
      concat(fbuHeader(1), rectHeader(0, 0, 800, 600, Encoding.Raw)), // 1.9 MB > 1 MiB limit
      concat(fbuHeader(1), rectHeader(0, 0, 65535, 65535, Encoding.Cursor)),
      concat(fbuHeader(1), rectHeader(0, 0, 0, 0, Encoding.DesktopName), u32(1 << 30)),
      concat(fbuHeader(1), rectHeader(0, 0, 100, 100, Encoding.Tight), Uint8Array.of(0x90, 0xff, 0xff, 0xff)),
    ];
    for (const bytes of huge) expectProtocolError(() => parser().push(bytes), /exceeds|bytes/);
  });

  it('rejects an update whose rectangles together exceed maxMessageBytes', () => {
    const p = parser();
    const block = rect(0, 0, 8, 8, Encoding.ZRLE, concat(u32(200_000), new Uint8Array(200_000)));
    p.push(fbuHeader(10));
    for (let i = 0; i < 5; i++) p.push(block);
    expectProtocolError(() => p.push(block), /exceeds/);
  });

  it('rejects huge ServerCutText without allocating it', () => {
    const p = new RfbMessageParser({ width: 800, height: 600 });
    const before = process.memoryUsage().arrayBuffers;
    expectProtocolError(() => p.push(Uint8Array.of(3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff)), /ServerCutText/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20);
  });

  it(
    'throws only RfbProtocolError on 2,000 mutated recordings, and always returns',
    { timeout: 120_000 },
    () => {
      const random = seededRandom(20261126);
      const sources = listRecordings().map((name) => {
        const recording = loadRecording(name);
        // The first 256 KiB of messages is enough material and keeps the run short.
        const bytes = concat(...messageChunks(recording)).subarray(0, 256 * 1024);
        return { meta: recording.meta, bytes, headers: headerOffsets(recording, bytes) };
      });
      const outcomes = { protocolErrors: 0, clean: 0 };
      const started = performance.now();
      for (let run = 0; run < 2000; run++) {
        const source = sources[Math.floor(random() * sources.length)];
        assert.ok(source);
        const length = 1 + Math.floor(random() * source.bytes.length);
        const bytes = source.bytes.slice(0, length);
        const mutations = 1 + Math.floor(random() * 8);
        for (let m = 0; m < mutations; m++) {
          // Half the mutations hit message and rectangle headers, where the framing decisions are made.
          const header = source.headers[Math.floor(random() * source.headers.length)];
          const at =
            random() < 0.5 && header !== undefined && header < bytes.length
              ? Math.min(bytes.length - 1, header + Math.floor(random() * 16))
              : Math.floor(random() * bytes.length);
          const kind = random();
          if (kind < 0.5) bytes[at] = Math.floor(random() * 256);
          else if (kind < 0.75) bytes[at] = (bytes[at] ?? 0) ^ (1 << Math.floor(random() * 8));
          else bytes.fill(kind < 0.875 ? 0xff : 0, at, at + 1 + Math.floor(random() * 8));
        }
        const p = new RfbMessageParser({
          width: source.meta.width,
          height: source.meta.height,
          maxMessageBytes: random() < 0.5 ? 1 << 20 : 64 << 20,
        });
        try {
          for (const chunk of randomChunks(bytes, random, random() < 0.5 ? 64 : 65536)) p.push(chunk);
          outcomes.clean++;
        } catch (err) {
          if (!(err instanceof RfbProtocolError)) throw err;
          outcomes.protocolErrors++;
        }
      }
      console.log(
        `fuzz: ${outcomes.protocolErrors} rejected, ${outcomes.clean} accepted in ${(performance.now() - started).toFixed(0)} ms`,
      );
      assert.ok(outcomes.protocolErrors > 100, 'the mutations should break many streams');
    },
  );
});
