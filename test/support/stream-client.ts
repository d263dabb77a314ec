import { unpack } from 'msgpackr';
import WebSocket from 'ws';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  HANDSHAKE_SUBPROTOCOL,
  STREAM_SUBPROTOCOL,
  type ServerStreamMessage,
} from '../../protocol/stream.ts';

/** The subprotocols a viewer offers: the stream protocol, its bearer token and the handshake. */
export const streamProtocols = (token: string): string[] => [
  STREAM_SUBPROTOCOL,
  BEARER_SUBPROTOCOL_PREFIX + token,
  HANDSHAKE_SUBPROTOCOL,
];

/** Opens a stream; resolves with the socket once open, or with the HTTP status that refused the upgrade. */
export function openStream(
  url: string,
  protocols: string[],
): Promise<{ ws?: WebSocket; refusedWith?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols);
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ refusedWith: res.statusCode }));
    ws.once('error', () => resolve({ refusedWith: 0 }));
  });
}

/** The next `count` messages the gateway sends on `ws`, decoded. */
export function nextMessages(ws: WebSocket, count: number): Promise<ServerStreamMessage[]> {
  return new Promise((resolve) => {
    const got: ServerStreamMessage[] = [];
    const onMessage = (data: Buffer) => {
      got.push(unpack(data) as ServerStreamMessage);
      if (got.length === count) {
        ws.off('message', onMessage);
        resolve(got);
      }
    };
    ws.on('message', onMessage);
  });
}
