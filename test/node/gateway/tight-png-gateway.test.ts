import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pack, unpack } from 'msgpackr';
import { pino } from 'pino';
import { PNG } from 'pngjs';
import type { WebSocket } from 'ws';
import { bridgeStream } from '../../../backend-adapter/gateway/stream-bridge.ts';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import { streamSubprotocol, type ServerStreamMessage } from '../../../protocol/stream.ts';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import type { ImageDecodeFn } from '../../../worker/decoders/image-decoder.ts';
import { StreamDecoder } from '../../../worker/stream-decoder.ts';
import { region } from '../worker/helpers.ts';
import { compact } from '../worker/zlib-stream-encoder.ts';
import { acceptNone38, startFakeRfbServer } from './fake-rfb-server.ts';
import { concat, fbuHeader, rect } from './rfb-stream-builder.ts';

/**
 * TightPNG from a VNC server that offers it, through the gateway (framing, flow control, msgpack) into the
 * worker's StreamDecoder: the decoded framebuffer shows the PNG's pixels. PNG is decoded with pngjs here,
 * as createImageBitmap does in the worker.
 */
const pngjs: ImageDecodeFn = (data, mime, w, h) => {
  if (mime !== 'image/png') return Promise.reject(new DecodeError(`no ${mime} decoder`));
  const png = PNG.sync.read(Buffer.from(data));
  if (png.width !== w || png.height !== h) return Promise.reject(new DecodeError('PNG size mismatch'));
  return Promise.resolve(new Uint8Array(png.data));
};

function pngOf(w: number, h: number, rgb: (x: number, y: number) => [number, number, number]): Uint8Array {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) png.data.set([...rgb(x, y), 255], (y * w + x) * 4);
  return new Uint8Array(PNG.sync.write(png));
}

/** The viewer's end of the WebSocket: keeps what the gateway sent, acknowledges nothing by itself. */
class ViewerSocket extends EventEmitter {
  readonly OPEN = 1;
  readonly CLOSED = 3;
  readyState = 1;
  bufferedAmount = 0;
  readonly protocol = streamSubprotocol(2);
  readonly sent: ServerStreamMessage[] = [];
  send(data: Uint8Array, _options?: unknown, cb?: (err?: Error) => void): void {
    this.sent.push(unpack(data) as ServerStreamMessage);
    setImmediate(() => cb?.());
  }
  close(): void {
    if (this.readyState === this.CLOSED) return;
    this.readyState = this.CLOSED;
    setImmediate(() => this.emit('close', 1000, Buffer.alloc(0)));
  }
  terminate(): void {
    this.close();
  }
}

describe('TightPNG through the gateway', () => {
  it('is announced right after Tight, framed by the gateway and decoded to the PNG’s pixels', async () => {
    const W = 64;
    const H = 32;
    const picture = (x: number, y: number): [number, number, number] => [x * 4, y * 8, (x + y) & 0xff];
    const png = pngOf(16, 8, picture);
    let encodings: number[] = [];
    const server = await startFakeRfbServer(async (peer) => {
      await acceptNone38(peer, W, H, 'png-desk');
      await peer.read(20); // SetPixelFormat
      const head = Buffer.from(await peer.read(4));
      const list = Buffer.from(await peer.read(head.readUInt16BE(2) * 4));
      encodings = Array.from({ length: head.readUInt16BE(2) }, (_, i) => list.readInt32BE(i * 4));
      await peer.read(10); // the first FramebufferUpdateRequest
      peer.write(
        fbuHeader(3),
        rect(0, 0, W, H, Encoding.TightPNG, Uint8Array.of(0x80, 10, 20, 30)), // fill the screen
        rect(8, 4, 16, 8, Encoding.TightPNG, concat(Uint8Array.of(0xa0), Uint8Array.from(compact(png)))), // PNG
        rect(40, 20, 4, 4, Encoding.TightPNG, Uint8Array.of(0x8f, 200, 100, 50)), // fill, reset bits set
      );
      await peer.read(10); // the next (incremental) request, sent once the viewer acknowledged
      peer.socket.end();
    });
    const ws = new ViewerSocket();
    const bridged = bridgeStream(
      ws as unknown as WebSocket,
      { host: '127.0.0.1', port: server.port },
      {
        logger: pino({ level: 'silent' }),
      },
    );
    try {
      const deadline = Date.now() + 5000;
      while (!ws.sent.some((m) => m.t === 'update') && Date.now() < deadline) await delay(5);
      const tight = encodings.indexOf(Encoding.Tight);
      assert.ok(tight >= 0, 'Tight is announced');
      assert.equal(encodings[tight + 1], Encoding.TightPNG, 'TightPNG follows Tight');

      const decoder = new StreamDecoder({ decodeImage: pngjs });
      let seq = 0;
      for (const message of ws.sent) {
        const outcome = await decoder.applyMessage(message);
        if (outcome.type === 'update') seq = outcome.seq;
      }
      assert.equal(seq, 1, 'the update was decoded');
      ws.emit('message', pack({ t: 'ack', seq }), true);
      const fb = decoder.framebuffer;
      assert.deepEqual(region(fb, 0, 0, 2, 1), ['10,20,30', '10,20,30']);
      const expected: string[] = [];
      for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) expected.push(picture(x, y).join(','));
      assert.deepEqual(region(fb, 8, 4, 16, 8), expected);
      assert.deepEqual(region(fb, 40, 20, 1, 1), ['200,100,50']);
      await server.script;
    } finally {
      ws.close();
      await bridged;
      await server.close();
    }
  });
});
