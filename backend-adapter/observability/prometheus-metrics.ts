import { Counter, Gauge, Histogram } from 'prom-client';
import { BillingMetrics } from '../billing/billing-metrics.ts';
import type { CanonStore, LiveTotals } from '../canon/canon-store.ts';
import { registerCanonStorageMetrics } from './canon-storage-metrics.ts';
import { GatewayMetrics } from './gateway-metrics.ts';

/**
 * The spec's metrics, with exactly its names, plus what the integration KPIs are derived from
 * (auth success rate, handshake compliance, API availability) and the process's own metrics: the stream
 * gateway's (GatewayMetrics, for the streams this process serves) and the orchestrator's, read from Canon
 * Memory and counted by the lifecycle, billing and the AI monitors.
 */
export class AdapterMetrics extends GatewayMetrics {
  readonly sessionCreationDuration: Histogram;
  readonly sessionTransitions: Counter<'to'>;
  readonly warmPoolTarget: Gauge<'tier'>;
  readonly desktopRestarts: Counter<'outcome'>;

  /** NexCoin billing's metrics (billing/billing-metrics.ts), on this registry. */
  readonly billing: BillingMetrics;

  constructor(canon: CanonStore) {
    super();
    const registers = [this.registry];
    this.billing = new BillingMetrics(this.registry);

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
    this.sessionTransitions = new Counter({
      name: 'v_supercore_session_transitions_total',
      help: 'Session state transitions recorded, by target state.',
      labelNames: ['to'],
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
  }
}
