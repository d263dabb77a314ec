/**
 * Thrown by every decoder when a rectangle's payload is malformed. The stream is unusable after one
 * (ZRLE's zlib state, for one, is shared by the whole connection), so the worker closes the socket.
 */
export class DecodeError extends Error {
  readonly code = 'DECODE_ERROR' as const;

  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}
