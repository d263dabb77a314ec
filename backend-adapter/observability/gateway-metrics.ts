import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerPoolMetrics, type NamedPool } from './postgres-pool-metrics.ts';
import { STREAM_TRANSPORTS, type StreamTransportKind, type StreamWindow } from './stream-stats.ts';

/**
 * What a stream gateway exports: the streams it serves (latency, quality, how many by transport), the AI
 * remediations it applied to them, its HTTP requests and token checks (the auth success rate and handshake
 * compliance KPIs), and the process's own metrics. Nothing read from Canon Memory: every orchestrator replica reports the sessions, and a gateway
 * reporting them too would count them twice in a sum over the namespace.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly streamLatency: Histogram;
  readonly streamQuality: Gauge;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly authAttempts: Counter<'result'>;
  readonly handshakeChecks: Counter<'result'>;
  /** The AI's remediations: the gateway acts on the streams it serves, the orchestrator on the desktops. */
  readonly aiRemediations: Counter<'kind' | 'status'>;
  /** Events this process lost on their way to v-analytics (the gateway reports its stream remediations). */
  readonly analyticsEventsDropped: Counter<'reason'>;
  /** The PostgreSQL pools `v_supercore_postgres_pool_connections` reads at scrape time (countPools). */
  private poolSource: (() => NamedPool[]) | undefined;
  /** Where `v_supercore_streams` reads its figures at scrape time (countStreams); zeros until set. */
  private streamSource: { streamsByTransport(): Record<StreamTransportKind, number> } | undefined;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'v_supercore_' });
    this.streamLatency = new Histogram({
      name: 'v_supercore_stream_latency_ms',
      help: 'Stream round-trip time between gateway and viewer, in milliseconds.',
      buckets: [5, 10, 20, 35, 50, 100, 200, 500, 1000],
      registers,
    });
    const streams: Gauge<'transport'> = new Gauge({
      name: 'v_supercore_streams',
      help: 'Streams this replica serves right now, by transport (websocket, or datachannel after the WebRTC switch).',
      labelNames: ['transport'],
      registers,
      collect: () => {
        const counts = this.streamSource?.streamsByTransport();
        for (const transport of STREAM_TRANSPORTS) streams.set({ transport }, counts?.[transport] ?? 0);
      },
    });
    this.streamQuality = new Gauge({
      name: 'v_supercore_stream_quality_score',
      help: 'Stream quality from 0 (unusable) to 1 (smooth), per session.',
      labelNames: ['session'],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'v_supercore_http_requests_total',
      help: 'API requests by route and status (API availability = non-5xx share).',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'v_supercore_http_request_duration_seconds',
      help: 'API response time (the spec bounds it at 200 ms).',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2],
      registers,
    });
    this.authAttempts = new Counter({
      name: 'v_supercore_auth_attempts_total',
      help: 'Bearer token verifications by result (auth success rate).',
      labelNames: ['result'],
      registers,
    });
    this.handshakeChecks = new Counter({
      name: 'v_supercore_handshake_checks_total',
      help: 'Requests checked for the 55-45-17 handshake, by result (handshake compliance).',
      labelNames: ['result'],
      registers,
    });
    this.aiRemediations = new Counter({
      name: 'v_supercore_ai_remediations_total',
      help: 'N.E.X.U.S AI remediation actions acted on, by kind and status (applied, skipped, failed).',
      labelNames: ['kind', 'status'],
      registers,
    });
    this.analyticsEventsDropped = new Counter({
      name: 'v_supercore_analytics_events_dropped_total',
      help: 'v-analytics events lost, by reason (queue-full, rejected, write-failed); tracking never blocks a session.',
      labelNames: ['reason'],
      registers,
    });
    registerPoolMetrics(this.registry, () => this.poolSource?.() ?? []);
    // Start the KPI series at zero, so the first event after a start is counted by rate() too.
    this.authAttempts.inc({ result: 'success' }, 0);
    this.handshakeChecks.inc({ result: 'ok' }, 0);
  }

  /** One sampling window of a session's streams; a quality of null (nobody watching) drops its series. */
  recordStreamWindow(sessionId: string, window: Pick<StreamWindow, 'streamLatencyMs' | 'quality'>): void {
    if (window.streamLatencyMs !== null) this.streamLatency.observe(window.streamLatencyMs);
    if (window.quality === null) this.streamQuality.remove({ session: sessionId });
    else this.streamQuality.set({ session: sessionId }, window.quality);
  }

  /** Makes `v_supercore_postgres_pool_connections` report these pools (none: no series, as on SQLite). */
  countPools(source: () => NamedPool[]): void {
    this.poolSource = source;
  }

  /** Makes `v_supercore_streams` report the streams `source` counts (the replica's StreamStats). */
  countStreams(source: { streamsByTransport(): Record<StreamTransportKind, number> }): void {
    this.streamSource = source;
  }
}
