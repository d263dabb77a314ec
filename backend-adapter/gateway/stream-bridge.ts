import { pack, unpack } from 'msgpackr';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { ERRORS, type ErrorCode } from '../../protocol/errors.ts';
import { Encoding } from '../../protocol/rfb-encodings.ts';
import {
  STREAM_ACK_WINDOW,
  STREAM_PROBE_INTERVAL_MS,
  STREAM_PROBE_TIMEOUT_MS,
  STREAM_PROTOCOL_MIN_VERSION,
  STREAM_RESIZE_INTERVAL_MS,
  DEFAULT_STREAM_QUALITY,
  StreamCloseCode,
  streamVersionOf,
  type RtcSignal,
  type ServerStreamMessage,
  type StreamRect,
} from '../../protocol/stream.ts';
import type { WorkspaceRole } from '../../protocol/workspace-constants.ts';
import { parseExtendedDesktopSize, type RfbScreen } from './rfb-client-messages.ts';
import { RfbConnection, encodingsWithQuality } from './rfb-connection.ts';
import type { RfbServerMessage } from './rfb-message-parser.ts';
import { parseClientStreamMessage } from './stream-client-message.ts';
import { RfbUpstreamError } from './upstream-error.ts';
import { webSocketTransport, type StreamTransport } from './stream-transport.ts';
import type { WebRtcConfig } from './webrtc-config.ts';
import { WebRtcPeer } from './webrtc-transport.ts';
import type { ViewerControls } from './viewer-controls.ts';

export interface StreamTarget {
  host: string;
  port: number;
  password?: string | undefined;
}

/** What the rest of the adapter learns from a stream: activity for idle timeouts, traffic for metrics. */
export interface StreamObserver {
  /** The viewer sent keyboard, pointer or clipboard input. */
  onInput?(): void;
  /** An update of `bytes` (msgpack) was sent towards the viewer. */
  onUpdateSent?(bytes: number): void;
  /** The viewer acknowledged having drawn `count` more updates. */
  onUpdatesDrawn?(count: number): void;
  /** Bytes received from the viewer. */
  onViewerBytes?(bytes: number): void;
  /** A latency probe came back after `ms` (round trip gateway → viewer → gateway, protocol v2). */
  onRtt?(ms: number): void;
  /** The stream moved to another transport (it starts on the WebSocket). */
  onTransport?(via: StreamTransport['via']): void;
  /** The stream runs: what remediation may do to it (inert once the stream has ended). */
  onControls?(controls: ViewerControls): void;
}

export interface BridgeStreamOptions {
  logger: Logger;
  /** Aborting ends the stream: the VNC connection is closed and the WebSocket closed with 1000. */
  signal?: AbortSignal | undefined;
  observer?: StreamObserver | undefined;
  /**
   * The stream protocol version negotiated for this WebSocket; by default read from the socket's
   * subprotocol (`v-supercore-stream.vN`), 1 when it has none.
   */
  version?: number | undefined;
  /**
   * Asked on every key, pointer, clipboard and resize message: when it answers false the message is
   * dropped here and never reaches the VNC server (a workspace observer, or a participant without
   * control). Absent: the viewer may always send input.
   */
  canSendInput?: (() => boolean) | undefined;
  /** The WebRTC DataChannel transport; absent or disabled: a viewer's rtc offer is refused. */
  webrtc?: WebRtcConfig | undefined;
  /** The largest viewer message accepted on a DataChannel (the WebSocket's own bound applies there). */
  maxViewerMessageBytes?: number | undefined;
  /**
   * A workspace viewer's role and input permission (protocol v2): sent after `init` and again on every change,
   * so the page shows view-only exactly while its input is dropped here.
   */
  access?: StreamAccessSource | undefined;
}

/** Where the bridge reads a workspace viewer's access from (WorkspaceViewers' handle). */
export interface StreamAccessSource {
  role(): WorkspaceRole;
  canSendInput(): boolean;
  onChange(listener: (access: { role: WorkspaceRole; input: boolean }) => void): void;
}

/**
 * An abort reason that names the close code and reason the viewer gets (e.g. removal from a workspace);
 * any other reason closes with 1000.
 */
export class StreamClosure {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {}
}

/**
 * No new update is requested while more than this is queued on the WebSocket, whatever the acks say:
 * a viewer that acknowledges without reading cannot make the gateway's memory grow.
 */
export const STREAM_BUFFERED_HIGH_WATER = 2 * 1024 * 1024;

/** Default bound on one viewer message arriving on a DataChannel (as the adapter's WebSocket maxPayload). */
const DEFAULT_MAX_VIEWER_MESSAGE_BYTES = 1024 * 1024;

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * Bridges one viewer's WebSocket to its own RFB connection to the session's VNC server, until either
 * side ends. Resolves when both are closed; never rejects (failures are logged and reported to the viewer).
 *
 * Flow control: the next FramebufferUpdateRequest goes to the VNC server only while fewer than
 * STREAM_ACK_WINDOW updates are unacknowledged and the WebSocket's send queue is short, so a slow
 * viewer slows the desktop's updates instead of growing a queue.
 */
export async function bridgeStream(
  socket: WebSocket,
  target: StreamTarget,
  options: BridgeStreamOptions,
): Promise<void> {
  const bridge = new StreamBridge(socket, target, options);
  try {
    await bridge.run();
  } catch (err) {
    bridge.crash(err);
    await bridge.done;
  }
}

class StreamBridge {
  readonly done: Promise<void>;
  private resolveDone: () => void = () => {};
  private readonly log: Logger;
  private readonly rfb: RfbConnection;
  private finished = false;
  /** Last update sent to the viewer, and the highest the viewer acknowledged. */
  private seqSent = 0;
  private seqAcked = 0;
  /** A FramebufferUpdateRequest is at the server and not yet answered. */
  private requestOutstanding = false;
  private streaming = false;
  /** For stall detection: when the oldest unacknowledged update went out, when the first frame was asked. */
  private unackedSince: number | null = null;
  private firstFrameAskedAt: number | null = null;
  private quality = DEFAULT_STREAM_QUALITY;
  /** Negotiated protocol version: nothing newer is sent to the viewer or accepted from it. */
  private readonly version: number;
  /** Latency probes sent and not yet answered, by id, with their send time. */
  private readonly probes = new Map<number, number>();
  private nextProbeId = 1;
  private probeTimer: ReturnType<typeof setInterval> | undefined;
  /** The desktop's screen layout from its last ExtendedDesktopSize rectangle (null: it never sent one). */
  private screens: RfbScreen[] | null = null;
  private lastResizeAt = -Infinity;
  private pendingResize: { width: number; height: number } | null = null;
  private resizeTimer: ReturnType<typeof setTimeout> | undefined;
  /** What carries messages towards the viewer now: the WebSocket, or the DataChannel after a switch. */
  private transport: StreamTransport;
  /** The viewer's WebRTC peer while negotiating or in use (one offer per stream). */
  private rtc: WebRtcPeer | null = null;
  private rtcOffered = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly target: StreamTarget,
    private readonly options: BridgeStreamOptions,
  ) {
    this.log = options.logger;
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.rfb = new RfbConnection({ host: target.host, port: target.port, password: target.password });
    this.transport = webSocketTransport(ws);
    this.version =
      options.version ??
      (typeof ws.protocol === 'string' ? streamVersionOf(ws.protocol) : STREAM_PROTOCOL_MIN_VERSION);
  }

  async run(): Promise<void> {
    const { ws, rfb } = this;
    if (ws.readyState !== ws.OPEN) return;
    const signal = this.options.signal;
    if (signal?.aborted) {
      this.onAbort();
      return this.done;
    }
    ws.on('message', this.onViewerMessage);
    ws.on('close', this.onViewerClose);
    ws.on('error', this.onViewerError);
    signal?.addEventListener('abort', this.onAbort, { once: true });
    rfb.on('message', this.onUpstreamMessage);
    rfb.on('closed', this.onUpstreamClosed);

    try {
      const init = await rfb.connect();
      if (this.finished) return this.done;
      this.log.info(
        { host: this.target.host, port: this.target.port, width: init.width, height: init.height },
        'stream connected to VNC server',
      );
      this.streaming = true;
      this.send({
        t: 'init',
        version: this.version,
        width: init.width,
        height: init.height,
        name: init.name,
      });
      this.announceAccess();
      rfb.requestUpdate(false); // the first update is the whole screen
      this.firstFrameAskedAt = performance.now();
      this.options.observer?.onControls?.(this.controls());
      this.requestOutstanding = true;
      if (this.version >= 2) {
        this.probeTimer = setInterval(() => this.probe(), STREAM_PROBE_INTERVAL_MS);
        this.probeTimer.unref();
      }
    } catch (err) {
      if (!this.finished) this.upstreamFailed(err);
    }
    return this.done;
  }

  /** An unexpected exception: report it as INTERNAL and close; never throws. */
  crash(err: unknown): void {
    this.log.error({ err }, 'stream bridge failed');
    this.finish(1011, 'internal error', { code: 'INTERNAL', message: ERRORS.INTERNAL.message });
  }

  private readonly onViewerMessage = (data: RawData, isBinary: boolean): void => {
    try {
      this.handleViewerMessage(data, isBinary);
    } catch (err) {
      this.crash(err);
    }
  };

  private handleViewerMessage(data: RawData, isBinary: boolean): void {
    const bytes = toBuffer(data);
    this.handleViewerBytes(isBinary ? bytes : null, bytes.length);
  }

  /** One viewer message from either transport (null: not binary, which is always malformed). */
  private handleViewerBytes(bytes: Uint8Array | null, length: number): void {
    if (this.finished) return;
    this.options.observer?.onViewerBytes?.(length);
    let decoded: unknown;
    try {
      decoded = bytes ? unpack(bytes) : undefined;
    } catch {
      decoded = undefined;
    }
    const message = parseClientStreamMessage(decoded, this.version);
    if (!message) return this.viewerProtocolError('malformed viewer message');
    const { rfb } = this;
    switch (message.t) {
      case 'ack':
        if (message.seq > this.seqSent)
          return this.viewerProtocolError(`ack ${message.seq} for an update not sent`);
        if (message.seq > this.seqAcked) {
          this.options.observer?.onUpdatesDrawn?.(message.seq - this.seqAcked);
          this.seqAcked = message.seq;
          this.unackedSince = this.seqAcked === this.seqSent ? null : performance.now();
        }
        this.maybeRequestUpdate();
        return;
      case 'key':
        if (!this.inputAllowed()) return;
        this.options.observer?.onInput?.();
        rfb.sendKey(message.keysym, message.down);
        return;
      case 'pointer': {
        if (!this.inputAllowed()) return;
        this.options.observer?.onInput?.();
        if (!rfb.isOpen) return;
        const x = Math.min(Math.max(Math.round(message.x), 0), Math.max(rfb.width - 1, 0));
        const y = Math.min(Math.max(Math.round(message.y), 0), Math.max(rfb.height - 1, 0));
        rfb.sendPointer(x, y, message.buttons);
        return;
      }
      case 'clipboard':
        if (!this.inputAllowed()) return;
        this.options.observer?.onInput?.();
        rfb.sendClipboard(message.text);
        return;
      case 'ping':
        this.send({ t: 'pong', id: message.id });
        return;
      case 'pong': {
        const sentAt = this.probes.get(message.id);
        if (sentAt === undefined) return; // late after a timeout, or made up: nothing to measure
        this.probes.delete(message.id);
        const rttMs = Math.round((performance.now() - sentAt) * 10) / 10;
        this.options.observer?.onRtt?.(rttMs);
        this.send({ t: 'stats', rttMs });
        return;
      }
      case 'quality':
        // Affects this viewer's own RFB connection only.
        this.quality = { jpeg: message.jpeg, compression: message.compression };
        rfb.setEncodings(encodingsWithQuality(message.jpeg, message.compression));
        return;
      case 'resize':
        if (!this.inputAllowed()) return;
        this.options.observer?.onInput?.();
        this.pendingResize = { width: message.width, height: message.height };
        this.flushResize();
        return;
      case 'rtc':
        this.onRtcSignal(message.signal);
        return;
    }
  }

  /** WebRTC signalling from the viewer (always on the WebSocket): one offer, then its ICE candidates. */
  private onRtcSignal(signal: RtcSignal): void {
    const refuse = (reason: string): void => this.sendSignal({ kind: 'refused', reason });
    if (signal.kind === 'candidate') {
      void this.rtc?.addCandidate(signal.candidate, signal.sdpMid);
      return;
    }
    if (signal.kind !== 'offer') return;
    const config = this.options.webrtc;
    if (!config?.enabled) return refuse('WebRTC is disabled on this gateway');
    if (this.rtcOffered) return refuse('this stream has already negotiated WebRTC');
    this.rtcOffered = true;
    WebRtcPeer.answer(
      signal.sdp,
      {
        config,
        logger: this.log,
        maxViewerMessageBytes: this.options.maxViewerMessageBytes ?? DEFAULT_MAX_VIEWER_MESSAGE_BYTES,
        highWaterBytes: STREAM_BUFFERED_HIGH_WATER,
      },
      {
        onSignal: (s) => this.sendSignal(s),
        onOpen: (transport) => this.switchTransport(transport),
        onMessage: (message) => {
          try {
            this.handleViewerBytes(message, message.length);
          } catch (err) {
            this.crash(err);
          }
        },
        onClosed: (reason) => this.onRtcClosed(reason),
      },
      (peer) => (this.rtc = peer),
    ).then(
      (peer) => {
        if (this.finished) peer.close();
      },
      (err: unknown) => {
        this.rtc = null;
        this.log.info({ reason: (err as Error).message }, 'WebRTC offer refused');
        refuse('the offer could not be answered');
      },
    );
  }

  /** The DataChannel is open: the WebSocket's last stream message says so, then everything goes there. */
  private switchTransport(transport: StreamTransport): void {
    if (this.finished || this.transport.via === 'datachannel') return;
    this.sendOnWebSocket({ t: 'transport', via: 'datachannel' });
    this.transport = transport;
    this.log.info('stream switched to the WebRTC DataChannel');
    this.options.observer?.onTransport?.('datachannel');
    this.rfb.resumeReading();
    this.maybeRequestUpdate();
  }

  /** The peer failed or closed: before a switch the stream just stays on the WebSocket, after one it ends. */
  private onRtcClosed(reason: string): void {
    this.rtc = null;
    if (this.finished) return;
    if (this.transport.via !== 'datachannel') {
      this.log.info({ reason }, 'WebRTC did not connect; the stream stays on the WebSocket');
      this.sendSignal({ kind: 'refused', reason });
      return;
    }
    this.log.info({ reason }, 'the DataChannel of the stream died');
    this.finish(StreamCloseCode.TransportLost, 'datachannel lost');
  }

  private sendSignal(signal: RtcSignal): void {
    if (this.transport.via === 'datachannel' && signal.kind === 'candidate') return; // the path is chosen
    this.sendOnWebSocket({ t: 'rtc', signal });
  }

  /** Tells a workspace viewer its role and input permission now and on every change (v2 viewers only). */
  private announceAccess(): void {
    const access = this.options.access;
    if (!access || this.version < 2) return;
    this.send({ t: 'access', role: access.role(), input: access.canSendInput() });
    access.onChange(({ role, input }) => {
      if (!this.finished) this.send({ t: 'access', role, input });
    });
  }

  /** What N.E.X.U.S AI remediation may do to this stream (gateway/stream-remediation.ts). */
  private controls(): ViewerControls {
    return {
      version: this.version,
      quality: () => this.quality,
      stalledMs: () => {
        const since = Math.min(this.unackedSince ?? Infinity, this.firstFrameAskedAt ?? Infinity);
        return this.finished || since === Infinity ? 0 : performance.now() - since;
      },
      lowerQuality: (q, reason) => {
        if (this.finished || (q.jpeg >= this.quality.jpeg && q.compression <= this.quality.compression))
          return false;
        this.quality = q;
        this.rfb.setEncodings(encodingsWithQuality(q.jpeg, q.compression));
        if (this.version >= 2) this.send({ t: 'quality', jpeg: q.jpeg, compression: q.compression, reason });
        return true;
      },
      reconnect: (reason) => {
        if (this.finished) return false;
        this.log.info({ reason }, 'closing a stalled stream for the viewer to reconnect');
        this.finish(StreamCloseCode.Stalled, 'stream stalled');
        return true;
      },
    };
  }

  /** Sends a latency probe; a viewer that left several unanswered for too long is gone. */
  private probe(): void {
    if (this.finished) return;
    const now = performance.now();
    for (const sentAt of this.probes.values()) {
      if (now - sentAt > STREAM_PROBE_TIMEOUT_MS) {
        this.log.info({ via: this.transport.via }, 'viewer stopped answering latency probes');
        // On a DataChannel that went silent the WebSocket may well be alive: let the viewer come back.
        if (this.transport.via === 'datachannel')
          this.finish(StreamCloseCode.TransportLost, 'datachannel not responding');
        else this.finish(StreamCloseCode.Normal, 'viewer not responding');
        return;
      }
    }
    const id = this.nextProbeId++;
    this.probes.set(id, now);
    this.send({ t: 'ping', id });
  }

  /** Passes the latest asked-for size to the desktop, at most once per STREAM_RESIZE_INTERVAL_MS. */
  private flushResize(): void {
    if (this.finished || !this.pendingResize || this.resizeTimer !== undefined) return;
    const wait = this.lastResizeAt + STREAM_RESIZE_INTERVAL_MS - performance.now();
    if (wait > 0) {
      this.resizeTimer = setTimeout(() => {
        this.resizeTimer = undefined;
        this.flushResize();
      }, wait);
      return;
    }
    const { width, height } = this.pendingResize;
    this.pendingResize = null;
    const screens = this.screens;
    // Without a layout from the desktop (no ExtendedDesktopSize support) there is nothing to ask.
    if (!screens || screens.length === 0) return;
    if (width === this.rfb.width && height === this.rfb.height) return;
    this.lastResizeAt = performance.now();
    const first = screens[0] as RfbScreen;
    this.rfb.setDesktopSize(width, height, [{ ...first, x: 0, y: 0, width, height }]);
  }

  /** Remembers the desktop's screen layout from ExtendedDesktopSize rectangles (not from refusals). */
  private noteScreens(rects: readonly StreamRect[]): void {
    for (const r of rects) {
      if (r.encoding !== Encoding.ExtendedDesktopSize || (r.x === 1 && r.y !== 0)) continue;
      const screens = parseExtendedDesktopSize(r.data);
      if (screens) this.screens = screens;
    }
  }

  private readonly onUpstreamMessage = (message: RfbServerMessage): void => {
    try {
      this.handleUpstreamMessage(message);
    } catch (err) {
      this.crash(err);
    }
  };

  private handleUpstreamMessage(message: RfbServerMessage): void {
    if (this.finished) return;
    switch (message.type) {
      case 'framebufferUpdate':
        this.requestOutstanding = false;
        this.noteScreens(message.rects);
        this.seqSent += 1;
        this.firstFrameAskedAt = null;
        this.unackedSince ??= performance.now();
        this.send({ t: 'update', seq: this.seqSent, rects: message.rects });
        this.maybeRequestUpdate();
        return;
      case 'bell':
        this.send({ t: 'bell' });
        return;
      case 'serverCutText':
        this.send({ t: 'clipboard', text: message.text });
        return;
      case 'setColourMapEntries':
        return; // we always ask for true colour; a colour map means nothing to the viewer
    }
  }

  private maybeRequestUpdate(): void {
    if (this.finished || !this.streaming || this.requestOutstanding) return;
    if (this.seqSent - this.seqAcked >= STREAM_ACK_WINDOW) return;
    if (this.transport.bufferedAmount > STREAM_BUFFERED_HIGH_WATER) return; // re-checked when a send completes
    this.rfb.requestUpdate(true);
    this.requestOutstanding = true;
  }

  /** Sends a stream message on the current transport (the DataChannel after a switch). */
  private send(message: ServerStreamMessage): void {
    const transport = this.transport;
    if (!transport.isOpen) return;
    const bytes = pack(message);
    if (message.t === 'update') this.options.observer?.onUpdateSent?.(bytes.length);
    transport.send(bytes, () => {
      if (transport !== this.transport || transport.bufferedAmount > STREAM_BUFFERED_HIGH_WATER) return;
      this.rfb.resumeReading();
      this.maybeRequestUpdate();
    });
    // Requests are already held back; this also stops what a server sends unasked (bells, clipboard,
    // or a misbehaving server's updates) from piling up here: TCP pushes back on the server instead.
    if (transport.bufferedAmount > STREAM_BUFFERED_HIGH_WATER) this.rfb.pauseReading();
  }

  /** Signalling and the switch itself always travel on the WebSocket. */
  private sendOnWebSocket(message: ServerStreamMessage): void {
    const { ws } = this;
    if (ws.readyState !== ws.OPEN) return;
    ws.send(pack(message), { binary: true });
  }

  private readonly onUpstreamClosed = (error: RfbUpstreamError | undefined): void => {
    if (this.finished) return;
    if (error) return this.upstreamFailed(error);
    this.log.info('VNC server closed the stream');
    this.finish(StreamCloseCode.SessionEnded, 'desktop closed', {
      code: 'UPSTREAM_CLOSED',
      message: ERRORS.UPSTREAM_CLOSED.message,
    });
  };

  private upstreamFailed(err: unknown): void {
    const error =
      err instanceof RfbUpstreamError
        ? err
        : new RfbUpstreamError('UPSTREAM_PROTOCOL', 'VNC connection failed', { cause: err });
    if (error.code === 'UPSTREAM_ABORTED') return this.finish(StreamCloseCode.Normal, 'stream aborted');
    this.log.warn({ code: error.code, reason: error.message }, 'VNC upstream failed');
    this.finish(StreamCloseCode.UpstreamError, error.code, {
      code: error.code,
      message: ERRORS[error.code].message,
    });
  }

  private viewerProtocolError(reason: string): void {
    this.log.debug({ reason }, 'viewer protocol error');
    this.finish(StreamCloseCode.ProtocolError, 'protocol error', {
      code: 'STREAM_PROTOCOL',
      message: ERRORS.STREAM_PROTOCOL.message,
    });
  }

  private readonly onViewerClose = (): void => {
    this.finish(StreamCloseCode.Normal, 'viewer closed');
  };

  private readonly onViewerError = (err: Error): void => {
    this.log.debug({ reason: err.message }, 'viewer WebSocket error');
    // ws closes the socket itself after an error; 'close' follows.
  };

  private readonly onAbort = (): void => {
    const reason: unknown = this.options.signal?.reason;
    if (reason instanceof StreamClosure) this.finish(reason.code, reason.reason);
    else this.finish(StreamCloseCode.Normal, 'stream aborted');
  };

  /** Input from a viewer the workspace does not let type is dropped here, not merely in the page. */
  private inputAllowed(): boolean {
    return this.options.canSendInput?.() ?? true;
  }

  /** Ends both sides once: optional error message to the viewer, then the close code. */
  private finish(closeCode: number, reason: string, error?: { code: ErrorCode; message: string }): void {
    const { ws } = this;
    if (this.finished) return;
    this.finished = true;
    this.streaming = false;
    clearInterval(this.probeTimer);
    clearTimeout(this.resizeTimer);
    this.rtc?.close();
    this.rtc = null;
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.rfb.off('message', this.onUpstreamMessage);
    this.rfb.off('closed', this.onUpstreamClosed);
    this.rfb.close();
    if (ws.readyState === ws.OPEN) {
      try {
        if (error)
          ws.send(
            pack({ t: 'error', code: error.code, message: error.message } satisfies ServerStreamMessage),
          );
        ws.close(closeCode, reason);
      } catch (err) {
        this.log.error({ err }, 'closing the viewer WebSocket failed');
        ws.terminate();
      }
    }
    if (ws.readyState === ws.CLOSED) this.cleanup();
    else ws.once('close', () => this.cleanup());
  }

  private cleanup(): void {
    this.ws.off('message', this.onViewerMessage);
    this.ws.off('close', this.onViewerClose);
    this.ws.off('error', this.onViewerError);
    this.resolveDone();
  }
}
