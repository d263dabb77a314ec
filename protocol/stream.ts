import type { ErrorCode } from './errors.ts';
import type { SessionState } from './session.ts';
import type { WorkspaceRole } from './workspace-constants.ts';

/**
 * The stream between the gateway and a viewer: msgpack messages over a WebSocket.
 * The gateway forwards RFB rectangles as they came from the desktop (never re-encoded); the viewer's
 * worker decodes them. Pixels are always R,G,B,X (the gateway asks the desktop for that format).
 */
export const STREAM_PROTOCOL_VERSION = 2;
/** The oldest version a gateway of this release still speaks (modules of an older release offer only it). */
export const STREAM_PROTOCOL_MIN_VERSION = 1;

/** The WebSocket subprotocol naming stream version `version`. */
export function streamSubprotocol(version: number): string {
  return `v-supercore-stream.v${version}`;
}

/**
 * WebSocket subprotocols: browsers cannot set headers on a WebSocket, so credentials travel here.
 * Version negotiation: the viewer offers every version it speaks (newest first); the gateway picks the
 * highest it also speaks and echoes it (Sec-WebSocket-Protocol). Either end then only sends messages of
 * that version. An older module offers only `.v1` and keeps working against a newer gateway.
 */
export const STREAM_SUBPROTOCOL = streamSubprotocol(STREAM_PROTOCOL_VERSION);

/** Every stream subprotocol this release speaks, newest first. */
export const STREAM_SUBPROTOCOLS: readonly string[] = Array.from(
  { length: STREAM_PROTOCOL_VERSION - STREAM_PROTOCOL_MIN_VERSION + 1 },
  (_, i) => streamSubprotocol(STREAM_PROTOCOL_VERSION - i),
);

/** The highest version offered that this release speaks, or null (also for unknown newer versions alone). */
export function negotiateStreamVersion(offered: Iterable<string>): number | null {
  let best: number | null = null;
  for (const protocol of offered) {
    const match = /^v-supercore-stream\.v(\d{1,4})$/.exec(protocol);
    if (!match) continue;
    const version = Number(match[1]);
    if (version < STREAM_PROTOCOL_MIN_VERSION || version > STREAM_PROTOCOL_VERSION) continue;
    if (best === null || version > best) best = version;
  }
  return best;
}

/** The version a WebSocket's negotiated subprotocol names (1 when it names none). */
export function streamVersionOf(protocol: string): number {
  return negotiateStreamVersion([protocol]) ?? STREAM_PROTOCOL_MIN_VERSION;
}
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';
export const HANDSHAKE_SUBPROTOCOL = 'n3xus-handshake.55-45-17';

/** How many updates the gateway lets run ahead of what the viewer has acknowledged as drawn. */
export const STREAM_ACK_WINDOW = 2;

export interface StreamRect {
  x: number;
  y: number;
  w: number;
  h: number;
  /** RFB encoding number (see rfb-encodings.ts); pseudo-encodings included except LastRect. */
  encoding: number;
  /** The rectangle's payload exactly as the desktop sent it, after the 12-byte rectangle header. */
  data: Uint8Array;
}

/** JPEG quality (0 worst … 9 best) and zlib compression level (0 none … 9 most) the desktop should use. */
export interface StreamQuality {
  jpeg: number;
  compression: number;
}

export const DEFAULT_STREAM_QUALITY: StreamQuality = { jpeg: 8, compression: 2 };

/** How often each end sends a latency probe, and how long a probe may stay unanswered before the link is dead. */
export const STREAM_PROBE_INTERVAL_MS = 2000;
export const STREAM_PROBE_TIMEOUT_MS = 10_000;
/** The gateway passes at most one remote resize per this interval to the desktop (the last one wins). */
export const STREAM_RESIZE_INTERVAL_MS = 500;

/**
 * WebRTC signalling (v2), carried over the stream's WebSocket. The viewer offers; the gateway answers.
 * `candidate` is an ICE candidate line (empty = end of candidates).
 */
export type RtcSignal =
  | { kind: 'offer'; sdp: string }
  | { kind: 'answer'; sdp: string }
  | { kind: 'candidate'; candidate: string; sdpMid: string | null }
  | { kind: 'refused'; reason: string };

/** Which transport a viewer uses: `auto` tries WebRTC and stays on the WebSocket if it cannot connect. */
export type StreamTransportPreference = 'auto' | 'websocket' | 'webrtc';

/** The label of the stream's DataChannel (ordered, reliable; created by the viewer before its offer). */
export const STREAM_DATACHANNEL_LABEL = 'v-supercore-stream';

/**
 * How long the viewer waits for WebRTC to connect (ICE + DTLS + SCTP) before it gives up and closes its
 * peer; the stream runs on the WebSocket meanwhile, so giving up changes nothing the user sees.
 */
export const STREAM_RTC_CONNECT_TIMEOUT_MS = 3000;

/** Messages of version 1 (every gateway and module). */
export type ServerStreamMessageV1 =
  | { t: 'init'; version: number; width: number; height: number; name: string }
  | { t: 'update'; seq: number; rects: StreamRect[] }
  | { t: 'bell' }
  | { t: 'clipboard'; text: string }
  | { t: 'state'; state: SessionState }
  | { t: 'error'; code: ErrorCode; message: string };

/**
 * Version 2 adds: latency probes both ways (`ping` is answered with a `pong` of the same id at once),
 * the gateway's view of the link (`stats`, after each probe it measured), WebRTC signalling (`rtc`), and
 * `transport`: the last message on the WebSocket before the stream continues on the DataChannel.
 */
export type ServerStreamMessage =
  | ServerStreamMessageV1
  | { t: 'ping'; id: number }
  | { t: 'pong'; id: number }
  | { t: 'stats'; rttMs: number }
  | { t: 'rtc'; signal: RtcSignal }
  | { t: 'transport'; via: 'datachannel' }
  /**
   * A viewer watching through a collaborative workspace: its role and whether the gateway passes its input on,
   * sent after `init` and on every change (control granted or taken back). Owners' streams never get it.
   */
  | { t: 'access'; role: WorkspaceRole; input: boolean }
  /**
   * The gateway lowered this viewer's image quality itself (N.E.X.U.S AI remediation: the stream's latency or
   * frame rate is anomalous) and says to what and why; the viewer may show it. Older viewers ignore it.
   */
  | { t: 'quality'; jpeg: number; compression: number; reason: string };

export type ClientStreamMessage =
  /** `keysym` is an X11 keysym. */
  | { t: 'key'; keysym: number; down: boolean }
  /** `buttons` is the RFB button mask: bit 0 left, 1 middle, 2 right, 3/4 wheel up/down, 5/6 wheel left/right. */
  | { t: 'pointer'; x: number; y: number; buttons: number }
  /** The viewer has drawn every update up to and including `seq`. */
  | { t: 'ack'; seq: number }
  | { t: 'clipboard'; text: string }
  // Version 2:
  | { t: 'ping'; id: number }
  | { t: 'pong'; id: number }
  /** Re-sends SetEncodings to the desktop with this JPEG quality and compression level (each 0…9). */
  | { t: 'quality'; jpeg: number; compression: number }
  /** Asks the desktop to change its size (SetDesktopSize; rate-limited by the gateway). */
  | { t: 'resize'; width: number; height: number }
  | { t: 'rtc'; signal: RtcSignal };

/** The version that introduced each client message type; the gateway refuses a type above the negotiated one. */
export const CLIENT_MESSAGE_VERSION: Readonly<Record<ClientStreamMessage['t'], number>> = {
  key: 1,
  pointer: 1,
  ack: 1,
  clipboard: 1,
  ping: 2,
  pong: 2,
  quality: 2,
  resize: 2,
  rtc: 2,
};

/** WebSocket close codes the gateway uses (4000–4999 are application codes). */
export const StreamCloseCode = {
  Normal: 1000,
  AuthFailed: 4401,
  NotFound: 4404,
  NotStreamable: 4409,
  ProtocolError: 4400,
  UpstreamError: 4502,
  SessionEnded: 4410,
  /** The viewer left or was removed from the workspace that let them watch (or it was closed). */
  Removed: 4403,
  /**
   * The stream stalled (no frame or acknowledgement while the desktop runs): the gateway closes it so the
   * viewer reconnects (every release's viewer retries 4408, which it also uses for a gateway gone silent).
   */
  Stalled: 4408,
  /**
   * The DataChannel the stream had switched to died: what was in flight on it is lost, so the stream
   * cannot continue (a decoder's zlib state would be wrong). The viewer reconnects to the same session.
   */
  TransportLost: 4503,
} as const;
