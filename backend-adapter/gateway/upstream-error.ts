/**
 * Why a connection to a session's VNC server failed or ended. Stable codes: callers switch on them,
 * the message is for logs (it never contains the password).
 */
export type UpstreamErrorCode =
  /** The server sent bytes that are not valid RFB (or exceed our limits). */
  | 'UPSTREAM_PROTOCOL'
  /** VNC Authentication failed, or the server wants a password we do not have. */
  | 'UPSTREAM_AUTH_FAILED'
  /** The server refused the connection before authentication (RFB "connection failed" with a reason). */
  | 'UPSTREAM_REFUSED'
  /** The TCP connection could not be established. */
  | 'UPSTREAM_UNREACHABLE'
  /** Connecting plus the handshake took longer than allowed. */
  | 'UPSTREAM_TIMEOUT'
  /** The connection ended (closed or reset by the server) before or outside a clean shutdown. */
  | 'UPSTREAM_CLOSED'
  /** The caller aborted the connection attempt. */
  | 'UPSTREAM_ABORTED';

export class RfbUpstreamError extends Error {
  readonly code: UpstreamErrorCode;

  constructor(code: UpstreamErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RfbUpstreamError';
    this.code = code;
  }
}
