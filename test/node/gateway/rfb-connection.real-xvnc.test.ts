import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pack, unpack } from 'msgpackr';
import { pino } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { RfbConnection } from '../../../backend-adapter/gateway/rfb-connection.ts';
import type { RfbServerMessage } from '../../../backend-adapter/gateway/rfb-message-parser.ts';
import { bridgeStream } from '../../../backend-adapter/gateway/stream-bridge.ts';
import { RfbUpstreamError } from '../../../backend-adapter/gateway/upstream-error.ts';
import {
  STREAM_ACK_WINDOW,
  StreamCloseCode,
  type ClientStreamMessage,
  type ServerStreamMessage,
  type StreamRect,
} from '../../../protocol/stream.ts';
import { haveXvnc, startXvnc, type RunningXvnc } from './xvnc.ts';

const skip = haveXvnc ? false : 'TigerVNC Xvnc is not installed';
const PASSWORD = 'vsc-T3st';

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** True when the rectangles cover every pixel of a width x height screen. */
function coversScreen(rects: StreamRect[], width: number, height: number): boolean {
  const covered = new Uint8Array(width * height);
  for (const r of rects) {
    for (let y = r.y; y < r.y + r.h; y++) covered.fill(1, y * width + r.x, y * width + r.x + r.w);
  }
  return covered.every((c) => c === 1);
}

describe('RfbConnection against a real TigerVNC Xvnc', { skip }, () => {
  let xvnc: RunningXvnc;
  before(async () => {
    xvnc = await startXvnc(PASSWORD);
  });
  after(async () => {
    await xvnc?.stop();
  });

  it('authenticates, gets ServerInit 800x600 and a first update covering the screen', async () => {
    const connection = new RfbConnection({ host: '127.0.0.1', port: xvnc.port, password: PASSWORD });
    const updates: RfbServerMessage[] = [];
    connection.on('message', (m) => {
      if (m.type === 'framebufferUpdate') updates.push(m);
    });
    const init = await connection.connect();
    assert.equal(init.version, '3.8');
    assert.equal(init.securityType, 2);
    assert.deepEqual([init.width, init.height], [800, 600]);
    connection.requestUpdate(false);
    await waitFor(() => updates.length > 0, 10_000, 'the first update');
    const [first] = updates;
    assert.ok(first?.type === 'framebufferUpdate');
    assert.ok(coversScreen(first.rects, 800, 600), 'the first update covers the whole screen');
    const closed = once(connection, 'closed');
    connection.close();
    assert.deepEqual(await closed, [undefined]);
  });

  it('fails with UPSTREAM_AUTH_FAILED on a wrong password', async () => {
    const connection = new RfbConnection({ host: '127.0.0.1', port: xvnc.port, password: 'wrong' });
    await assert.rejects(connection.connect(), (err: unknown) => {
      assert.ok(err instanceof RfbUpstreamError);
      assert.equal(err.code, 'UPSTREAM_AUTH_FAILED');
      return true;
    });
  });

  it('sends pointer and key events, gets the cursor redrawn, and reports Xvnc dying as closed', async () => {
    const connection = new RfbConnection({ host: '127.0.0.1', port: xvnc.port, password: PASSWORD });
    let updates = 0;
    connection.on('message', (m) => {
      if (m.type === 'framebufferUpdate') {
        updates++;
        connection.requestUpdate(true);
      }
    });
    const closed = once(connection, 'closed');
    await connection.connect();
    connection.requestUpdate(false);
    await waitFor(() => updates >= 1, 10_000, 'the first update');
    for (let i = 0; i < 20 && updates < 2; i++) {
      connection.sendPointer(100 + i * 10, 100 + i * 5, 0);
      await delay(50);
    }
    assert.ok(updates >= 2, 'moving the pointer redraws the server-side cursor');
    connection.sendKey(0x61, true); // 'a'
    connection.sendKey(0x61, false);
    connection.sendClipboard('from the gateway');
    await delay(100);
    assert.equal(connection.isOpen, true);

    xvnc.process.kill('SIGKILL');
    const [error] = await closed;
    assert.ok(error === undefined || error.code === 'UPSTREAM_CLOSED', String(error));
    assert.equal(connection.isOpen, false);
  });
});

/** A viewer: a ws client that unpacks every message and can send packed ones. */
class TestViewer {
  readonly messages: ServerStreamMessage[] = [];
  readonly closed: Promise<[number, string]>;
  constructor(readonly ws: WebSocket) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer) => this.messages.push(unpack(data) as ServerStreamMessage));
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => resolve([code, reason.toString()])),
    );
  }
  static async open(port: number): Promise<TestViewer> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const viewer = new TestViewer(ws);
    await once(ws, 'open');
    return viewer;
  }
  send(message: ClientStreamMessage): void {
    this.ws.send(pack(message));
  }
  updates(): Array<Extract<ServerStreamMessage, { t: 'update' }>> {
    return this.messages.filter((m): m is Extract<ServerStreamMessage, { t: 'update' }> => m.t === 'update');
  }
}

describe('bridgeStream between a ws viewer and a real Xvnc', { skip }, () => {
  let xvnc: RunningXvnc;
  let wss: WebSocketServer;
  let port: number;
  let target: { host: string; port: number; password?: string };
  const bridges: Array<Promise<void>> = [];
  let controller: AbortController | undefined;

  before(async () => {
    xvnc = await startXvnc(PASSWORD);
    target = { host: '127.0.0.1', port: xvnc.port, password: PASSWORD };
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    port = (wss.address() as AddressInfo).port;
    wss.on('connection', (ws) => {
      bridges.push(
        bridgeStream(ws, target, { logger: pino({ level: 'silent' }), signal: controller?.signal }),
      );
    });
  });
  after(async () => {
    for (const client of wss?.clients ?? []) client.terminate();
    await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
    await xvnc?.stop();
  });

  it('sends init, update 1, and more updates after acks and input', async () => {
    const viewer = await TestViewer.open(port);
    await waitFor(() => viewer.updates().length >= 1, 10_000, 'update 1');
    assert.deepEqual(viewer.messages[0], {
      t: 'init',
      version: 1, // this test's WebSocket negotiates no subprotocol: version 1
      width: 800,
      height: 600,
      name: viewer.messages[0]?.t === 'init' ? viewer.messages[0].name : '',
    });
    const [first] = viewer.updates();
    assert.equal(first?.seq, 1);
    assert.ok(first && coversScreen(first.rects, 800, 600));
    assert.ok(first.rects.every((r) => r.data instanceof Uint8Array));

    viewer.send({ t: 'ack', seq: 1 });
    for (let i = 0; i < 40 && viewer.updates().length < 4; i++) {
      viewer.send({ t: 'pointer', x: 200 + i * 7, y: 150 + i * 3, buttons: 0 });
      const last = viewer.updates().at(-1);
      if (last) viewer.send({ t: 'ack', seq: last.seq });
      await delay(40);
    }
    const seqs = viewer.updates().map((u) => u.seq);
    assert.ok(seqs.length >= 3, `updates after input: ${seqs.join(',')}`);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
    );
    viewer.send({ t: 'key', keysym: 0x61, down: true });
    viewer.send({ t: 'key', keysym: 0x61, down: false });
    viewer.send({ t: 'clipboard', text: 'hello from the viewer' });
    viewer.send({ t: 'pointer', x: -50, y: 1e9, buttons: 1 }); // clamped to the screen
    viewer.send({ t: 'pointer', x: -50, y: 1e9, buttons: 0 });
    await delay(100);
    assert.equal(viewer.ws.readyState, WebSocket.OPEN);
    viewer.ws.close();
    await viewer.closed;
    await bridges.at(-1);
  });

  it('never lets more than STREAM_ACK_WINDOW updates run ahead of the acks', async () => {
    const viewer = await TestViewer.open(port);
    await waitFor(() => viewer.updates().length >= 1, 10_000, 'update 1');
    for (let i = 0; i < 30; i++) {
      viewer.send({ t: 'pointer', x: 300 + (i % 2) * 40, y: 300, buttons: 0 });
      await delay(30);
    }
    const unacked = viewer.updates().length;
    assert.ok(unacked <= STREAM_ACK_WINDOW, `${unacked} updates without any ack`);
    assert.equal(unacked, STREAM_ACK_WINDOW, 'the window is used');

    viewer.send({ t: 'ack', seq: unacked });
    for (let i = 0; i < 30 && viewer.updates().length <= unacked; i++) {
      viewer.send({ t: 'pointer', x: 500 + (i % 2) * 40, y: 400, buttons: 0 });
      await delay(30);
    }
    assert.ok(viewer.updates().length > unacked, 'acking lets updates flow again');
    assert.ok(viewer.updates().length <= unacked + STREAM_ACK_WINDOW);
    viewer.ws.close();
    await viewer.closed;
  });

  it('closes with 4400 after a malformed viewer message', async () => {
    for (const bad of [
      Buffer.from([0xc1]), // not msgpack
      pack({ t: 'pointer', x: 1, y: 2 }), // missing field
      pack({ t: 'key', keysym: 65, down: true, extra: 1 }),
      pack({ t: 'ack', seq: 99 }), // not sent yet
      pack(['key', 65, true]),
      'text frame',
    ]) {
      const viewer = await TestViewer.open(port);
      await waitFor(() => viewer.messages.length >= 1, 10_000, 'init');
      viewer.ws.send(bad);
      const [code] = await viewer.closed;
      assert.equal(code, StreamCloseCode.ProtocolError);
      assert.deepEqual(viewer.messages.at(-1), {
        t: 'error',
        code: 'STREAM_PROTOCOL',
        message: 'The stream message is malformed.',
      });
      await bridges.at(-1);
    }
  });

  it('closes the viewer with 1000 when the signal aborts', async () => {
    controller = new AbortController();
    const viewer = await TestViewer.open(port);
    await waitFor(() => viewer.updates().length >= 1, 10_000, 'update 1');
    controller.abort();
    controller = undefined;
    const [code] = await viewer.closed;
    assert.equal(code, StreamCloseCode.Normal);
    await bridges.at(-1);
  });

  it('reports a wrong password as an upstream error (4502)', async () => {
    const good = target;
    target = { ...good, password: 'wrong' };
    try {
      const viewer = await TestViewer.open(port);
      const [code] = await viewer.closed;
      assert.equal(code, StreamCloseCode.UpstreamError);
      const last = viewer.messages.at(-1);
      assert.ok(last?.t === 'error');
      assert.match(last.message, /credentials/);
      await bridges.at(-1);
    } finally {
      target = good;
    }
  });

  it('ends the stream with 4410 when Xvnc goes away', async () => {
    const viewer = await TestViewer.open(port);
    await waitFor(() => viewer.updates().length >= 1, 10_000, 'update 1');
    xvnc.process.kill('SIGTERM');
    const [code] = await viewer.closed;
    assert.equal(code, StreamCloseCode.SessionEnded);
    assert.deepEqual(viewer.messages.at(-1), {
      t: 'error',
      code: 'UPSTREAM_CLOSED',
      message: 'The desktop closed the connection.',
    });
    await bridges.at(-1);
  });
});
