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

/** A sentence for the viewer: says what happened without internals (no host, port or server text). */
export const UPSTREAM_PUBLIC_MESSAGES: Readonly<Record<UpstreamErrorCode, string>> = {
  UPSTREAM_PROTOCOL: 'The desktop sent data that is not valid RFB.',
  UPSTREAM_AUTH_FAILED: "The desktop refused the gateway's credentials.",
  UPSTREAM_REFUSED: 'The desktop refused the connection.',
  UPSTREAM_UNREACHABLE: 'The desktop cannot be reached.',
  UPSTREAM_TIMEOUT: 'The desktop did not answer in time.',
  UPSTREAM_CLOSED: 'The desktop closed the connection.',
  UPSTREAM_ABORTED: 'The stream was stopped.',
};
