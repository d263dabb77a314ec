import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { RfbMessageParser } from '../../../backend-adapter/gateway/rfb-message-parser.ts';
import { STREAM_PROTOCOL_VERSION } from '../../../protocol/stream.ts';
import { StreamDecoder } from '../../../worker/stream-decoder.ts';
import { loadRecording } from '../../support/rfb-recordings.ts';

/** The lossless recordings (Tight's JPEG rectangles are not exact, and Tight is not decoded here). */
const RECORDINGS = [
  'terminal-zrle',
  'desktop-zrle',
  'terminal-hextile',
  'desktop-hextile',
  'terminal-raw',
  'desktop-raw',
];

describe('fixture replay: recorded RFB streams decode to the recorded final frame', () => {
  for (const name of RECORDINGS) {
    it(name, () => {
      const recording = loadRecording(name);
      const { meta } = recording;
      const decoder = new StreamDecoder();
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
          decoder.apply({
            t: 'init',
            version: STREAM_PROTOCOL_VERSION,
            width,
            height,
            name: meta.desktopName,
          });
        }
        if (!parser || data.length === 0) continue;
        for (const message of parser.push(data)) {
          if (message.type !== 'framebufferUpdate') continue;
          const started = performance.now();
          const outcome = decoder.apply({ t: 'update', seq: updates, rects: message.rects });
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
      const sha = createHash('sha256').update(fb.toRgb()).digest('hex');
      assert.equal(sha, meta.finalFrame.rgbSha256);
      const seconds = (meta as { durationMs?: number }).durationMs;
      console.log(
        `${name}: ${updates} updates, ${rects} rects, ${(meta.bytes / 1e6).toFixed(2)} MB decoded in ${decodeMs.toFixed(0)} ms` +
          (seconds ? ` (recording ${(seconds / 1000).toFixed(1)} s)` : ''),
      );
    });
  }
});
