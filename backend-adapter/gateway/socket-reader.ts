import type { Socket } from 'node:net';
import { RfbUpstreamError } from './upstream-error.ts';

/** Above this many buffered bytes the socket is paused until someone reads (back-pressure on the server). */
const PAUSE_ABOVE_BYTES = 64 * 1024;

/**
 * Exact-length reads from a socket, for the handshake's request/response steps. `release()` hands the
 * bytes that arrived after the last read to whoever takes the socket over.
 */
export class SocketReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private pending: { n: number; resolve: (bytes: Uint8Array) => void; reject: (err: Error) => void } | null =
    null;
  private ended: RfbUpstreamError | null = null;

  private readonly onData = (chunk: Buffer): void => {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.settle();
    if (this.buffered > PAUSE_ABOVE_BYTES) this.socket.pause();
  };

  private readonly onClose = (): void => {
    this.ended ??= new RfbUpstreamError(
      'UPSTREAM_CLOSED',
      'the VNC server closed the connection during the handshake',
    );
    this.settle();
  };

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.on('close', this.onClose);
    socket.on('end', this.onClose);
  }

  /** Resolves with exactly `n` bytes; rejects with UPSTREAM_CLOSED if the connection ends first. */
  read(n: number): Promise<Uint8Array> {
    if (this.pending) return Promise.reject(new Error('SocketReader: one read at a time'));
    return new Promise((resolve, reject) => {
      this.pending = { n, resolve, reject };
      this.settle();
      if (this.pending) this.socket.resume();
    });
  }

  /** Stops reading; returns the bytes received but not read. */
  release(): Uint8Array {
    this.socket.off('data', this.onData);
    this.socket.off('close', this.onClose);
    this.socket.off('end', this.onClose);
    const rest = this.take(this.buffered);
    this.pending?.reject(new Error('SocketReader released'));
    this.pending = null;
    return rest;
  }

  private settle(): void {
    const pending = this.pending;
    if (!pending) return;
    if (this.buffered >= pending.n) {
      this.pending = null;
      pending.resolve(this.take(pending.n));
    } else if (this.ended) {
      this.pending = null;
      pending.reject(this.ended);
    }
  }

  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const head = this.chunks[0] as Uint8Array;
      const part = Math.min(head.length, n - at);
      out.set(head.subarray(0, part), at);
      at += part;
      if (part === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(part);
    }
    this.buffered -= n;
    return out;
  }
}
