import { BehaviorSubject, Observable, share } from 'rxjs';
import type { LiveEvent } from '../../protocol/live-events.ts';
import type { ApiClient, EventStreamOptions } from './api-client.ts';
import { isAbortError } from './api-client.ts';
import { SseParser } from './sse.ts';

/**
 * - `idle`: nobody listens, no connection;
 * - `connecting`: the first attempt is under way;
 * - `open`: the stream is connected and pushing;
 * - `down`: the stream failed or ended and is being retried with backoff (observers fall back to polling).
 */
export type LiveStatus = 'idle' | 'connecting' | 'open' | 'down';

export interface LiveEventsOptions {
  api: Pick<ApiClient, 'openEventStream'>;
  /** First reconnection delay (ms); doubles per failed attempt up to `maxBackoffMs`. Default 1000. */
  initialBackoffMs?: number;
  /** Default 30000. */
  maxBackoffMs?: number;
  /**
   * A connection that has received nothing (not even the server's keep-alive comment, sent every 15 s) for
   * this long is considered dead and reopened. Default 45000.
   */
  silenceTimeoutMs?: number;
}

const EVENT_NAMES: ReadonlySet<string> = new Set([
  'session.changed',
  'metrics.sample',
  'session.cost',
  'workspace.changed',
]);

/**
 * The user's live events (`GET /api/v1/events`) as one shared connection: the first subscriber to `events$`
 * opens it, the last one to leave closes it. While subscribed it reconnects by itself with exponential backoff
 * (with jitter, honouring the server's `retry:`), sending `Last-Event-ID`. `status$` says whether it is open, so
 * observers can poll only while it is down.
 */
export class LiveEvents {
  /** `session.changed`, `metrics.sample`, `session.cost` and `workspace.changed` events, parsed. */
  readonly events$: Observable<LiveEvent>;
  readonly status$ = new BehaviorSubject<LiveStatus>('idle');

  private readonly api: LiveEventsOptions['api'];
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly silenceTimeoutMs: number;
  private open = 0;
  /** Connection attempts that failed, since construction (diagnostics). */
  failures = 0;
  private lastEventId: string | undefined;

  constructor(options: LiveEventsOptions) {
    this.api = options.api;
    this.initialBackoffMs = options.initialBackoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.silenceTimeoutMs = options.silenceTimeoutMs ?? 45_000;
    this.events$ = new Observable<LiveEvent>((subscriber) => {
      const aborter = new AbortController();
      void this.run((event) => subscriber.next(event), aborter.signal);
      return () => {
        aborter.abort();
        this.status$.next('idle');
      };
    }).pipe(share());
  }

  /** How many HTTP connections to the event stream are open right now (0 or 1; for leak tests). */
  get connections(): number {
    return this.open;
  }

  private async run(emit: (event: LiveEvent) => void, signal: AbortSignal): Promise<void> {
    this.status$.next('connecting');
    let failures = 0;
    let retryMs: number | undefined;
    while (!signal.aborted) {
      const parser = new SseParser((message) => {
        if (!EVENT_NAMES.has(message.event)) return;
        let data: unknown;
        try {
          data = JSON.parse(message.data);
        } catch {
          return; // a malformed event is skipped, the stream goes on
        }
        this.lastEventId = message.lastEventId;
        emit({ event: message.event, data } as LiveEvent);
      });
      const opened = await this.read(parser, signal, () => {
        failures = 0;
        this.status$.next('open');
      });
      retryMs = parser.retryMs ?? retryMs;
      if (signal.aborted) return;
      if (!opened) failures++;
      this.status$.next('down');
      const base = Math.min(
        this.maxBackoffMs,
        (retryMs ?? this.initialBackoffMs) * 2 ** Math.min(failures, 16),
      );
      // Full jitter on the upper half, so many dashboards do not reconnect in step after a server restart.
      await sleep(base / 2 + Math.random() * (base / 2), signal);
    }
  }

  /** One connection: resolves when it ends (for any reason); true if it had opened. */
  private async read(parser: SseParser, signal: AbortSignal, onOpen: () => void): Promise<boolean> {
    const connection = new AbortController();
    const stop = (): void => connection.abort();
    signal.addEventListener('abort', stop, { once: true });
    let silence: ReturnType<typeof setTimeout> | undefined;
    const arm = (): void => {
      clearTimeout(silence);
      silence = setTimeout(stop, this.silenceTimeoutMs);
    };
    let opened = false;
    try {
      const options: EventStreamOptions = { signal: connection.signal };
      if (this.lastEventId !== undefined) options.lastEventId = this.lastEventId;
      arm();
      const response = await this.api.openEventStream(options);
      const body = response.body;
      if (!body) return false;
      const reader = body.pipeThrough(new TextDecoderStream()).getReader();
      this.open++;
      opened = true;
      onOpen();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          arm();
          parser.push(value);
        }
        parser.end();
      } finally {
        this.open--;
        reader.cancel().catch(() => undefined);
      }
    } catch (error) {
      // Any failure (network, 401, 5xx, a cut connection) is retried by the caller; aborts end the loop there.
      if (!isAbortError(error) && !connection.signal.aborted) this.failures++;
    } finally {
      clearTimeout(silence);
      signal.removeEventListener('abort', stop);
      connection.abort();
    }
    return opened;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
