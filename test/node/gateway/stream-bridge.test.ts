import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pack, unpack } from 'msgpackr';
import { pino } from 'pino';
import type { WebSocket } from 'ws';
import { bridgeStream, STREAM_BUFFERED_HIGH_WATER } from '../../../backend-adapter/gateway/stream-bridge.ts';
import { DEFAULT_ENCODINGS } from '../../../backend-adapter/gateway/rfb-connection.ts';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import {
  StreamCloseCode,
  type ClientStreamMessage,
  type ServerStreamMessage,
} from '../../../protocol/stream.ts';
import { acceptNone38, startFakeRfbServer, type FakePeer } from './fake-rfb-server.ts';
import { fbuHeader, rect, serverCutText } from './rfb-stream-builder.ts';
import { freePort } from './xvnc.ts';

const logger = pino({ level: 'silent' });

/** Just enough of a ws WebSocket for the bridge, with a settable bufferedAmount and held send callbacks. */
class FakeWebSocket extends EventEmitter {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 1;
  bufferedAmount = 0;
  holdCallbacks = false;
  closeCode: number | undefined;
  readonly sent: ServerStreamMessage[] = [];
  private held: Array<() => void> = [];

  send(data: Uint8Array, _options: unknown, cb?: (err?: Error) => void): void {
    this.sent.push(unpack(data) as ServerStreamMessage);
    const done = () => cb?.();
    if (this.holdCallbacks) this.held.push(done);
    else setImmediate(done);
  }

  close(code: number): void {
    if (this.readyState >= this.CLOSING) return;
    this.closeCode = code;
    this.readyState = this.CLOSED;
    setImmediate(() => this.emit('close', code, Buffer.alloc(0)));
  }

  /** The viewer side hangs up. */
  peerClose(): void {
    this.readyState = this.CLOSED;
    this.emit('close', 1001, Buffer.alloc(0));
  }

  releaseCallbacks(): void {
    const held = this.held;
    this.held = [];
    for (const done of held) done();
  }

  fromViewer(message: ClientStreamMessage): void {
    this.emit('message', pack(message), true);
  }

  asWs(): WebSocket {
    return this as unknown as WebSocket;
  }
}

type ClientMessage =
  | { type: 'request'; incremental: boolean; w: number; h: number }
  | { type: 'key'; down: boolean; keysym: number }
  | { type: 'pointer'; buttons: number; x: number; y: number }
  | { type: 'cutText'; bytes: number[] };

/** Reads one client-to-server message after the handshake, SetPixelFormat and SetEncodings. */
async function readClientMessage(peer: FakePeer): Promise<ClientMessage> {
  const [type] = await peer.read(1);
  if (type === 3) {
    const b = Buffer.from(await peer.read(9));
    return { type: 'request', incremental: b[0] === 1, w: b.readUInt16BE(5), h: b.readUInt16BE(7) };
  }
  if (type === 4) {
    const b = Buffer.from(await peer.read(7));
    return { type: 'key', down: b[0] === 1, keysym: b.readUInt32BE(3) };
  }
  if (type === 5) {
    const b = Buffer.from(await peer.read(5));
    return { type: 'pointer', buttons: b[0] ?? -1, x: b.readUInt16BE(1), y: b.readUInt16BE(3) };
  }
  if (type === 6) {
    const b = Buffer.from(await peer.read(7));
    return { type: 'cutText', bytes: [...(await peer.read(b.readUInt32BE(3)))] };
  }
  throw new Error(`unexpected client message ${type}`);
}

/** A VNC server that answers every update request with a 1x1 Raw update and records what it got. */
async function startAnsweringServer(extra?: (peer: FakePeer) => void) {
  const received: ClientMessage[] = [];
  const server = await startFakeRfbServer(async (peer) => {
    await acceptNone38(peer, 640, 480, 'fake desk');
    await peer.read(20 + 4 + DEFAULT_ENCODINGS.length * 4);
    extra?.(peer);
    for (;;) {
      const message = await readClientMessage(peer);
      received.push(message);
      if (message.type === 'request')
        peer.write(fbuHeader(1), rect(0, 0, 1, 1, Encoding.Raw, new Uint8Array(4)));
    }
  });
  return { server, received, requests: () => received.filter((m) => m.type === 'request') };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(5);
  }
}

describe('bridgeStream with a scripted VNC server', () => {
  it('stops requesting and reading while the WebSocket send queue is long, even if acked', async () => {
    const { server, requests } = await startAnsweringServer();
    const ws = new FakeWebSocket();
    ws.holdCallbacks = true;
    const bridge = bridgeStream(ws.asWs(), { host: '127.0.0.1', port: server.port }, { logger });
    await waitFor(() => ws.sent.some((m) => m.t === 'update'), 'update 1');
    assert.deepEqual(ws.sent[0], { t: 'init', version: 1, width: 640, height: 480, name: 'fake desk' });
    assert.deepEqual(requests()[0], { type: 'request', incremental: false, w: 640, h: 480 });
    ws.bufferedAmount = STREAM_BUFFERED_HIGH_WATER + 1; // the viewer's network stalls
    await waitFor(() => ws.sent.filter((m) => m.t === 'update').length >= 2, 'update 2');
    ws.fromViewer({ t: 'ack', seq: 2 }); // a viewer that acks without reading
    await delay(150);
    assert.equal(requests().length, 2, 'no request while the queue is long');

    ws.bufferedAmount = 0;
    ws.releaseCallbacks(); // the queue drained
    await waitFor(() => requests().length >= 3, 'a request after the drain');
    assert.deepEqual(requests()[2], { type: 'request', incremental: true, w: 640, h: 480 });
    ws.peerClose();
    await bridge;
    await server.close();
  });

  it('stops reading from a server that floods unrequested messages while the viewer lags', async () => {
    const server = await startFakeRfbServer(async (peer) => {
      await acceptNone38(peer);
      await peer.read(20 + 28 + 10);
      for (let i = 0; i < 40 && !peer.socket.destroyed; i++) {
        peer.write(new Uint8Array(1000).fill(2)); // 1,000 Bells
        await delay(5);
      }
    });
    const ws = new FakeWebSocket();
    ws.holdCallbacks = true;
    ws.bufferedAmount = STREAM_BUFFERED_HIGH_WATER + 1;
    const bridge = bridgeStream(ws.asWs(), { host: '127.0.0.1', port: server.port }, { logger });
    await waitFor(() => ws.sent.length >= 1, 'init');
    await delay(300);
    assert.equal(ws.sent.filter((m) => m.t === 'bell').length, 0, 'nothing read while the queue is long');
    ws.bufferedAmount = 0;
    ws.holdCallbacks = false;
    ws.releaseCallbacks();
    await waitFor(() => ws.sent.filter((m) => m.t === 'bell').length >= 1000, 'the bells, after the drain');
    ws.peerClose();
    await bridge;
    await server.close();
  });

  it('keeps at most STREAM_ACK_WINDOW updates unacknowledged', async () => {
    const { server, requests } = await startAnsweringServer();
    const ws = new FakeWebSocket();
    const bridge = bridgeStream(ws.asWs(), { host: '127.0.0.1', port: server.port }, { logger });
    await waitFor(() => ws.sent.filter((m) => m.t === 'update').length >= 2, 'two updates');
    await delay(150);
    assert.equal(ws.sent.filter((m) => m.t === 'update').length, 2);
    assert.equal(requests().length, 2);
    ws.fromViewer({ t: 'ack', seq: 1 });
    await waitFor(() => ws.sent.filter((m) => m.t === 'update').length >= 3, 'update 3');
    await delay(100);
    assert.equal(ws.sent.filter((m) => m.t === 'update').length, 3);
    ws.fromViewer({ t: 'ack', seq: 1 }); // stale acks are harmless
    ws.peerClose();
    await bridge;
    await server.close();
  });

  it('translates input, clamps the pointer, forwards Bell and ServerCutText', async () => {
    const { server, received } = await startAnsweringServer((peer) => {
      peer.write(Uint8Array.of(2), serverCutText(Uint8Array.of(0x63, 0x61, 0x66, 0xe9)));
    });
    const ws = new FakeWebSocket();
    const bridge = bridgeStream(ws.asWs(), { host: '127.0.0.1', port: server.port }, { logger });
    await waitFor(() => ws.sent.some((m) => m.t === 'clipboard'), 'the clipboard');
    assert.ok(ws.sent.some((m) => m.t === 'bell'));
    assert.deepEqual(
      ws.sent.find((m) => m.t === 'clipboard'),
      { t: 'clipboard', text: 'café' },
    );
    ws.fromViewer({ t: 'pointer', x: -50, y: 1e9, buttons: 1 });
    ws.fromViewer({ t: 'pointer', x: 10.6, y: 20.2, buttons: 0 });
    ws.fromViewer({ t: 'key', keysym: 0xffe1, down: true });
    ws.fromViewer({ t: 'clipboard', text: 'h€' });
    await waitFor(() => received.filter((m) => m.type !== 'request').length >= 4, 'the input');
    assert.deepEqual(
      received.filter((m) => m.type !== 'request'),
      [
        { type: 'pointer', buttons: 1, x: 0, y: 479 },
        { type: 'pointer', buttons: 0, x: 11, y: 20 },
        { type: 'key', down: true, keysym: 0xffe1 },
        { type: 'cutText', bytes: [0x68, 0x3f] },
      ],
    );
    ws.peerClose();
    await bridge;
    await server.close();
  });

  it('reports an upstream protocol error to the viewer and closes with 4502', async () => {
    const server = await startFakeRfbServer(async (peer) => {
      await acceptNone38(peer);
      await peer.read(20 + 28 + 10);
      peer.write(fbuHeader(1), rect(600, 0, 100, 1, Encoding.Raw, new Uint8Array(400)));
    });
    const ws = new FakeWebSocket();
    await bridgeStream(ws.asWs(), { host: '127.0.0.1', port: server.port }, { logger });
    assert.equal(ws.closeCode, StreamCloseCode.UpstreamError);
    assert.deepEqual(ws.sent.at(-1), {
      t: 'error',
      code: 'UPSTREAM_PROTOCOL',
      message: 'The desktop sent data that is not valid RFB.',
    });
    await server.close();
  });

  it('reports an unreachable desktop with 4502', async () => {
    const ws = new FakeWebSocket();
    await bridgeStream(ws.asWs(), { host: '127.0.0.1', port: await freePort() }, { logger });
    assert.equal(ws.closeCode, StreamCloseCode.UpstreamError);
    assert.deepEqual(ws.sent, [
      { t: 'error', code: 'UPSTREAM_UNREACHABLE', message: 'The desktop cannot be reached.' },
    ]);
  });

  it('gives up connecting when the viewer leaves, and returns at once for a closed socket', async () => {
    const server = await startFakeRfbServer(async (peer) => {
      await peer.read(1); // silent server
    });
    const ws = new FakeWebSocket();
    const bridge = bridgeStream(ws.asWs(), { host: '127.0.0.1', port: server.port }, { logger });
    await delay(50);
    ws.peerClose();
    await bridge;
    assert.deepEqual(ws.sent, []);
    await server.script.catch(() => {}); // the gateway hung up on it

    const closed = new FakeWebSocket();
    closed.readyState = closed.CLOSED;
    await bridgeStream(closed.asWs(), { host: '127.0.0.1', port: server.port }, { logger });
    await server.close();
  });

  it('treats an ack for an update not sent as a protocol error', async () => {
    const { server } = await startAnsweringServer();
    const ws = new FakeWebSocket();
    const bridge = bridgeStream(ws.asWs(), { host: '127.0.0.1', port: server.port }, { logger });
    await waitFor(() => ws.sent.some((m) => m.t === 'update'), 'update 1');
    ws.fromViewer({ t: 'ack', seq: 50 });
    await bridge;
    assert.equal(ws.closeCode, StreamCloseCode.ProtocolError);
    assert.deepEqual(ws.sent.at(-1), {
      t: 'error',
      code: 'STREAM_PROTOCOL',
      message: 'The stream message is malformed.',
    });
    await server.close();
  });
});
