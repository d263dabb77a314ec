import type { StreamQuality } from '../../protocol/stream.ts';

/**
 * What the gateway can do to one live viewer's stream, handed out by the bridge once the stream runs (through
 * StreamObserver.onControls). N.E.X.U.S AI remediation uses it via stream-remediation.ts.
 */
export interface ViewerControls {
  /** The negotiated stream protocol version. */
  readonly version: number;
  /** The JPEG quality and compression level this viewer's connection asks the desktop for now. */
  quality(): StreamQuality;
  /**
   * How long the stream has owed progress, in ms: since the oldest update the viewer has not acknowledged was
   * sent, or since the first full frame was asked of the desktop and has not come. 0 when nothing is owed.
   */
  stalledMs(): number;
  /**
   * Asks the desktop for `quality` on this viewer's connection (SetEncodings) and tells a v2 viewer with a
   * `quality` message. False (nothing done) when the stream has ended or is already at least that low.
   */
  lowerQuality(quality: StreamQuality, reason: string): boolean;
  /** Closes the stream with StreamCloseCode.Stalled: the viewer reconnects. False when it has ended already. */
  reconnect(reason: string): boolean;
}
