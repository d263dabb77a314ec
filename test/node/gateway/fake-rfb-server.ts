import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { SocketReader } from '../../../backend-adapter/gateway/socket-reader.ts';
import { concat, u16, u32 } from './rfb-stream-builder.ts';

/** The server side of one scripted RFB conversation. */
export interface FakePeer {
  socket: Socket;
  read(n: number): Promise<Uint8Array>;
  readText(n: number): Promise<string>;
  write(...parts: Uint8Array[]): void;
  writeText(text: string): void;
}

export interface FakeRfbServer {
  port: number;
  /** Settles when the script of the first connection finishes (rejects if it threw). */
  script: Promise<void>;
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.1 that runs `script` for the first client that connects. */
export async function startFakeRfbServer(script: (peer: FakePeer) => Promise<void>): Promise<FakeRfbServer> {
  const sockets = new Set<Socket>();
  let settle: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  const scriptDone = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  scriptDone.catch(() => {}); // observed through `script`
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    if (sockets.size > 1) return;
    const reader = new SocketReader(socket);
    const peer: FakePeer = {
      socket,
      read: (n) => reader.read(n),
      readText: async (n) => new TextDecoder().decode(await reader.read(n)),
      write: (...parts) => void socket.write(concat(...parts)),
      writeText: (text) => void socket.write(text),
    };
    script(peer).then(
      () => settle?.resolve(),
      (err: unknown) => settle?.reject(err),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    script: scriptDone,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** ServerInit: size, the server's native pixel format (as TigerVNC's), name. */
export function serverInit(width: number, height: number, name: string): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const pixelFormat = Uint8Array.of(32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0);
  return concat(u16(width), u16(height), pixelFormat, u32(nameBytes.length), nameBytes);
}

/** Server side of a 3.8 handshake with security None; returns after ServerInit. */
export async function acceptNone38(peer: FakePeer, width = 640, height = 480, name = 'fake'): Promise<void> {
  peer.writeText('RFB 003.008\n');
  if ((await peer.readText(12)) !== 'RFB 003.008\n') throw new Error('bad client version');
  peer.write(Uint8Array.of(1, 1));
  if ((await peer.read(1))[0] !== 1) throw new Error('client did not pick None');
  peer.write(u32(0));
  if ((await peer.read(1))[0] !== 1) throw new Error('ClientInit not shared');
  peer.write(serverInit(width, height, name));
}
