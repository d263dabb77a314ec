import { pack, unpack } from 'msgpackr';
import WebSocket from 'ws';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  HANDSHAKE_SUBPROTOCOL,
  STREAM_SUBPROTOCOL,
  type ServerStreamMessage,
} from '../../../protocol/stream.ts';

/** A viewer's stream: the socket, its messages as they come, and how it closed. */
export interface TestViewer {
  ws: WebSocket;
  messages: ServerStreamMessage[];
  closed: Promise<{ code: number; reason: string }>;
  send(message: Record<string, unknown>): void;
  /** Resolves with the first message (already received or still to come) of type `t`. */
  next(t: ServerStreamMessage['t'], timeoutMs?: number): Promise<ServerStreamMessage>;
}

/** Opens a stream; resolves with the viewer once open, or with the HTTP status that refused the upgrade. */
export function openViewer(
  baseUrl: string,
  sessionId: string,
  token: string,
): Promise<{ viewer?: TestViewer; refusedWith?: number }> {
  const url = `${baseUrl.replace('http', 'ws')}/api/v1/sessions/${sessionId}/stream`;
  return new Promise((resolve) => {
    const ws = new WebSocket(url, [
      STREAM_SUBPROTOCOL,
      BEARER_SUBPROTOCOL_PREFIX + token,
      HANDSHAKE_SUBPROTOCOL,
    ]);
    const messages: ServerStreamMessage[] = [];
    const listeners = new Set<() => void>();
    ws.on('message', (data: Buffer) => {
      const message = unpack(data) as ServerStreamMessage;
      messages.push(message);
      // Answer latency probes so the gateway keeps the viewer.
      if (message.t === 'ping') ws.send(pack({ t: 'pong', id: message.id }));
      for (const l of [...listeners]) l();
    });
    const closed = new Promise<{ code: number; reason: string }>((done) =>
      ws.once('close', (code, reason) => done({ code, reason: reason.toString() })),
    );
    const viewer: TestViewer = {
      ws,
      messages,
      closed,
      send: (message) => ws.send(pack(message)),
      next: (t, timeoutMs = 5000) =>
        new Promise((found, fail) => {
          const check = () => {
            const m = messages.find((x) => x.t === t);
            if (!m) return;
            listeners.delete(check);
            clearTimeout(timer);
            found(m);
          };
          const timer = setTimeout(() => {
            listeners.delete(check);
            fail(new Error(`no ${t} message within ${timeoutMs} ms`));
          }, timeoutMs);
          listeners.add(check);
          check();
        }),
    };
    ws.once('open', () => resolve({ viewer }));
    ws.once('unexpected-response', (_req, res) => resolve({ refusedWith: res.statusCode }));
    ws.once('error', () => resolve({ refusedWith: 0 }));
  });
}
