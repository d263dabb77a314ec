import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { Encoding } from '../../protocol/rfb-encodings.ts';
import {
  encodeClientCutText,
  encodeFramebufferUpdateRequest,
  encodeKeyEvent,
  encodePointerEvent,
  encodeSetEncodings,
  encodeSetDesktopSize,
  encodeSetPixelFormat,
  type RfbScreen,
} from './rfb-client-messages.ts';
import { performRfbHandshake, type RfbServerInit } from './rfb-handshake.ts';
import { RfbMessageParser, type RfbServerMessage } from './rfb-message-parser.ts';
import { RfbProtocolError } from './rfb-protocol-error.ts';
import { SocketReader } from './socket-reader.ts';
import { RfbUpstreamError } from './upstream-error.ts';

/** What the browser's decoders handle, in preference order, plus the pseudo-encodings the parser honours. */
export const DEFAULT_ENCODINGS: readonly number[] = [
  Encoding.Tight,
  // Only for servers without Tight (libvncserver, QEMU offer it; TigerVNC does not): fill/JPEG/PNG, no zlib state.
  Encoding.TightPNG,
  Encoding.ZRLE,
  Encoding.Hextile,
  Encoding.CopyRect,
  Encoding.Raw,
  Encoding.Cursor,
  Encoding.DesktopSize,
  Encoding.LastRect,
  Encoding.DesktopName,
  Encoding.ExtendedDesktopSize, // the screen layout, needed to ask for another size (SetDesktopSize)
  -32 + 8, // JPEG quality level 8 (pseudo-encodings -32…-23 = levels 0…9): Tight may send JPEG
  -256 + 2, // compression level 2 (-256…-247 = levels 0…9): TigerVNC's default, cheap for the server
];

/** DEFAULT_ENCODINGS with another JPEG quality and compression level (each 0…9). */
export function encodingsWithQuality(jpeg: number, compression: number): number[] {
  const levels = DEFAULT_ENCODINGS.filter((e) => !(e >= -32 && e <= -23) && !(e >= -256 && e <= -247));
  return [...levels, -32 + jpeg, -256 + compression];
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface RfbConnectionOptions {
  host: string;
  port: number;
  /** For VNC Authentication; without it only security type None is possible. */
  password?: string | undefined;
  /** Limit for the TCP connection plus the whole handshake. */
  connectTimeoutMs?: number;
  encodings?: readonly number[];
  maxMessageBytes?: number;
  /** Aborting closes the connection (or fails connect() with UPSTREAM_ABORTED). */
  signal?: AbortSignal | undefined;
}

export type RfbConnectionEvents = {
  /** A parsed server message. */
  message: [message: RfbServerMessage];
  /**
   * Emitted once when an established connection ends: `error` is undefined when the server closed the
   * connection cleanly or close() was called, set when it broke (protocol error, reset).
   */
  closed: [error: RfbUpstreamError | undefined];
};

type State = 'idle' | 'connecting' | 'open' | 'closed';

/**
 * One RFB client connection to a VNC server. Attach listeners, then `await connect()`:
 * messages flow only after that, and never before listeners can see them.
 */
export class RfbConnection extends EventEmitter<RfbConnectionEvents> {
  private state: State = 'idle';
  private socket: Socket | null = null;
  private parser: RfbMessageParser | null = null;
  private init: RfbServerInit | null = null;
  private readonly options: RfbConnectionOptions;

  private readingPaused = false;
  private cancelConnect: ((err: RfbUpstreamError) => void) | null = null;
  private readonly onAbort = (): void => this.finish(undefined);

  constructor(options: RfbConnectionOptions) {
    super();
    this.options = options;
  }

  get serverInit(): RfbServerInit {
    if (!this.init) throw new Error('RfbConnection: not connected');
    return this.init;
  }

  /** Current framebuffer size (follows DesktopSize); 0 before connect(). */
  get width(): number {
    return this.parser?.width ?? 0;
  }

  get height(): number {
    return this.parser?.height ?? 0;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * Connects, authenticates, sets the pixel format and encodings. Rejects with RfbUpstreamError:
   * UPSTREAM_UNREACHABLE, _TIMEOUT, _ABORTED, _AUTH_FAILED, _REFUSED, _PROTOCOL or _CLOSED.
   */
  async connect(): Promise<RfbServerInit> {
    if (this.state !== 'idle') throw new Error('RfbConnection: connect() may be called once');
    this.state = 'connecting';
    const { host, port, signal } = this.options;
    const socket = createConnection({ host, port });
    this.socket = socket;
    socket.setNoDelay(true); // input events are tiny and latency-bound
    socket.on('error', (err) => this.onSocketError(err));
    socket.on('close', () => {
      if (this.state === 'open') this.finish(undefined);
    });
    const reader = new SocketReader(socket);

    let cancel: (err: RfbUpstreamError) => void = () => {};
    const cancelled = new Promise<never>((_, reject) => {
      cancel = reject;
    });
    this.cancelConnect = (err) => cancel(err);
    const timeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const timer = setTimeout(
      () =>
        cancel(
          new RfbUpstreamError(
            'UPSTREAM_TIMEOUT',
            `no RFB session with the VNC server after ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    const onAbortConnect = (): void => cancel(new RfbUpstreamError('UPSTREAM_ABORTED', 'connection aborted'));
    if (signal?.aborted) onAbortConnect();
    else signal?.addEventListener('abort', onAbortConnect, { once: true });

    try {
      await Promise.race([
        new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('error', (err) =>
            reject(
              new RfbUpstreamError(
                'UPSTREAM_UNREACHABLE',
                `cannot connect to the VNC server: ${err.message}`,
              ),
            ),
          );
        }),
        cancelled,
      ]);
      const io = {
        read: (n: number) => reader.read(n),
        write: (bytes: Uint8Array) => void socket.write(bytes),
      };
      const init = await Promise.race([
        performRfbHandshake(io, { password: this.options.password }),
        cancelled,
      ]);

      this.init = init;
      this.parser = new RfbMessageParser({
        width: init.width,
        height: init.height,
        ...(this.options.maxMessageBytes === undefined
          ? {}
          : { maxMessageBytes: this.options.maxMessageBytes }),
      });
      socket.write(encodeSetPixelFormat());
      socket.write(encodeSetEncodings(this.options.encodings ?? DEFAULT_ENCODINGS));
      socket.pause();
      const rest = reader.release();
      this.state = 'open';
      signal?.addEventListener('abort', this.onAbort, { once: true });
      // Start delivering after the caller's code following `await connect()` has run (it may send
      // something first); the socket stays paused until then so nothing overtakes `rest`.
      setImmediate(() => {
        if (rest.length > 0) this.onData(rest);
        if (this.state !== 'open') return;
        socket.on('data', (chunk: Buffer) => this.onData(chunk));
        if (!this.readingPaused) socket.resume();
      });
      return init;
    } catch (err) {
      this.state = 'closed';
      reader.release();
      socket.destroy();
      throw err instanceof RfbUpstreamError
        ? err
        : new RfbUpstreamError('UPSTREAM_PROTOCOL', 'RFB handshake failed', { cause: err });
    } finally {
      this.cancelConnect = null;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbortConnect);
    }
  }

  /** Asks for the whole current screen; `incremental` = only what changed since the last update. */
  requestUpdate(incremental: boolean): void {
    if (this.parser)
      this.send(encodeFramebufferUpdateRequest(incremental, 0, 0, this.parser.width, this.parser.height));
  }

  sendKey(keysym: number, down: boolean): void {
    this.send(encodeKeyEvent(keysym, down));
  }

  /** Coordinates must lie inside the framebuffer (RangeError otherwise; the caller clamps). */
  sendPointer(x: number, y: number, buttons: number): void {
    this.send(encodePointerEvent(x, y, buttons));
  }

  sendClipboard(text: string): void {
    this.send(encodeClientCutText(text));
  }

  /** SetEncodings again (e.g. another JPEG quality): takes effect from the server's next update. */
  setEncodings(encodings: readonly number[]): void {
    this.send(encodeSetEncodings(encodings));
  }

  /** SetDesktopSize: asks the server for another framebuffer size; the answer is an ExtendedDesktopSize rect. */
  setDesktopSize(width: number, height: number, screens: readonly RfbScreen[]): void {
    this.send(encodeSetDesktopSize(width, height, screens));
  }

  /**
   * Stops reading from the server (TCP back-pressure) until resumeReading(): for when the messages
   * cannot be passed on as fast as they come.
   */
  pauseReading(): void {
    this.readingPaused = true;
    if (this.state === 'open') this.socket?.pause();
  }

  resumeReading(): void {
    if (!this.readingPaused) return;
    this.readingPaused = false;
    if (this.state === 'open') this.socket?.resume();
  }

  /**
   * Closes the connection; emits 'closed' (without error) if it was open, makes a running connect()
   * reject with UPSTREAM_ABORTED. Safe to call repeatedly.
   */
  close(): void {
    this.finish(undefined);
  }

  private send(bytes: Uint8Array): void {
    // Input racing with the end of the connection is dropped, not an error.
    if (this.state === 'open' && this.socket?.writable) this.socket.write(bytes);
  }

  private onData(chunk: Uint8Array): void {
    if (this.state !== 'open' || !this.parser) return;
    let messages: RfbServerMessage[];
    try {
      messages = this.parser.push(chunk);
    } catch (err) {
      this.finish(
        err instanceof RfbProtocolError ? err : new RfbProtocolError('RFB parser failed', { cause: err }),
      );
      return;
    }
    for (const message of messages) {
      if (this.state !== 'open') return; // a listener closed us
      this.emit('message', message);
    }
  }

  private onSocketError(err: Error): void {
    // Before 'open', connect() turns socket errors into its rejection.
    if (this.state === 'open') {
      this.finish(
        new RfbUpstreamError('UPSTREAM_CLOSED', `VNC connection failed: ${err.message}`, { cause: err }),
      );
    }
  }

  private finish(error: RfbUpstreamError | undefined): void {
    const wasOpen = this.state === 'open';
    if (this.state === 'closed') return;
    if (this.state === 'connecting') {
      this.cancelConnect?.(new RfbUpstreamError('UPSTREAM_ABORTED', 'connection closed while connecting'));
      return;
    }
    this.state = 'closed';
    this.socket?.destroy();
    this.options.signal?.removeEventListener('abort', this.onAbort);
    if (wasOpen) this.emit('closed', error);
  }
}
