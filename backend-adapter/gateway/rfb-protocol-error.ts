import { RfbUpstreamError } from './upstream-error.ts';

/** The VNC server sent something that is not valid RFB, or that exceeds the gateway's limits. */
export class RfbProtocolError extends RfbUpstreamError {
  declare readonly code: 'UPSTREAM_PROTOCOL';

  constructor(message: string, options?: { cause?: unknown }) {
    super('UPSTREAM_PROTOCOL', message, options);
    this.name = 'RfbProtocolError';
  }
}
