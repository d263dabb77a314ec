import type { ClientStreamMessage } from '../protocol/stream.ts';

/** What the decoder worker tells the viewer (through a Comlink-proxied callback). */
export type ViewerEvent =
  | { type: 'connected'; width: number; height: number; name: string }
  | { type: 'resize'; width: number; height: number }
  | { type: 'frame'; seq: number; rects: number; decodeMs: number }
  | { type: 'bell' }
  | { type: 'clipboard'; text: string }
  | { type: 'error'; code: string; message: string }
  | { type: 'closed'; code: number; reason: string };

export interface StreamConnectOptions {
  /** ws:// or wss:// URL of `/api/v1/sessions/:id/stream`. */
  url: string;
  /** WebSocket subprotocols, credentials included (see protocol/stream.ts). */
  protocols: string[];
}

export interface StreamStats {
  updates: number;
  rects: number;
  bytes: number;
  decodeMs: number;
}

/**
 * The decoder worker's interface, exposed with Comlink. The worker owns the WebSocket, decodes every
 * rectangle and draws into the OffscreenCanvas the viewer transferred, so the page's main thread never
 * touches stream bytes.
 */
export interface DecoderWorkerApi {
  /** Takes ownership of the viewer's canvas (transferred). */
  attach(canvas: OffscreenCanvas): void;
  connect(options: StreamConnectOptions, onEvent: (event: ViewerEvent) => void): void;
  /** Input and clipboard from the page, forwarded to the gateway. */
  send(message: ClientStreamMessage): void;
  disconnect(): void;
  stats(): StreamStats;
}
