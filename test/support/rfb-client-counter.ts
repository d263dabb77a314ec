/**
 * Follows the client-to-server half of an RFB 3.8 connection with security type None (what a viewer
 * such as noVNC sends to the recordings' replay) and counts its FramebufferUpdateRequests: a viewer
 * that keeps one request outstanding sends the next one as soon as it has processed an update, so
 * the count says how many updates it has finished. No Node APIs: used in Node and in the browser.
 */
export class RfbClientCounter {
  /** FramebufferUpdateRequests seen so far (the first one is sent right after the handshake). */
  requests = 0;
  private buf = new Uint8Array(0);
  /** ProtocolVersion (12), selected security type (1), ClientInit (1). */
  private handshakeLeft = 14;

  push(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    let pos = Math.min(this.handshakeLeft, joined.length);
    this.handshakeLeft -= pos;
    for (;;) {
      const size = this.handshakeLeft > 0 ? -1 : messageSize(joined, pos);
      if (size < 0 || pos + size > joined.length) break;
      if (joined[pos] === 3) this.requests++;
      pos += size;
    }
    this.buf = joined.slice(pos);
  }
}

/** Size of the client message at `d[p]`, or -1 while that is not known yet. */
function messageSize(d: Uint8Array, p: number): number {
  const avail = d.length - p;
  if (avail < 1) return -1;
  const u16 = (o: number): number => ((d[p + o] as number) << 8) | (d[p + o + 1] as number);
  const u32 = (o: number): number => u16(o) * 0x10000 + u16(o + 2);
  switch (d[p]) {
    case 0: // SetPixelFormat
      return 20;
    case 2: // SetEncodings
      return avail < 4 ? -1 : 4 + 4 * u16(2);
    case 3: // FramebufferUpdateRequest
      return 10;
    case 4: // KeyEvent
      return 8;
    case 5: // PointerEvent
      return 6;
    case 6: {
      // ClientCutText (a negative length is the extended-clipboard form: its absolute value)
      if (avail < 8) return -1;
      const length = u32(4);
      return 8 + (length > 0x7fffffff ? 0x100000000 - length : length);
    }
    case 150: // EnableContinuousUpdates
      return 10;
    case 248: // Fence
      return avail < 9 ? -1 : 9 + (d[p + 8] as number);
    case 250: // xvp
      return 4;
    case 251: // SetDesktopSize
      return avail < 8 ? -1 : 8 + 16 * (d[p + 6] as number);
    case 255: // QEMU extended key event
      return 12;
    default:
      throw new Error(`unknown RFB client message type ${d[p]}`);
  }
}
