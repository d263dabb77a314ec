import { randomUUID } from 'node:crypto';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../protocol/handshake.ts';
import type {
  Analytics,
  AnalyticsDropListener,
  AnalyticsErasure,
  AnalyticsEvent,
  AnalyticsUserExport,
} from './analytics.ts';

export interface HttpAnalyticsOptions {
  /** v-analytics' batch endpoint: `POST {module, batchId, events: [{eventId, event, userId, properties, timestamp}]}`. */
  url: string;
  /** Sent as `Authorization: Bearer …` when set. */
  token?: string;
  /** Events held at most; past it the oldest are dropped (and counted). */
  maxQueue: number;
  /** Events per request. */
  maxBatch: number;
  /** How long an event may wait for a batch to fill. */
  flushIntervalMs: number;
  /** A request that has not answered by then is abandoned and retried. */
  requestTimeoutMs: number;
  /** Exponential backoff between attempts: base · 2^(attempt−1), capped, with jitter. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long `flush()` keeps trying before it gives up (events stay queued). */
  flushTimeoutMs: number;
  onDrop?: AnalyticsDropListener;
}

export const HTTP_ANALYTICS_DEFAULTS: Omit<HttpAnalyticsOptions, 'url'> = {
  maxQueue: 10_000,
  maxBatch: 100,
  flushIntervalMs: 1000,
  requestTimeoutMs: 5000,
  retryBaseMs: 500,
  retryMaxMs: 30_000,
  flushTimeoutMs: 5000,
};

interface Queued {
  seq: number;
  eventId: string;
  event: AnalyticsEvent;
}

type Outcome = 'sent' | 'retry' | 'rejected';

/** True for statuses where the same request may succeed later. */
function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/**
 * v-analytics over HTTP. `track` only appends to a bounded in-memory queue and returns: a session never
 * waits for analytics. One sender at a time drains the queue in batches; a failed batch (network error,
 * timeout, 5xx, 408, 429) is retried with exponential backoff and full jitter, keeping its `batchId`
 * (`Idempotency-Key`) and each event's `eventId`, so v-analytics can discard a batch that arrived twice
 * (e.g. one that timed out here but was processed there). While v-analytics is down the queue fills and
 * the oldest events are dropped, counted per reason.
 */
export class HttpAnalytics implements Analytics {
  private readonly options: HttpAnalyticsOptions;
  private queue: Queued[] = [];
  private seq = 0;
  private sending: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Cumulative drops, for tests and logs (the Prometheus counter gets them through `onDrop`). */
  readonly dropped: Record<'queue-full' | 'rejected', number> = { 'queue-full': 0, rejected: 0 };
  /** The batch being sent and the attempt number, so a retried batch keeps its id. */
  private current: { batchId: string; lastSeq: number; attempt: number } | undefined;

  constructor(options: Partial<HttpAnalyticsOptions> & { url: string }) {
    this.options = { ...HTTP_ANALYTICS_DEFAULTS, ...options };
  }

  get queued(): number {
    return this.queue.length;
  }

  private drop(reason: 'queue-full' | 'rejected', count: number): void {
    if (count <= 0) return;
    this.dropped[reason] += count;
    this.options.onDrop?.(reason, count);
  }

  track(event: AnalyticsEvent): void {
    if (this.closed) return;
    this.queue.push({ seq: ++this.seq, eventId: randomUUID(), event });
    if (this.queue.length > this.options.maxQueue) {
      const excess = this.queue.length - this.options.maxQueue;
      this.queue.splice(0, excess);
      this.drop('queue-full', excess);
    }
    if (this.queue.length >= this.options.maxBatch) {
      if (!this.sending) void this.kick();
    } else this.timer ??= setTimeout(() => void this.kick(), this.options.flushIntervalMs).unref();
  }

  /** Starts the sender unless it runs already. */
  private kick(deadline = Infinity): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.sending ??= this.drain(deadline).finally(() => {
      this.sending = undefined;
      if (this.queue.length > 0 && !this.closed) {
        this.timer ??= setTimeout(() => void this.kick(), this.options.flushIntervalMs).unref();
      }
    });
    return this.sending;
  }

  private async drain(deadline: number): Promise<void> {
    while (!this.closed && this.queue.length > 0 && Date.now() < deadline) {
      // A retried batch is the same events (minus any dropped meanwhile) under the same batchId.
      let current = this.current;
      if (current) {
        const lastSeq = current.lastSeq;
        if (!this.queue.some((q) => q.seq <= lastSeq)) current = undefined;
      }
      if (!current) {
        const head = this.queue.slice(0, this.options.maxBatch);
        current = { batchId: randomUUID(), lastSeq: head.at(-1)?.seq ?? 0, attempt: 0 };
      }
      this.current = current;
      const lastSeq = current.lastSeq;
      const end = this.queue.findIndex((q) => q.seq > lastSeq);
      const batch = end < 0 ? this.queue.slice() : this.queue.slice(0, end);
      const outcome = await this.send(current.batchId, batch);
      if (outcome === 'retry') {
        current.attempt++;
        const ceiling = Math.min(
          this.options.retryMaxMs,
          this.options.retryBaseMs * 2 ** (current.attempt - 1),
        );
        const wait = ceiling / 2 + Math.random() * (ceiling / 2);
        if (Date.now() + wait >= deadline) return;
        // In the background the wait must not keep the process alive; inside flush() (a finite deadline) it must.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          if (deadline === Infinity) timer.unref();
        });
        continue;
      }
      // Sent or refused for good: take the batch off the queue (events dropped meanwhile are already gone).
      const before = this.queue.length;
      const firstKept = this.queue.findIndex((q) => q.seq > lastSeq);
      this.queue.splice(0, firstKept < 0 ? this.queue.length : firstKept);
      if (outcome === 'rejected') this.drop('rejected', before - this.queue.length);
      this.current = undefined;
    }
  }

  private async send(batchId: string, batch: Queued[]): Promise<Outcome> {
    try {
      const response = await this.post(
        {
          module: 'v-supercore',
          batchId,
          events: batch.map((q) => ({ eventId: q.eventId, ...q.event })),
        },
        batchId,
      );
      await response.body?.cancel();
      if (response.ok) return 'sent';
      return retryable(response.status) ? 'retry' : 'rejected';
    } catch {
      return 'retry'; // refused, reset, timed out
    }
  }

  private post(body: unknown, idempotencyKey: string): Promise<Response> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'idempotency-key': idempotencyKey,
      [HANDSHAKE_HEADER]: HANDSHAKE,
    };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    return fetch(this.options.url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.options.requestTimeoutMs),
    });
  }

  /** Sends what is queued, trying for at most `flushTimeoutMs`; what is still unsent stays queued. */
  async flush(): Promise<void> {
    const deadline = Date.now() + this.options.flushTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise((r) => (timer = setTimeout(r, this.options.flushTimeoutMs)));
    while (this.queue.length > 0 && Date.now() < deadline) {
      if (this.sending) {
        // The background sender stops only when the queue is empty; wait for it, at most until the deadline.
        await Promise.race([this.sending, timeout]);
        continue;
      }
      await Promise.race([this.kick(deadline), timeout]);
      break;
    }
    clearTimeout(timer);
  }

  /** Flushes and stops accepting events (shutdown). */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  /** Delivered events live in v-analytics; only the ones still queued here can be exported from here. */
  async exportUser(userId: string): Promise<AnalyticsUserExport> {
    return {
      heldBy: 'v-analytics',
      events: this.queue.filter((q) => q.event.userId === userId).map((q) => q.event),
      note: `Events already delivered are held by v-analytics (${new URL(this.options.url).origin}); these are the ones not yet sent.`,
    };
  }

  /**
   * Pseudonymises the user's queued events and sends v-analytics an erasure request
   * (`supercore.privacy.erasure` carrying the pseudonym), directly rather than through the droppable
   * queue, retrying within `flushTimeoutMs`. Throws when it could not be delivered, so the erasure fails
   * before Canon Memory forgets the user and can be retried.
   */
  async eraseUser(userId: string, pseudonym: string): Promise<AnalyticsErasure> {
    let eventsPseudonymised = 0;
    for (const q of this.queue) {
      if (q.event.userId === userId) {
        q.event = { ...q.event, userId: pseudonym };
        eventsPseudonymised++;
      }
    }
    const batchId = randomUUID();
    const request = {
      module: 'v-supercore',
      batchId,
      events: [
        {
          eventId: randomUUID(),
          event: 'supercore.privacy.erasure',
          userId,
          properties: { pseudonym, action: 'erase-or-pseudonymise-all-events-of-user' },
          timestamp: new Date().toISOString(),
        },
      ],
    };
    const deadline = Date.now() + this.options.flushTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      let status = 0;
      try {
        const response = await this.post(request, batchId);
        await response.body?.cancel();
        status = response.status;
        if (response.ok) return { eventsPseudonymised, forwarded: true };
      } catch {
        // retried below
      }
      const wait = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** (attempt - 1));
      if ((status && !retryable(status)) || Date.now() + wait >= deadline) {
        throw new Error(`v-analytics did not accept the erasure request (${status || 'no answer'})`);
      }
      await new Promise<void>((resolve) => setTimeout(resolve, wait));
    }
  }
}
