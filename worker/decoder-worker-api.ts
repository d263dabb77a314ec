import type { ClientStreamMessage, RtcSignal } from '../protocol/stream.ts';
import type { WorkspaceRole } from '../protocol/workspace-constants.ts';

/** What the decoder worker tells the viewer (through a Comlink-proxied callback). */
export type ViewerEvent =
  | { type: 'connected'; width: number; height: number; name: string }
  | { type: 'resize'; width: number; height: number }
  | { type: 'frame'; seq: number; rects: number; decodeMs: number }
  | { type: 'bell' }
  | { type: 'clipboard'; text: string }
  /**
   * The desktop's pointer shape changed (Cursor pseudo-encoding): show it locally. RGBA, row-major;
   * 0×0 means no visible pointer.
   */
  | { type: 'cursor'; width: number; height: number; hotX: number; hotY: number; rgba: Uint8ClampedArray }
  /** The desktop's name changed (DesktopName pseudo-encoding). */
  | { type: 'desktopName'; name: string }
  | { type: 'error'; code: string; message: string }
  /** Watching through a workspace: the role, and whether the gateway passes this viewer's input on. */
  | { type: 'access'; role: WorkspaceRole; input: boolean }
  /** WebRTC signalling from the gateway, for the page's peer connection (module/viewer/webrtc-link.ts). */
  | { type: 'rtc'; signal: RtcSignal }
  /** The stream now runs on the DataChannel the page attached. */
  | { type: 'transport'; via: 'datachannel' }
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
  /** Last latency probe's round trip (viewer → gateway → viewer); null before one came back or on protocol v1. */
  rttMs: number | null;
  /** The negotiated stream protocol version (0 before the WebSocket opened). */
  version: number;
  /** What carries the stream now. */
  transport: 'websocket' | 'datachannel';
  /**
   * When the last update was drawn into the canvas, as performance.timeOrigin + performance.now() (ms, the
   * same clock in page and worker): what input-to-photon measurements compare the key press with.
   */
  lastDrawnAt?: number;
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
  /**
   * Takes the stream's WebRTC DataChannel (transferred: the page's peer connection created it, the
   * worker reads and writes it). The stream moves to it when the gateway says `transport`.
   */
  attachDataChannel(channel: RTCDataChannel): void;
  disconnect(): void;
  stats(): StreamStats;
}

/** The decoded picture, RGBA row-major (alpha 255). */
export interface FrameSnapshot {
  width: number;
  height: number;
  rgba: Uint8ClampedArray<ArrayBuffer>;
}

/**
 * What the worker exposes besides DecoderWorkerApi, for tests and benchmarks that compare pictures
 * (wrap the worker as `DecoderWorkerApi & DecoderWorkerSnapshotApi`).
 */
export interface DecoderWorkerSnapshotApi {
  /** A copy of the framebuffer once every message received so far has been applied (transferred). */
  snapshot(): Promise<FrameSnapshot>;
}
