/**
 * An in-page stand-in for the decoder worker (what `startDecoderWorker()` returns), so viewer tests can drive the
 * stream's events and read the input the viewer sends. Comlink's `transfer()` and `proxy()` only mark their
 * arguments, so the viewer's real calls work unchanged against it.
 */
import type { Remote } from 'comlink';
import type { ClientStreamMessage, RtcSignal } from '../../../../protocol/stream.ts';
import type {
  DecoderWorkerApi,
  StreamConnectOptions,
  StreamStats,
  ViewerEvent,
} from '../../../../worker/decoder-worker-api.ts';
import type { DecoderWorkerHandle } from '../../../../module/viewer/start-decoder-worker.ts';

export class FakeDecoderWorker {
  canvas: OffscreenCanvas | null = null;
  options: StreamConnectOptions | null = null;
  private onEvent: ((event: ViewerEvent) => void) | null = null;
  readonly sent: ClientStreamMessage[] = [];
  disconnects = 0;
  terminated = false;
  /** WebRTC signals the viewer's link sent (offer, candidates). */
  readonly signals: RtcSignal[] = [];
  /** DataChannels the viewer's WebRTC link handed over. */
  readonly channels: RTCDataChannel[] = [];
  /** What stats() answers; tests change it. */
  statsValue: StreamStats = {
    updates: 0,
    rects: 0,
    bytes: 0,
    decodeMs: 0,
    rttMs: null,
    version: 2,
    transport: 'websocket',
  };

  readonly handle: DecoderWorkerHandle;

  constructor() {
    const api: DecoderWorkerApi = {
      attach: (canvas) => {
        this.canvas = canvas;
      },
      connect: (options, onEvent) => {
        this.options = options;
        this.onEvent = onEvent;
      },
      send: (message) => {
        if (this.terminated) throw new Error('worker terminated');
        // WebRTC signalling is kept apart, so input assertions see only input.
        if (message.t === 'rtc') this.signals.push(message.signal);
        else this.sent.push(message);
      },
      disconnect: () => {
        this.disconnects++;
      },
      stats: (): StreamStats => ({ ...this.statsValue }),
      attachDataChannel: (channel) => {
        this.channels.push(channel);
      },
    };
    // Remote<T> turns every method into one returning a Promise, as these async wrappers do.
    const remote = {
      attach: async (c: OffscreenCanvas) => api.attach(c),
      connect: async (o: StreamConnectOptions, cb: (e: ViewerEvent) => void) => api.connect(o, cb),
      send: async (m: ClientStreamMessage) => api.send(m),
      disconnect: async () => api.disconnect(),
      stats: async () => api.stats(),
      attachDataChannel: async (c: RTCDataChannel) => api.attachDataChannel(c),
    };
    this.handle = {
      api: remote as unknown as Remote<DecoderWorkerApi>,
      terminate: () => {
        this.terminated = true;
      },
    };
  }

  get connected(): boolean {
    return this.onEvent !== null;
  }

  /** Sends an event to the viewer as the worker would. */
  emit(event: ViewerEvent): void {
    if (!this.onEvent) throw new Error('not connected');
    this.onEvent(event);
  }

  /** The messages sent so far, then forgets them. */
  take(): ClientStreamMessage[] {
    return this.sent.splice(0);
  }
}

/** A worker factory that records every worker it starts. */
export function fakeWorkerFactory(): { factory: () => DecoderWorkerHandle; workers: FakeDecoderWorker[] } {
  const workers: FakeDecoderWorker[] = [];
  return {
    workers,
    factory: () => {
      const worker = new FakeDecoderWorker();
      workers.push(worker);
      return worker.handle;
    },
  };
}
