import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { RfbConnection } from '../../../backend-adapter/gateway/rfb-connection.ts';
import type { RfbServerMessage } from '../../../backend-adapter/gateway/rfb-message-parser.ts';
import { RfbUpstreamError } from '../../../backend-adapter/gateway/upstream-error.ts';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import { acceptNone38, startFakeRfbServer } from './fake-rfb-server.ts';
import { concat, fbuHeader, rect, u32 } from './rfb-stream-builder.ts';
import { freePort } from './xvnc.ts';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

async function connectError(connection: RfbConnection): Promise<RfbUpstreamError> {
  try {
    await connection.connect();
  } catch (err) {
    assert.ok(err instanceof RfbUpstreamError);
    return err;
  }
  assert.fail('connect() should have failed');
}

describe('RfbConnection against a scripted server', () => {
  it('sets the pixel format and encodings, forwards messages and input, reports the server closing', async () => {
    const pixel = Uint8Array.of(9, 8, 7, 0);
    const server = await startFakeRfbServer(async (peer) => {
      await acceptNone38(peer, 640, 480, 'fake');
      assert.equal(hex(await peer.read(20)), '00000000' + '20180001' + '00ff00ff00ff' + '000810' + '000000');
      // SetEncodings: Tight, TightPNG, ZRLE, Hextile, CopyRect, Raw, Cursor, DesktopSize, LastRect,
      // DesktopName, ExtendedDesktopSize, JPEG quality 8, compression level 2.
      assert.equal(
        hex(await peer.read(4 + 13 * 4)),
        '0200000d' +
          ['00000007', 'fffffefc', '00000010', '00000005', '00000001', '00000000'].join('') +
          ['ffffff11', 'ffffff21', 'ffffff20', 'fffffecd', 'fffffecc', 'ffffffe8', 'ffffff02'].join(''),
      );
      assert.equal(hex(await peer.read(10)), '0300' + '0000' + '0000' + '0280' + '01e0'); // full, 640x480
      peer.write(fbuHeader(1), rect(1, 2, 1, 1, Encoding.Raw, pixel), Uint8Array.of(2));
      assert.equal(hex(await peer.read(10)), '0301' + '0000' + '0000' + '0280' + '01e0'); // incremental
      assert.equal(hex(await peer.read(8)), '04010000' + '0000ff0d'); // Return down
      assert.equal(hex(await peer.read(6)), '05' + '05' + '0064' + '00c8'); // buttons 1|4 at 100,200
      assert.equal(hex(await peer.read(8 + 4)), '06000000' + '00000004' + '68e93f3f'); // 'hé€😀'
      peer.socket.end();
    });
    const connection = new RfbConnection({ host: '127.0.0.1', port: server.port });
    const messages: RfbServerMessage[] = [];
    connection.on('message', (m) => messages.push(m));
    const closed = once(connection, 'closed');
    const init = await connection.connect();
    assert.deepEqual([init.width, init.height, init.name], [640, 480, 'fake']);
    assert.deepEqual([connection.width, connection.height], [640, 480]);
    connection.requestUpdate(false);
    while (messages.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(messages, [
      { type: 'framebufferUpdate', rects: [{ x: 1, y: 2, w: 1, h: 1, encoding: Encoding.Raw, data: pixel }] },
      { type: 'bell' },
    ]);
    connection.requestUpdate(true);
    connection.sendKey(0xff0d, true);
    connection.sendPointer(100, 200, 5);
    connection.sendClipboard('hé€😀');
    assert.deepEqual(await closed, [undefined]);
    assert.equal(connection.isOpen, false);
    await server.script;
    await server.close();
  });

  it('delivers messages that arrive together with ServerInit, after connect() resolves', async () => {
    const server = await startFakeRfbServer(async (peer) => {
      peer.writeText('RFB 003.008\n');
      await peer.read(12);
      peer.write(Uint8Array.of(1, 1));
      await peer.read(1);
      peer.write(u32(0));
      await peer.read(1);
      const init = concat(Uint8Array.of(0, 10, 0, 10), new Uint8Array(16), u32(1), Uint8Array.of(0x78));
      peer.write(init, Uint8Array.of(2, 2)); // ServerInit and two Bells in one segment
      await peer.read(20 + 28);
    });
    const connection = new RfbConnection({ host: '127.0.0.1', port: server.port });
    const seen: string[] = [];
    connection.on('message', (m) => seen.push(`message:${m.type}`));
    await connection.connect();
    seen.push('connected');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(seen, ['connected', 'message:bell', 'message:bell']);
    connection.close();
    await server.close();
  });

  it('closes with UPSTREAM_PROTOCOL when the server sends garbage', async () => {
    const server = await startFakeRfbServer(async (peer) => {
      await acceptNone38(peer);
      peer.write(Uint8Array.of(0xee));
      await once(peer.socket, 'close');
    });
    const connection = new RfbConnection({ host: '127.0.0.1', port: server.port });
    const closed = once(connection, 'closed');
    await connection.connect();
    const [error] = (await closed) as [RfbUpstreamError];
    assert.equal(error.code, 'UPSTREAM_PROTOCOL');
    await server.script; // the gateway hung up on it
    await server.close();
  });

  it('emits closed once, without error, on close(); later sends are ignored', async () => {
    const server = await startFakeRfbServer(async (peer) => {
      await acceptNone38(peer);
      await once(peer.socket, 'close');
    });
    const connection = new RfbConnection({ host: '127.0.0.1', port: server.port });
    const events: unknown[] = [];
    connection.on('closed', (error) => events.push(error));
    await connection.connect();
    connection.close();
    connection.close();
    connection.sendKey(0x61, true);
    connection.requestUpdate(true);
    await server.script;
    assert.deepEqual(events, [undefined]);
    await server.close();
  });

  it('times out when the server never speaks', async () => {
    const server = await startFakeRfbServer(async (peer) => {
      await once(peer.socket, 'close');
    });
    const started = Date.now();
    const error = await connectError(
      new RfbConnection({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 200 }),
    );
    assert.equal(error.code, 'UPSTREAM_TIMEOUT');
    assert.ok(Date.now() - started < 2000);
    await server.script;
    await server.close();
  });

  it('reports a closed port as UPSTREAM_UNREACHABLE', async () => {
    const error = await connectError(new RfbConnection({ host: '127.0.0.1', port: await freePort() }));
    assert.equal(error.code, 'UPSTREAM_UNREACHABLE');
  });

  it('aborts a pending connect through the signal or close()', async () => {
    const server = await startFakeRfbServer(async (peer) => {
      await peer.read(1); // never comes
    });
    const controller = new AbortController();
    const pending = connectError(
      new RfbConnection({ host: '127.0.0.1', port: server.port, signal: controller.signal }),
    );
    setTimeout(() => controller.abort(), 50);
    assert.equal((await pending).code, 'UPSTREAM_ABORTED');

    const connection = new RfbConnection({ host: '127.0.0.1', port: server.port });
    const closing = connectError(connection);
    setTimeout(() => connection.close(), 50);
    assert.equal((await closing).code, 'UPSTREAM_ABORTED');
    await server.close();
  });

  it('passes the auth failure code through connect()', async () => {
    const server = await startFakeRfbServer(async (peer) => {
      peer.writeText('RFB 003.008\n');
      await peer.read(12);
      peer.write(Uint8Array.of(1, 2));
      await peer.read(1);
      peer.write(new Uint8Array(16));
      await peer.read(16);
      const reason = new TextEncoder().encode('Authentication failure');
      peer.write(u32(1), u32(reason.length), reason);
    });
    const error = await connectError(
      new RfbConnection({ host: '127.0.0.1', port: server.port, password: 'nope' }),
    );
    assert.equal(error.code, 'UPSTREAM_AUTH_FAILED');
    await server.close();
  });
});
