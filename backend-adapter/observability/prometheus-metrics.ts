import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BillingMetrics } from '../billing/billing-metrics.ts';
import type { CanonStore, LiveTotals } from '../canon/canon-store.ts';
import { registerCanonStorageMetrics } from './canon-storage-metrics.ts';
import { STREAM_TRANSPORTS, type StreamTransportKind } from './stream-stats.ts';

/**
 * The spec's metrics, with exactly its names, plus what the integration KPIs are derived from
 * (auth success rate, handshake compliance, API availability) and the process's own metrics.
 */
export class AdapterMetrics {
  readonly registry = new Registry();
  readonly sessionCreationDuration: Histogram;
  readonly streamLatency: Histogram;
  readonly streamQuality: Gauge;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly authAttempts: Counter<'result'>;
  readonly handshakeChecks: Counter<'result'>;
  readonly sessionTransitions: Counter<'to'>;
  readonly analyticsEventsDropped: Counter<'reason'>;
  readonly aiRemediations: Counter<'kind' | 'status'>;
  readonly warmPoolTarget: Gauge<'tier'>;
  readonly desktopRestarts: Counter<'outcome'>;
  /** Where `v_supercore_streams` reads its figures at scrape time (countStreams); zeros until set. */
  private streamSource: { streamsByTransport(): Record<StreamTransportKind, number> } | undefined;

  /** NexCoin billing's metrics (billing/billing-metrics.ts), on this registry. */
  readonly billing: BillingMetrics;

  constructor(canon: CanonStore) {
    const registers = [this.registry];
    this.billing = new BillingMetrics(this.registry);
    collectDefaultMetrics({ register: this.registry, prefix: 'v_supercore_' });

    // Live sessions and their allocations are read from Canon Memory at scrape time: always true, on any replica.
    // The database counts and sums them (one row per state and tier), so a scrape costs the same at 10 or
    // 10,000 sessions on the adapter's side. One read serves every gauge of a scrape.
    let snapshot: Promise<LiveTotals[]> | undefined;
    const live = () => {
      snapshot ??= canon.liveTotals().finally(() => setTimeout(() => (snapshot = undefined), 0));
      return snapshot;
    };
    const sumBy = (key: 'cpuMillicores' | 'memoryMiB' | 'gpus') =>
      async function (this: Gauge<'tier'>) {
        this.reset();
        for (const totals of await live()) this.inc({ tier: totals.tier }, totals[key]);
      };
    new Gauge({
      name: 'v_supercore_active_sessions',
      help: 'Sessions not yet terminated or failed, by state and tier.',
      labelNames: ['state', 'tier'],
      registers,
      async collect() {
        this.reset();
        for (const totals of await live()) {
          this.inc({ state: totals.state, tier: totals.tier }, totals.sessions);
        }
      },
    });
    new Gauge({
      name: 'v_supercore_resource_allocation_cpu',
      help: 'CPU allocated to live sessions, in millicores.',
      labelNames: ['tier'],
      registers,
      collect: sumBy('cpuMillicores'),
    });
    new Gauge({
      name: 'v_supercore_resource_allocation_memory',
      help: 'Memory allocated to live sessions, in MiB.',
      labelNames: ['tier'],
      registers,
      collect: sumBy('memoryMiB'),
    });
    new Gauge({
      name: 'v_supercore_resource_allocation_gpu',
      help: 'GPUs allocated to live sessions.',
      labelNames: ['tier'],
      registers,
      collect: sumBy('gpus'),
    });
    this.sessionCreationDuration = new Histogram({
      name: 'v_supercore_session_creation_duration',
      help: 'Seconds from a launch request to an active (or failed) session.',
      labelNames: ['tier', 'outcome'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
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
    this.sessionTransitions = new Counter({
      name: 'v_supercore_session_transitions_total',
      help: 'Session state transitions recorded, by target state.',
      labelNames: ['to'],
      registers,
    });
    this.analyticsEventsDropped = new Counter({
      name: 'v_supercore_analytics_events_dropped_total',
      help: 'v-analytics events lost, by reason (queue-full, rejected, write-failed); tracking never blocks a session.',
      labelNames: ['reason'],
      registers,
    });
    this.aiRemediations = new Counter({
      name: 'v_supercore_ai_remediations_total',
      help: 'N.E.X.U.S AI remediation actions acted on, by kind and status (applied, skipped, failed).',
      labelNames: ['kind', 'status'],
      registers,
    });
    this.warmPoolTarget = new Gauge({
      name: 'v_supercore_warm_pool_target',
      help: 'Warm desktops per tier the pool tops up to, from the launch predictions.',
      labelNames: ['tier'],
      registers,
    });
    this.desktopRestarts = new Counter({
      name: 'v_supercore_desktop_restarts_total',
      help: 'Desktops restarted because their agent stopped answering, by outcome (restarted, failed).',
      labelNames: ['outcome'],
      registers,
    });
    const storageHealth = canon.storageHealth?.bind(canon);
    if (storageHealth) registerCanonStorageMetrics(this.registry, storageHealth);
    // Start the KPI series at zero, so the first event after a start is counted by rate() too.
    this.authAttempts.inc({ result: 'success' }, 0);
    this.handshakeChecks.inc({ result: 'ok' }, 0);
  }

  /** Makes `v_supercore_streams` report the streams `source` counts (the replica's StreamStats). */
  countStreams(source: { streamsByTransport(): Record<StreamTransportKind, number> }): void {
    this.streamSource = source;
  }
}
