import { expect } from '@open-wc/testing';
import RFB, { type NovncChannel } from '@novnc/novnc';
import { RfbMessageParser } from '../../../backend-adapter/gateway/rfb-message-parser.ts';
import { STREAM_PROTOCOL_VERSION } from '../../../protocol/stream.ts';
import { StreamDecoder } from '../../../worker/stream-decoder.ts';
import { RfbClientCounter } from '../../support/rfb-client-counter.ts';

/**
 * The Tight recordings hold JPEG rectangles, so their final frame depends on the JPEG decoder (the
 * sidecar's digest is jpeg-js's) and Node has none here. This replays them in Chromium instead: our
 * StreamDecoder with the worker's real image decoder (createImageBitmap), and noVNC 1.7 — an
 * independent Tight decoder (its own zlib, filters and JPEG path through <img>) — fed the same bytes
 * in the same page. The final frames must agree within 8 per channel (the tolerance where
 * JPEG is involved); the lossless recordings are checked exactly against their digests in Node.
 *
 * The fixtures live outside the repository (../shared/fixtures/rfb, the default of
 * test/support/rfb-recordings.ts); the dev server serves paths outside its root under this prefix.
 */
const FIXTURES = '/__wds-outside-root__/1/shared/fixtures/rfb/';

interface Meta {
  width: number;
  height: number;
  handshakeBytes: number;
  desktopName: string;
  framebufferUpdates: number;
  pixelRects: number;
  tightSubtypes?: Record<string, number>;
  finalFrame: { rgbSha256: string };
}

function chunksOf(file: Uint8Array): Uint8Array[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const chunks: Uint8Array[] = [];
  for (let pos = 0; pos < file.length;) {
    const n = view.getUint32(pos + 4);
    chunks.push(file.subarray(pos + 8, pos + 8 + n));
    pos += 8 + n;
  }
  return chunks;
}

async function load(name: string): Promise<{ meta: Meta; stream: Uint8Array } | null> {
  const [json, rfb] = await Promise.all([fetch(`${FIXTURES}${name}.json`), fetch(`${FIXTURES}${name}.rfb`)]);
  if (!json.ok || !rfb.ok) return null;
  const meta = (await json.json()) as Meta;
  const chunks = chunksOf(new Uint8Array(await rfb.arrayBuffer()));
  const stream = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    stream.set(c, at);
    at += c.length;
  }
  return { meta, stream };
}

async function decodeOurs(
  meta: Meta,
  stream: Uint8Array,
): Promise<{ rgba: Uint8ClampedArray; updates: number }> {
  const decoder = new StreamDecoder();
  decoder.apply({
    t: 'init',
    version: STREAM_PROTOCOL_VERSION,
    width: meta.width,
    height: meta.height,
    name: meta.desktopName,
  });
  const parser = new RfbMessageParser({ width: meta.width, height: meta.height });
  let updates = 0;
  for (const message of parser.push(stream.subarray(meta.handshakeBytes))) {
    if (message.type !== 'framebufferUpdate') continue;
    await decoder.applyMessage({ t: 'update', seq: ++updates, rects: message.rects });
  }
  return { rgba: decoder.framebuffer.data, updates };
}

/** A stand-in for noVNC's WebSocket: we push the server's bytes, it tells us what noVNC sent. */
class ReplayChannel implements NovncChannel {
  binaryType = 'arraybuffer';
  protocol = '';
  readyState: number | string = 'open';
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: { data: ArrayBuffer }) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  readonly client = new RfbClientCounter();

  send(data: Uint8Array): void {
    this.client.push(data);
  }

  close(): void {
    this.readyState = 'closed';
    this.onclose?.(new CloseEvent('close', { code: 1000, wasClean: true }));
  }
}

async function decodeNovnc(meta: Meta, stream: Uint8Array): Promise<Uint8ClampedArray> {
  const target = document.createElement('div');
  document.body.append(target);
  const channel = new ReplayChannel();
  const rfb = new RFB(target, channel, { shared: true });
  rfb.viewOnly = true;
  try {
    // The handshake one server step per message, as a server sends them (noVNC takes one step per
    // arrival): ProtocolVersion, security types, SecurityResult, ServerInit; then the updates.
    const types = stream[12] ?? 0;
    const cuts = [0, 12, 13 + types, 17 + types, meta.handshakeBytes];
    for (let i = 0; i + 1 < cuts.length; i++) {
      channel.onmessage?.({ data: stream.slice(cuts[i], cuts[i + 1]).buffer });
    }
    for (let at = meta.handshakeBytes; at < stream.length; at += 65536) {
      channel.onmessage?.({ data: stream.slice(at, Math.min(at + 65536, stream.length)).buffer });
    }
    // noVNC asks for the next update once it has processed one (the first request precedes them all).
    const deadline = performance.now() + 60_000;
    while (channel.client.requests < meta.framebufferUpdates + 1 || rfb._display.pending()) {
      if (performance.now() > deadline)
        throw new Error(`noVNC stalled at ${channel.client.requests} requests`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await rfb._display.flush();
    const ctx = rfb._canvas.getContext('2d');
    if (!ctx) throw new Error('noVNC canvas has no 2d context');
    return ctx.getImageData(0, 0, meta.width, meta.height).data;
  } finally {
    rfb.disconnect();
    target.remove();
  }
}

async function sha256Rgb(rgba: Uint8ClampedArray): Promise<string> {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) rgb.set(rgba.subarray(i, i + 3), o);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', rgb));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

describe('Tight fixture replay in Chromium: ours vs noVNC on the same bytes', () => {
  for (const name of ['terminal-tight', 'desktop-tight']) {
    it(name, async function () {
      this.timeout(120_000);
      const recording = await load(name);
      if (!recording) {
        this.skip();
        return;
      }
      const { meta, stream } = recording;
      const ours = await decodeOurs(meta, stream);
      expect(ours.updates).to.equal(meta.framebufferUpdates);
      const theirs = await decodeNovnc(meta, stream);
      expect(theirs.length).to.equal(ours.rgba.length);
      let maxDiff = 0;
      let differing = 0;
      for (let i = 0; i < theirs.length; i += 4) {
        const d = Math.max(
          Math.abs((ours.rgba[i] as number) - (theirs[i] as number)),
          Math.abs((ours.rgba[i + 1] as number) - (theirs[i + 1] as number)),
          Math.abs((ours.rgba[i + 2] as number) - (theirs[i + 2] as number)),
        );
        if (d > 0) differing++;
        if (d > maxDiff) maxDiff = d;
      }
      const digest = await sha256Rgb(ours.rgba);
      console.log(
        `${name}: ${differing} of ${theirs.length / 4} pixels differ from noVNC, max ${maxDiff} per channel; ` +
          `digest ${digest === meta.finalFrame.rgbSha256 ? 'equals' : 'differs from'} the sidecar's (jpeg-js)`,
      );
      expect(maxDiff, 'max difference per channel').to.be.at.most(8);
    });
  }
});
