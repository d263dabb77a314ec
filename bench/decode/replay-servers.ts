import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { unpack } from 'msgpackr';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { STREAM_ACK_WINDOW } from '../../protocol/stream.ts';
import { RfbClientCounter } from '../../test/support/rfb-client-counter.ts';
import type { PreparedRecording } from './prepare-recording.ts';

/** When a replay sent its first update and when the client finished its last one (performance.now(), ms). */
export interface ReplayTiming {
  firstSentAt: number;
  lastDoneAt: number;
}

export interface ReplayServer {
  url: string;
  /** Settles when the client has finished the last update; rejects on a client error or timeout. */
  done: Promise<ReplayTiming>;
  close(): Promise<void>;
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  return data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.length);
}

async function listen(
  onConnection: (ws: WebSocket, resolve: (t: ReplayTiming) => void, reject: (e: Error) => void) => void,
  timeoutMs: number,
): Promise<ReplayServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(wss, 'listening');
  const { port } = wss.address() as AddressInfo;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = new Promise<ReplayTiming>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${timeoutMs / 1000} s`)), timeoutMs);
    let connected = false;
    wss.on('connection', (ws) => {
      if (connected) return ws.close(1013, 'one client only');
      connected = true;
      ws.on('close', () => reject(new Error('the client closed the connection before the end')));
      onConnection(ws, resolve, reject);
    });
  }).finally(() => clearTimeout(timer));
  done.catch(() => undefined);
  return {
    url: `ws://127.0.0.1:${port}/`,
    done,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/**
 * Our side: the gateway's messages for the recording, under the gateway's flow control — the next
 * update goes out as soon as fewer than STREAM_ACK_WINDOW updates are unacknowledged (as if the VNC
 * server answered every request instantly). Done when the last update is acknowledged, i.e. drawn.
 */
export function startOursServer(rec: PreparedRecording, timeoutMs: number): Promise<ReplayServer> {
  return listen((ws, resolve, reject) => {
    let next = 0;
    let sentSeq = 0;
    let ackedSeq = 0;
    let firstSentAt = 0;
    const pump = (): void => {
      while (next < rec.messages.length) {
        const message = rec.messages[next] as PreparedRecording['messages'][number];
        if (message.update && sentSeq - ackedSeq >= STREAM_ACK_WINDOW) return;
        if (message.update) {
          if (sentSeq === 0) firstSentAt = performance.now();
          sentSeq++;
        }
        ws.send(message.data, { binary: true });
        next++;
      }
    };
    ws.on('message', (data) => {
      let message: unknown;
      try {
        message = unpack(toBytes(data));
      } catch {
        return reject(new Error('unreadable message from the worker'));
      }
      const { t, seq } = message as { t?: unknown; seq?: unknown };
      if (t !== 'ack' || typeof seq !== 'number') return;
      if (seq > ackedSeq) ackedSeq = seq;
      if (ackedSeq === rec.updates) return resolve({ firstSentAt, lastDoneAt: performance.now() });
      pump();
    });
    ws.send(rec.init, { binary: true });
    pump();
  }, timeoutMs);
}

/**
 * The handshake's server steps as a real server sends them, each only after the client's answer to
 * the previous one (noVNC, like the recorder, handles one step per arrival): ProtocolVersion (12),
 * security types (1 + n), SecurityResult (4), ServerInit (the rest). `after` is how many bytes the
 * client must have sent before the step: its ProtocolVersion (12), security type (1), ClientInit (1).
 */
function handshakeSteps(
  stream: Uint8Array,
  handshakeBytes: number,
): Array<{ after: number; bytes: Uint8Array }> {
  const types = stream[12] ?? 0;
  const cuts = [0, 12, 13 + types, 17 + types, handshakeBytes];
  return [0, 12, 13, 14].map((after, i) => ({
    after,
    bytes: stream.subarray(cuts[i] as number, cuts[i + 1] as number),
  }));
}

/**
 * noVNC's side: the recording's raw bytes. The handshake step by step; once noVNC has asked for its
 * first update (after ServerInit), all the rest at once, as fast as the socket takes it — noVNC never
 * waits for a server. What noVNC sends is otherwise ignored (its SetPixelFormat is the recording's),
 * but its FramebufferUpdateRequests are counted: noVNC sends the next one as soon as it has processed
 * an update, so the last update is done when request number updates + 1 arrives.
 */
export function startNovncServer(rec: PreparedRecording, timeoutMs: number): Promise<ReplayServer> {
  return listen((ws, resolve, reject) => {
    const counter = new RfbClientCounter();
    const steps = handshakeSteps(rec.stream, rec.meta.handshakeBytes);
    let step = 0;
    let received = 0;
    let firstSentAt = 0;
    const sendSteps = (): void => {
      while (step < steps.length && received >= (steps[step]?.after ?? Infinity)) {
        ws.send((steps[step] as { bytes: Uint8Array }).bytes, { binary: true });
        step++;
      }
    };
    ws.on('message', (data) => {
      const bytes = toBytes(data);
      received += bytes.length;
      const before = counter.requests;
      try {
        counter.push(bytes);
      } catch (error) {
        return reject(error instanceof Error ? error : new Error(String(error)));
      }
      sendSteps();
      if (before === 0 && counter.requests >= 1) {
        firstSentAt = performance.now();
        const from = rec.meta.handshakeBytes;
        for (let at = from; at < rec.stream.length; at += 65536) {
          ws.send(rec.stream.subarray(at, Math.min(at + 65536, rec.stream.length)), { binary: true });
        }
      }
      if (counter.requests >= rec.updates + 1) resolve({ firstSentAt, lastDoneAt: performance.now() });
    });
    sendSteps();
  }, timeoutMs);
}
