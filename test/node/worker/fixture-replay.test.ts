import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { RfbMessageParser } from '../../../backend-adapter/gateway/rfb-message-parser.ts';
import { STREAM_PROTOCOL_VERSION } from '../../../protocol/stream.ts';
import type { ImageDecodeFn } from '../../../worker/decoders/image-decoder.ts';
import { StreamDecoder } from '../../../worker/stream-decoder.ts';
import { loadRecording } from '../../support/rfb-recordings.ts';

/** The lossless recordings: their final frame must hash to the sidecar's digest exactly. */
const LOSSLESS = [
  'terminal-zrle',
  'desktop-zrle',
  'terminal-hextile',
  'desktop-hextile',
  'terminal-raw',
  'desktop-raw',
];

/**
 * Tight recordings hold JPEG rectangles, and Node has no JPEG decoder here (jpeg-js is not installed,
 * and the sidecar's digest is jpeg-js's output anyway). Node replays them with a stand-in image
 * decoder — every zlib stream, reset bit, filter, fill and raw rectangle decoded for real, every JPEG
 * rectangle framed, counted and painted grey — and checks the structure. Their pixels are checked in
 * the browser, against noVNC decoding the same bytes: test/browser/worker/tight-fixture-replay.test.ts.
 */
const TIGHT = ['terminal-tight', 'desktop-tight'];

interface Replay {
  decoder: StreamDecoder;
  updates: number;
  rects: number;
  decodeMs: number;
}

async function replay(name: string, decodeImage?: ImageDecodeFn): Promise<Replay> {
  const recording = loadRecording(name);
  const { meta } = recording;
  const decoder = new StreamDecoder(decodeImage ? { decodeImage } : {});
  let parser: RfbMessageParser | null = null;
  // The handshake (ProtocolVersion … ServerInit) may end inside a chunk; collect it first.
  const handshake = new Uint8Array(meta.handshakeBytes);
  let handshakeSeen = 0;
  let updates = 0;
  let rects = 0;
  let decodeMs = 0;

  for (const chunk of recording.chunks) {
    let data = chunk.data;
    if (handshakeSeen < handshake.length) {
      const take = Math.min(handshake.length - handshakeSeen, data.length);
      handshake.set(data.subarray(0, take), handshakeSeen);
      handshakeSeen += take;
      data = data.subarray(take);
      if (handshakeSeen < handshake.length) continue;
      // ServerInit follows ProtocolVersion (12), security types (2) and SecurityResult (4).
      const view = new DataView(handshake.buffer);
      const width = view.getUint16(18);
      const height = view.getUint16(20);
      assert.deepEqual([width, height], [meta.width, meta.height]);
      parser = new RfbMessageParser({ width, height });
      decoder.apply({ t: 'init', version: STREAM_PROTOCOL_VERSION, width, height, name: meta.desktopName });
    }
    if (!parser || data.length === 0) continue;
    for (const message of parser.push(data)) {
      if (message.type !== 'framebufferUpdate') continue;
      const started = performance.now();
      const outcome = await decoder.applyMessage({ t: 'update', seq: updates, rects: message.rects });
      decodeMs += performance.now() - started;
      assert.equal(outcome.type, 'update');
      updates++;
      rects += message.rects.length;
    }
  }
  assert.equal(updates, meta.framebufferUpdates);
  assert.equal(rects, meta.pixelRects);
  const fb = decoder.framebuffer;
  assert.deepEqual([fb.width, fb.height], [meta.finalFrame.width, meta.finalFrame.height]);
  const seconds = meta.durationMs / 1000;
  console.log(
    `${name}: ${updates} updates, ${rects} rects, ${(meta.bytes / 1e6).toFixed(2)} MB decoded in ${decodeMs.toFixed(0)} ms (recording ${seconds.toFixed(1)} s)`,
  );
  return { decoder, updates, rects, decodeMs };
}

describe('fixture replay: recorded RFB streams decode to the recorded final frame', () => {
  for (const name of LOSSLESS) {
    it(name, async () => {
      const { decoder } = await replay(name);
      const sha = createHash('sha256').update(decoder.framebuffer.toRgb()).digest('hex');
      assert.equal(sha, loadRecording(name).meta.finalFrame.rgbSha256);
    });
  }
});

describe('fixture replay: Tight recordings decode completely (JPEG stood in for)', () => {
  for (const name of TIGHT) {
    it(name, async () => {
      const { meta } = loadRecording(name);
      let jpegs = 0;
      const grey: ImageDecodeFn = (data, mime, w, h) => {
        assert.equal(mime, 'image/jpeg');
        // Baseline JFIF as the sidecar says: SOI … EOI.
        assert.deepEqual([data[0], data[1], data.at(-2), data.at(-1)], [0xff, 0xd8, 0xff, 0xd9]);
        jpegs++;
        return Promise.resolve(new Uint8ClampedArray(w * h * 4).fill(128));
      };
      const { decoder } = await replay(name, grey);
      assert.equal(jpegs, meta.tightSubtypes?.['jpeg']);
      // Something real was decoded: the final frame is not just the stand-in grey and black.
      const rgb = decoder.framebuffer.toRgb();
      let other = 0;
      for (const v of rgb) if (v !== 128 && v !== 0) other++;
      assert.ok(other > rgb.length / 10, `${other} of ${rgb.length} bytes from lossless rectangles`);
    });
  }
});
