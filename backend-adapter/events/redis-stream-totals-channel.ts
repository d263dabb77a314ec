import type { StreamTotals } from '../observability/stream-stats.ts';
import { openPubSub, RedisChannel } from './redis-channel.ts';

/** One replica's stream totals of the sessions it streams, as of when it sent them. */
export interface StreamTotalsReport {
  type: 'stream.totals';
  /** The sending replica (a random id per process). */
  from: string;
  sessions: Array<[sessionId: string, totals: StreamTotals]>;
}

const TOTALS_KEYS = ['txBytes', 'rxBytes', 'updatesDrawn', 'updatesSent', 'viewers', 'rttSumMs', 'rttCount'];

function isTotals(value: unknown): value is StreamTotals {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return TOTALS_KEYS.every((k) => typeof v[k] === 'number' && Number.isFinite(v[k]) && (v[k] as number) >= 0);
}

function isStreamTotalsReport(value: unknown): value is StreamTotalsReport {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<StreamTotalsReport>;
  return (
    v.type === 'stream.totals' &&
    typeof v.from === 'string' &&
    Array.isArray(v.sessions) &&
    v.sessions.every(
      (entry: unknown) =>
        Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string' && isTotals(entry[1]),
    )
  );
}

/**
 * Stream totals fanned out through Redis pub/sub (channel `${prefix}stream-totals`): every replica that
 * serves streams (the stream gateways) tells every replica that samples sessions (the orchestrators) how much
 * it streamed of each. A malformed report is ignored whole.
 */
export class RedisStreamTotalsChannel extends RedisChannel<StreamTotalsReport> {
  static async connect(url: string, options: { prefix: string }): Promise<RedisStreamTotalsChannel> {
    const { publisher, subscriber } = await openPubSub(url, 'vsc-stream-totals');
    const channel = new RedisStreamTotalsChannel(
      publisher,
      subscriber,
      `${options.prefix}stream-totals`,
      isStreamTotalsReport,
    );
    await channel.start();
    return channel;
  }
}
