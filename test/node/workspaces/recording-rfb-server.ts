import { createServer, type AddressInfo, type Socket } from 'node:net';
import { SocketReader } from '../../../backend-adapter/gateway/socket-reader.ts';
import { acceptNone38, type FakePeer } from '../gateway/fake-rfb-server.ts';
import { concat } from '../gateway/rfb-stream-builder.ts';

/** One client message as the VNC server received it. */
export type RecordedMessage =
  | { type: 'setPixelFormat' }
  | { type: 'setEncodings'; encodings: number[] }
  | { type: 'updateRequest' }
  | { type: 'key'; keysym: number; down: boolean }
  | { type: 'pointer'; x: number; y: number; buttons: number }
  | { type: 'cutText'; text: string }
  | { type: 'setDesktopSize' };

export interface RecordingRfbServer {
  port: number;
  /** Every connection's messages, in the order the connections were accepted. */
  connections: RecordedMessage[][];
  /** Resolves once some connection has received a message matching `match`. */
  waitFor(match: (m: RecordedMessage, connection: number) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/**
 * A VNC server (RFB 3.8, security None, shared connections) that accepts any number of clients and
 * records, per connection, every message the gateway sends it: the proof of what reached the desktop.
 */
export async function startRecordingRfbServer(width = 640, height = 480): Promise<RecordingRfbServer> {
  const connections: RecordedMessage[][] = [];
  const sockets = new Set<Socket>();
  const waiters = new Set<() => void>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    const reader = new SocketReader(socket);
    const peer: FakePeer = {
      socket,
      read: (n) => reader.read(n),
      readText: async (n) => new TextDecoder().decode(await reader.read(n)),
      write: (...parts) => void socket.write(concat(...parts)),
      writeText: (text) => void socket.write(text),
    };
    const log: RecordedMessage[] = [];
    connections.push(log);
    const record = (m: RecordedMessage) => {
      log.push(m);
      for (const w of [...waiters]) w();
    };
    void (async () => {
      await acceptNone38(peer, width, height, 'recording');
      for (;;) {
        const [type] = await peer.read(1);
        switch (type) {
          case 0:
            await peer.read(19);
            record({ type: 'setPixelFormat' });
            break;
          case 2: {
            const head = await peer.read(3);
            const n = view(head).getUint16(1);
            const body = view(await peer.read(4 * n));
            record({
              type: 'setEncodings',
              encodings: Array.from({ length: n }, (_, i) => body.getInt32(i * 4)),
            });
            break;
          }
          case 3:
            await peer.read(9);
            record({ type: 'updateRequest' });
            break;
          case 4: {
            const b = view(await peer.read(7));
            record({ type: 'key', down: b.getUint8(0) === 1, keysym: b.getUint32(3) });
            break;
          }
          case 5: {
            const b = view(await peer.read(5));
            record({ type: 'pointer', buttons: b.getUint8(0), x: b.getUint16(1), y: b.getUint16(3) });
            break;
          }
          case 6: {
            const len = view(await peer.read(7)).getUint32(3);
            record({ type: 'cutText', text: new TextDecoder('latin1').decode(await peer.read(len)) });
            break;
          }
          case 251: {
            const b = view(await peer.read(7));
            await peer.read(16 * b.getUint8(5));
            record({ type: 'setDesktopSize' });
            break;
          }
          default:
            throw new Error(`unexpected client message type ${String(type)}`);
        }
      }
    })().catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    waitFor(match, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (connections.some((log, i) => log.some((m) => match(m, i)))) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error('the VNC server did not receive the expected message in time'));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
