import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pack, unpack } from 'msgpackr';
import { pino } from 'pino';
import type { WebSocket } from 'ws';
import {
  encodeSetDesktopSize,
  parseExtendedDesktopSize,
} from '../../../backend-adapter/gateway/rfb-client-messages.ts';
import { DEFAULT_ENCODINGS, encodingsWithQuality } from '../../../backend-adapter/gateway/rfb-connection.ts';
import { bridgeStream } from '../../../backend-adapter/gateway/stream-bridge.ts';
import { parseClientStreamMessage } from '../../../backend-adapter/gateway/stream-client-message.ts';
import {
  meanRttMs,
  StreamStats,
  streamQualityScore,
} from '../../../backend-adapter/observability/stream-stats.ts';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import {
  STREAM_PROTOCOL_VERSION,
  STREAM_SUBPROTOCOLS,
  StreamCloseCode,
  negotiateStreamVersion,
  streamSubprotocol,
  streamVersionOf,
  type ClientStreamMessage,
  type ServerStreamMessage,
} from '../../../protocol/stream.ts';
import { acceptNone38, startFakeRfbServer, type FakePeer } from './fake-rfb-server.ts';
import { concat, fbuHeader, rect, u16, u32 } from './rfb-stream-builder.ts';

const logger = pino({ level: 'silent' });

class FakeWebSocket extends EventEmitter {
  readonly OPEN = 1;
  readonly CLOSED = 3;
  readyState = 1;
  bufferedAmount = 0;
  closeCode: number | undefined;
  readonly sent: ServerStreamMessage[] = [];
  constructor(readonly protocol: string) {
    super();
  }
  send(data: Uint8Array, _options?: unknown, cb?: (err?: Error) => void): void {
    this.sent.push(unpack(data) as ServerStreamMessage);
    setImmediate(() => cb?.());
  }
  close(code: number): void {
    if (this.readyState === this.CLOSED) return;
    this.closeCode = code;
    this.readyState = this.CLOSED;
    setImmediate(() => this.emit('close', code, Buffer.alloc(0)));
  }
  terminate(): void {
    this.close(1006);
  }
  fromViewer(message: ClientStreamMessage | Record<string, unknown>): void {
    this.emit('message', pack(message), true);
  }
  asWs(): WebSocket {
    return this as unknown as WebSocket;
  }
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(5);
  }
}

/** One ExtendedDesktopSize rectangle announcing a single screen of w×h. */
function extendedDesktopSize(w: number, h: number, x = 0, y = 0): Uint8Array {
  const payload = concat(Uint8Array.of(1, 0, 0, 0), u32(7), u16(0), u16(0), u16(w), u16(h), u32(0));
  return rect(x, y, w, h, Encoding.ExtendedDesktopSize, payload);
}

type Upstream =
  | { type: 'request' }
  | { type: 'setEncodings'; encodings: number[] }
  | { type: 'setDesktopSize'; width: number; height: number; screenId: number; at: number };

/** A VNC server announcing one ExtendedDesktopSize screen, answering requests, recording what it got. */
async function startServer() {
  const got: Upstream[] = [];
  let firstAnswered = false;
  const server = await startFakeRfbServer(async (peer: FakePeer) => {
    await acceptNone38(peer, 640, 480, 'desk');
    await peer.read(20 + 4 + DEFAULT_ENCODINGS.length * 4);
    for (;;) {
      const [type] = await peer.read(1);
      if (type === 3) {
        await peer.read(9);
        got.push({ type: 'request' });
        if (!firstAnswered) {
          firstAnswered = true;
          peer.write(fbuHeader(1), extendedDesktopSize(640, 480));
        }
      } else if (type === 2) {
        const b = Buffer.from(await peer.read(3));
        const n = b.readUInt16BE(1);
        const list = Buffer.from(await peer.read(n * 4));
        got.push({
          type: 'setEncodings',
          encodings: Array.from({ length: n }, (_, i) => list.readInt32BE(i * 4)),
        });
      } else if (type === 251) {
        const b = Buffer.from(await peer.read(7));
        const screens = Buffer.from(await peer.read((b[5] ?? 0) * 16));
        got.push({
          type: 'setDesktopSize',
          width: b.readUInt16BE(1),
          height: b.readUInt16BE(3),
          screenId: screens.readUInt32BE(0),
          at: performance.now(),
        });
      } else if (type === 4 || type === 5) {
        await peer.read(type === 4 ? 7 : 5);
      } else throw new Error(`unexpected message ${type}`);
    }
  });
  return { server, got };
}

describe('stream protocol version negotiation', () => {
  it('picks the highest version both ends speak', () => {
    assert.equal(negotiateStreamVersion(STREAM_SUBPROTOCOLS), STREAM_PROTOCOL_VERSION);
    assert.equal(negotiateStreamVersion(['v-supercore-stream.v1', 'bearer.x']), 1);
    // A newer module offering a version this gateway does not know still gets the best common one.
    assert.equal(
      negotiateStreamVersion(['v-supercore-stream.v9', streamSubprotocol(2), streamSubprotocol(1)]),
      2,
    );
    assert.equal(negotiateStreamVersion(['v-supercore-stream.v9']), null);
    assert.equal(negotiateStreamVersion(['v-supercore-stream.v0', 'other']), null);
    assert.equal(streamVersionOf(''), 1);
    assert.equal(streamVersionOf('v-supercore-stream.v2'), 2);
  });

  it('refuses version 2 messages on a version 1 stream, accepts them on version 2', () => {
    const ping = { t: 'ping', id: 3 };
    assert.equal(parseClientStreamMessage(ping, 1), null);
    assert.deepEqual(parseClientStreamMessage(ping, 2), ping);
    assert.deepEqual(parseClientStreamMessage({ t: 'key', keysym: 65, down: true }, 1), {
      t: 'key',
      keysym: 65,
      down: true,
    });
    assert.deepEqual(parseClientStreamMessage({ t: 'quality', jpeg: 3, compression: 9 }), {
      t: 'quality',
      jpeg: 3,
      compression: 9,
    });
    for (const bad of [
      { t: 'quality', jpeg: 10, compression: 1 },
      { t: 'resize', width: 0, height: 10 },
      { t: 'resize', width: 100_000, height: 10 },
      { t: 'ping', id: -1 },
      { t: 'rtc', signal: { kind: 'answer', sdp: '' } },
      { t: 'rtc', signal: { kind: 'offer', sdp: 'x'.repeat(70_000) } },
    ])
      assert.equal(parseClientStreamMessage(bad), null, JSON.stringify(bad).slice(0, 80));
    assert.deepEqual(
      parseClientStreamMessage({ t: 'rtc', signal: { kind: 'candidate', candidate: 'c', sdpMid: null } }),
      {
        t: 'rtc',
        signal: { kind: 'candidate', candidate: 'c', sdpMid: null },
      },
    );
  });

  it('a version 1 viewer gets init version 1 and no probes; a v2 message from it is a protocol error', async () => {
    const { server } = await startServer();
    const ws = new FakeWebSocket('v-supercore-stream.v1');
    const done = bridgeStream(ws.asWs(), { host: '127.0.0.1', port: server.port }, { logger });
    await waitFor(() => ws.sent.some((m) => m.t === 'update'), 'first update');
    assert.deepEqual(ws.sent[0], { t: 'init', version: 1, width: 640, height: 480, name: 'desk' });
    ws.fromViewer({ t: 'ping', id: 1 });
    await done;
    assert.equal(ws.closeCode, StreamCloseCode.ProtocolError);
    assert.ok(!ws.sent.some((m) => m.t === 'pong' || m.t === 'ping'));
    await server.close();
  });
});

describe('stream protocol v2 in the bridge', () => {
  it('answers probes, probes the viewer, reports the RTT to the observer and the viewer', async () => {
    const { server } = await startServer();
    const ws = new FakeWebSocket(streamSubprotocol(2));
    const rtts: number[] = [];
    const done = bridgeStream(
      ws.asWs(),
      { host: '127.0.0.1', port: server.port },
      { logger, observer: { onRtt: (ms) => rtts.push(ms) } },
    );
    await waitFor(() => ws.sent.some((m) => m.t === 'update'), 'first update');
    assert.equal((ws.sent[0] as { version: number }).version, 2);
    ws.fromViewer({ t: 'ping', id: 42 });
    await waitFor(() => ws.sent.some((m) => m.t === 'pong'), 'pong');
    assert.deepEqual(
      ws.sent.find((m) => m.t === 'pong'),
      { t: 'pong', id: 42 },
    );
    await waitFor(() => ws.sent.some((m) => m.t === 'ping'), 'a probe from the gateway', 4000);
    const probe = ws.sent.find((m) => m.t === 'ping') as { id: number };
    await delay(15);
    ws.fromViewer({ t: 'pong', id: probe.id });
    await waitFor(() => ws.sent.some((m) => m.t === 'stats'), 'stats');
    assert.equal(rtts.length, 1);
    assert.ok((rtts[0] ?? 0) >= 14, `rtt ${rtts[0]}`);
    ws.fromViewer({ t: 'pong', id: 999 }); // unknown ids are ignored
    await delay(10);
    assert.equal(rtts.length, 1);
    ws.close(1000);
    ws.emit('close');
    await done;
    await server.close();
  });

  it('re-sends SetEncodings for a quality change', async () => {
    const { server, got } = await startServer();
    const ws = new FakeWebSocket(streamSubprotocol(2));
    const done = bridgeStream(ws.asWs(), { host: '127.0.0.1', port: server.port }, { logger });
    await waitFor(() => ws.sent.some((m) => m.t === 'update'), 'first update');
    ws.fromViewer({ t: 'quality', jpeg: 2, compression: 9 });
    await waitFor(() => got.some((m) => m.type === 'setEncodings'), 'SetEncodings');
    const sent = got.find((m) => m.type === 'setEncodings') as { encodings: number[] };
    assert.deepEqual(sent.encodings, encodingsWithQuality(2, 9));
    assert.ok(sent.encodings.includes(-32 + 2) && sent.encodings.includes(-256 + 9));
    assert.ok(!sent.encodings.includes(-32 + 8));
    ws.close(1000);
    ws.emit('close');
    await done;
    await server.close();
  });

  it('passes resizes to the desktop with its screen id, at most one per interval, the last one winning', async () => {
    const { server, got } = await startServer();
    const ws = new FakeWebSocket(streamSubprotocol(2));
    const done = bridgeStream(ws.asWs(), { host: '127.0.0.1', port: server.port }, { logger });
    await waitFor(() => ws.sent.some((m) => m.t === 'update'), 'first update (with the screen layout)');
    ws.fromViewer({ t: 'resize', width: 800, height: 600 });
    ws.fromViewer({ t: 'resize', width: 900, height: 700 });
    ws.fromViewer({ t: 'resize', width: 1024, height: 768 });
    await waitFor(
      () => got.filter((m) => m.type === 'setDesktopSize').length >= 2,
      'two SetDesktopSize',
      3000,
    );
    await delay(700);
    const sizes = got.filter((m) => m.type === 'setDesktopSize') as Array<
      Extract<Upstream, { type: 'setDesktopSize' }>
    >;
    assert.deepEqual(
      sizes.map((s) => [s.width, s.height, s.screenId]),
      [
        [800, 600, 7],
        [1024, 768, 7],
      ],
    );
    assert.ok((sizes[1]?.at ?? 0) - (sizes[0]?.at ?? 0) >= 450, 'rate-limited');
    ws.close(1000);
    ws.emit('close');
    await done;
    await server.close();
  });
});

describe('RFB SetDesktopSize and ExtendedDesktopSize', () => {
  it('encodes SetDesktopSize and parses a layout back', () => {
    const bytes = encodeSetDesktopSize(1024, 768, [
      { id: 5, x: 0, y: 0, width: 1024, height: 768, flags: 0 },
    ]);
    assert.equal(bytes[0], 251);
    assert.equal(bytes.length, 8 + 16);
    const layout = concat(Uint8Array.of(1, 0, 0, 0), u32(9), u16(0), u16(0), u16(300), u16(200), u32(0));
    assert.deepEqual(parseExtendedDesktopSize(layout), [
      { id: 9, x: 0, y: 0, width: 300, height: 200, flags: 0 },
    ]);
    assert.equal(parseExtendedDesktopSize(layout.subarray(0, 10)), null);
    assert.throws(() => encodeSetDesktopSize(70_000, 1, []), RangeError);
  });
});

describe('stream stats for the metrics', () => {
  it('averages the RTT per window and scores quality', () => {
    const stats = new StreamStats();
    const viewer = stats.observe('s1', () => {});
    const before = stats.totalsOf('s1');
    viewer.observer.onRtt?.(10);
    viewer.observer.onRtt?.(30);
    viewer.observer.onUpdateSent?.(100);
    assert.equal(meanRttMs(stats.totalsOf('s1'), before), 20);
    assert.equal(meanRttMs(stats.totalsOf('s1'), stats.totalsOf('s1')), null);
    assert.equal(streamQualityScore(10, 10, 10), 1);
    assert.equal(streamQualityScore(500, 10, 10), 0);
    assert.equal(streamQualityScore(260, 10, 5), 0.25);
    assert.equal(streamQualityScore(null, 0, 0), 1);
    viewer.release();
  });
});
