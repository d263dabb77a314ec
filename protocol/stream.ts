import type { ErrorCode } from './errors.ts';
import type { SessionState } from './session.ts';

/**
 * The stream between the gateway and a viewer: msgpack messages over a WebSocket.
 * The gateway forwards RFB rectangles as they came from the desktop (never re-encoded); the viewer's
 * worker decodes them. Pixels are always R,G,B,X (the gateway asks the desktop for that format).
 */
export const STREAM_PROTOCOL_VERSION = 1;

/** WebSocket subprotocols: browsers cannot set headers on a WebSocket, so credentials travel here. */
export const STREAM_SUBPROTOCOL = `v-supercore-stream.v${STREAM_PROTOCOL_VERSION}`;
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

export type ServerStreamMessage =
  | { t: 'init'; version: number; width: number; height: number; name: string }
  | { t: 'update'; seq: number; rects: StreamRect[] }
  | { t: 'bell' }
  | { t: 'clipboard'; text: string }
  | { t: 'state'; state: SessionState }
  | { t: 'error'; code: ErrorCode; message: string };

export type ClientStreamMessage =
  /** `keysym` is an X11 keysym. */
  | { t: 'key'; keysym: number; down: boolean }
  /** `buttons` is the RFB button mask: bit 0 left, 1 middle, 2 right, 3/4 wheel up/down, 5/6 wheel left/right. */
  | { t: 'pointer'; x: number; y: number; buttons: number }
  /** The viewer has drawn every update up to and including `seq`. */
  | { t: 'ack'; seq: number }
  | { t: 'clipboard'; text: string };

/** WebSocket close codes the gateway uses (4000–4999 are application codes). */
export const StreamCloseCode = {
  Normal: 1000,
  AuthFailed: 4401,
  NotFound: 4404,
  NotStreamable: 4409,
  ProtocolError: 4400,
  UpstreamError: 4502,
  SessionEnded: 4410,
} as const;
