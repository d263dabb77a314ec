import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import {
  performRfbHandshake,
  vncAuthResponse,
  type RfbServerInit,
} from '../../../backend-adapter/gateway/rfb-handshake.ts';
import { SocketReader } from '../../../backend-adapter/gateway/socket-reader.ts';
import { RfbUpstreamError, type UpstreamErrorCode } from '../../../backend-adapter/gateway/upstream-error.ts';
import { serverInit, startFakeRfbServer, type FakePeer } from './fake-rfb-server.ts';
import { u32 } from './rfb-stream-builder.ts';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Runs the client handshake against a scripted server; returns the client's outcome and the script's. */
async function handshake(
  script: (peer: FakePeer) => Promise<void>,
  password?: string,
): Promise<{ init?: RfbServerInit; error?: unknown }> {
  const server = await startFakeRfbServer(script);
  const socket = connect(server.port, '127.0.0.1');
  socket.on('error', () => {});
  // A failed assertion in the script must fail the test, not leave the client waiting.
  let scriptError: unknown;
  server.script.catch((err: unknown) => {
    scriptError = err;
    socket.destroy();
  });
  const reader = new SocketReader(socket);
  const io = { read: (n: number) => reader.read(n), write: (b: Uint8Array) => void socket.write(b) };
  try {
    const init = await performRfbHandshake(io, { password });
    await server.script;
    return { init };
  } catch (error) {
    if (scriptError) throw scriptError;
    return { error };
  } finally {
    socket.destroy();
    await server.close();
  }
}

function assertUpstreamError(error: unknown, code: UpstreamErrorCode, pattern?: RegExp): void {
  assert.ok(error instanceof RfbUpstreamError, `expected RfbUpstreamError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (pattern) assert.match(error.message, pattern);
}

describe('vncAuthResponse', () => {
  it('matches DES as TigerVNC computes it (bit-reversed key bytes)', () => {
    // Independent vector from TigerVNC itself: `printf 'secret12\n' | vncpasswd -f` prints 24b5ae4ce15503c6,
    // which is 'secret12' encrypted by the same VNC DES with the fixed key 23,82,107,6,35,78,88,7.
    const key = String.fromCharCode(23, 82, 107, 6, 35, 78, 88, 7);
    const challenge = new TextEncoder().encode('secret12secret12');
    assert.equal(hex(vncAuthResponse(challenge, key)), '24b5ae4ce15503c6'.repeat(2));
  });

  it('uses only the first 8 password bytes, zero padded', () => {
    const challenge = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
    assert.equal(
      hex(vncAuthResponse(challenge, 'password-longer')),
      hex(vncAuthResponse(challenge, 'password')),
    );
    assert.notEqual(hex(vncAuthResponse(challenge, 'pass')), hex(vncAuthResponse(challenge, 'pass\u0001')));
    assert.equal(hex(vncAuthResponse(challenge, 'pass')), hex(vncAuthResponse(challenge, 'pass\0\0\0\0')));
  });
});

describe('performRfbHandshake against a scripted server', () => {
  it('3.8 with security None', async () => {
    const { init, error } = await handshake(async (peer) => {
      peer.writeText('RFB 003.008\n');
      assert.equal(await peer.readText(12), 'RFB 003.008\n');
      peer.write(Uint8Array.of(2, 1, 16)); // None and something unknown
      assert.deepEqual(await peer.read(1), Uint8Array.of(1));
      peer.write(u32(0));
      assert.deepEqual(await peer.read(1), Uint8Array.of(1)); // ClientInit, shared
      peer.write(serverInit(1280, 720, 'bürö'));
    });
    assert.equal(error, undefined);
    assert.deepEqual(init, {
      version: '3.8',
      securityType: 1,
      width: 1280,
      height: 720,
      pixelFormat: {
        bitsPerPixel: 32,
        depth: 24,
        bigEndian: false,
        trueColour: true,
        redMax: 255,
        greenMax: 255,
        blueMax: 255,
        redShift: 16,
        greenShift: 8,
        blueShift: 0,
      },
      name: 'bürö',
    });
  });

  it('3.3 with security None: the server picks, no SecurityResult', async () => {
    const { init, error } = await handshake(async (peer) => {
      peer.writeText('RFB 003.003\n');
      assert.equal(await peer.readText(12), 'RFB 003.003\n');
      peer.write(u32(1));
      assert.deepEqual(await peer.read(1), Uint8Array.of(1));
      peer.write(serverInit(800, 600, 'old'));
    });
    assert.equal(error, undefined);
    assert.equal(init?.version, '3.3');
    assert.equal(init?.name, 'old');
  });

  for (const [server, reply] of [
    ['003.889', 'RFB 003.008\n'],
    ['004.000', 'RFB 003.008\n'],
    ['004.001', 'RFB 003.008\n'],
    ['005.000', 'RFB 003.008\n'],
    ['003.006', 'RFB 003.003\n'],
    ['003.007', 'RFB 003.007\n'],
  ] as const) {
    it(`answers server version ${server} with ${reply.trim()}`, async () => {
      const { error } = await handshake(async (peer) => {
        peer.writeText(`RFB ${server}\n`);
        assert.equal(await peer.readText(12), reply);
        if (reply === 'RFB 003.003\n') peer.write(u32(1));
        else {
          peer.write(Uint8Array.of(1, 1));
          assert.deepEqual(await peer.read(1), Uint8Array.of(1));
          if (reply === 'RFB 003.008\n') peer.write(u32(0)); // 3.7 sends no SecurityResult for None
        }
        assert.deepEqual(await peer.read(1), Uint8Array.of(1));
        peer.write(serverInit(10, 10, 'x'));
      });
      assert.equal(error, undefined);
    });
  }

  for (const greeting of ['RFB 002.000\n', 'RFB 003.010\n', 'HTTP/1.1 400', 'SSH-2.0-Open']) {
    it(`rejects the greeting ${JSON.stringify(greeting)}`, async () => {
      const { error } = await handshake(async (peer) => {
        peer.writeText(greeting);
      });
      assertUpstreamError(error, 'UPSTREAM_PROTOCOL', /ProtocolVersion/);
    });
  }

  it('3.7 VNC Authentication: sends the DES response to the challenge', async () => {
    const challenge = Uint8Array.from({ length: 16 }, (_, i) => 255 - i);
    const { init, error } = await handshake(async (peer) => {
      peer.writeText('RFB 003.007\n');
      assert.equal(await peer.readText(12), 'RFB 003.007\n');
      peer.write(Uint8Array.of(1, 2));
      assert.deepEqual(await peer.read(1), Uint8Array.of(2));
      peer.write(challenge);
      assert.equal(hex(await peer.read(16)), hex(vncAuthResponse(challenge, 's3cret')));
      peer.write(u32(0));
      assert.deepEqual(await peer.read(1), Uint8Array.of(1));
      peer.write(serverInit(1024, 768, 'auth'));
    }, 's3cret');
    assert.equal(error, undefined);
    assert.equal(init?.securityType, 2);
  });

  it('prefers None when the server offers both', async () => {
    const { init } = await handshake(async (peer) => {
      peer.writeText('RFB 003.008\n');
      await peer.read(12);
      peer.write(Uint8Array.of(2, 2, 1));
      assert.deepEqual(await peer.read(1), Uint8Array.of(1));
      peer.write(u32(0));
      await peer.read(1);
      peer.write(serverInit(10, 10, 'x'));
    }, 'unused');
    assert.equal(init?.securityType, 1);
  });

  it('3.8 authentication failure carries the server reason', async () => {
    const { error } = await handshake(async (peer) => {
      peer.writeText('RFB 003.008\n');
      await peer.read(12);
      peer.write(Uint8Array.of(1, 2));
      await peer.read(1);
      peer.write(new Uint8Array(16));
      await peer.read(16);
      const reason = new TextEncoder().encode('Authentication failure');
      peer.write(u32(1), u32(reason.length), reason);
    }, 'wrong');
    assertUpstreamError(error, 'UPSTREAM_AUTH_FAILED', /Authentication failure/);
  });

  it('3.7 authentication failure, without a reason', async () => {
    const { error } = await handshake(async (peer) => {
      peer.writeText('RFB 003.007\n');
      await peer.read(12);
      peer.write(Uint8Array.of(1, 2));
      await peer.read(1);
      peer.write(new Uint8Array(16));
      await peer.read(16);
      peer.write(u32(1));
    }, 'wrong');
    assertUpstreamError(error, 'UPSTREAM_AUTH_FAILED');
  });

  it('fails without sending anything when the server wants a password and none was given', async () => {
    const { error } = await handshake(async (peer) => {
      peer.writeText('RFB 003.008\n');
      await peer.read(12);
      peer.write(Uint8Array.of(1, 2));
    });
    assertUpstreamError(error, 'UPSTREAM_AUTH_FAILED', /password/);
  });

  it('reports a refusal with the server reason (no security types)', async () => {
    const { error } = await handshake(async (peer) => {
      peer.writeText('RFB 003.008\n');
      await peer.read(12);
      const reason = new TextEncoder().encode('Too many security failures');
      peer.write(Uint8Array.of(0), u32(reason.length), reason);
    });
    assertUpstreamError(error, 'UPSTREAM_REFUSED', /Too many security failures/);
  });

  it('rejects a server offering no supported security type', async () => {
    const { error } = await handshake(async (peer) => {
      peer.writeText('RFB 003.008\n');
      await peer.read(12);
      peer.write(Uint8Array.of(2, 16, 19));
    });
    assertUpstreamError(error, 'UPSTREAM_PROTOCOL', /security type/);
  });

  it('rejects an absurd reason length without waiting for it', async () => {
    const { error } = await handshake(async (peer) => {
      peer.writeText('RFB 003.008\n');
      await peer.read(12);
      peer.write(Uint8Array.of(0), u32(0xffffffff));
    });
    assertUpstreamError(error, 'UPSTREAM_PROTOCOL', /reason/);
  });

  it('reports a server that hangs up mid-handshake as UPSTREAM_CLOSED', async () => {
    const { error } = await handshake(async (peer) => {
      peer.writeText('RFB 003.008\n');
      await peer.read(12);
      peer.socket.end();
    });
    assertUpstreamError(error, 'UPSTREAM_CLOSED');
  });
});
