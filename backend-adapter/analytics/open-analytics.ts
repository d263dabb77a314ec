import { join } from 'node:path';
import type { AdapterConfig } from '../config.ts';
import type { GatewayMetrics } from '../observability/gateway-metrics.ts';
import type { Analytics } from './analytics.ts';
import { FileAnalytics } from './file-analytics.ts';
import { HttpAnalytics } from './http-analytics.ts';

/** v-analytics: the HTTP adapter with ANALYTICS_URL, else the local file; drops feed the Prometheus counter. */
export function openAnalytics(
  config: AdapterConfig,
  metrics: Pick<GatewayMetrics, 'analyticsEventsDropped'>,
): Analytics {
  const onDrop = (reason: string, count: number) => metrics.analyticsEventsDropped.inc({ reason }, count);
  const settings = config.integrations.analytics;
  return settings.url
    ? new HttpAnalytics({
        url: settings.url,
        token: settings.token,
        maxQueue: settings.maxQueue,
        maxBatch: settings.batchSize,
        onDrop,
      })
    : new FileAnalytics(join(config.dataDir, 'analytics', 'events.jsonl'), {
        maxQueue: settings.maxQueue,
        onDrop,
      });
}
