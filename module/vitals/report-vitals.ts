import { onCLS, onFCP, onINP, onLCP, onTTFB, type Metric } from 'web-vitals';
import type { WebVital } from '../../protocol/resources.ts';
import type { ApiClient } from '../api/api-client.ts';

type Listener = (metric: Metric) => void;

/** The part of `web-vitals` used here (a test may pass its own). */
export interface WebVitalsLib {
  onLCP(cb: Listener): void;
  onINP(cb: Listener): void;
  onCLS(cb: Listener): void;
  onFCP(cb: Listener): void;
  onTTFB(cb: Listener): void;
}

export interface VitalsReporter {
  /** Measurements waiting to be sent. */
  readonly pending: number;
  /** Sends what is waiting (keepalive: the requests outlive the page). */
  flush(options?: { keepalive?: boolean }): Promise<void>;
  /** Stops listening (later measurements are ignored) and sends what is waiting, as keepalive requests. */
  stop(): Promise<void>;
}

export interface StartVitalsOptions {
  /** Provides web-vitals (tests pass their own). */
  load?: () => Promise<WebVitalsLib>;
}

/**
 * web-vitals' observers cannot be removed, and registering them again would measure the same page twice, so they
 * are registered once per page (per loader) and fan out to the reporters that are running.
 */
const registrations = new Map<
  () => Promise<WebVitalsLib>,
  { listeners: Set<Listener>; ready: Promise<void> }
>();

const WEB_VITALS: WebVitalsLib = { onLCP, onINP, onCLS, onFCP, onTTFB };
const loadWebVitals = (): Promise<WebVitalsLib> => Promise.resolve(WEB_VITALS);

/** How many times web-vitals' observers were registered on this page (once; for tests). */
export function vitalsRegistrations(): number {
  return registrations.size;
}

function register(load: () => Promise<WebVitalsLib>, listener: Listener): Promise<void> {
  let entry = registrations.get(load);
  if (!entry) {
    const listeners = new Set<Listener>();
    const ready = load().then((lib) => {
      const fan: Listener = (metric) => {
        for (const l of listeners) l(metric);
      };
      lib.onLCP(fan);
      lib.onINP(fan);
      lib.onCLS(fan);
      lib.onFCP(fan);
      lib.onTTFB(fan);
    });
    entry = { listeners, ready };
    registrations.set(load, entry);
    ready.catch(() => registrations.delete(load));
  }
  entry.listeners.add(listener);
  return entry.ready;
}

/** A web-vitals Metric as `POST /api/v1/vitals` takes it. */
export function toWebVital(metric: Metric): WebVital {
  const vital: WebVital = {
    name: metric.name,
    value: Math.min(3_600_000, Math.max(0, metric.value)),
    rating: metric.rating,
    id: metric.id.slice(0, 128),
  };
  if (metric.navigationType) vital.navigationType = metric.navigationType.slice(0, 32);
  return vital;
}

/**
 * Reports the module's Core Web Vitals (LCP, INP, CLS, FCP, TTFB) to the adapter, which forwards them to
 * v-Analytics. Measurements are batched: sent together when the page is hidden or unloaded (`fetch` with
 * `keepalive`, which, unlike `sendBeacon`, can carry the bearer token and handshake headers) and when the module
 * unmounts. Started on mount, stopped on unmount; its page listeners go with it.
 */
export function startVitals(
  api: Pick<ApiClient, 'sendVitals'>,
  options: StartVitalsOptions = {},
): VitalsReporter {
  const queue = new Map<string, WebVital>();
  const listeners = new AbortController();
  let stopped = false;

  const onMetric: Listener = (metric) => {
    if (stopped) return;
    // A metric reported again (CLS growing, a larger LCP) replaces its earlier value.
    queue.set(`${metric.name}:${metric.id}`, toWebVital(metric));
  };

  const flush = async (flushOptions: { keepalive?: boolean } = {}): Promise<void> => {
    if (queue.size === 0) return;
    const batch = [...queue.values()];
    queue.clear();
    await api.sendVitals(batch, flushOptions);
  };

  const load = options.load ?? loadWebVitals;
  // A web-vitals chunk that fails to load only means nothing is measured.
  register(load, onMetric).catch(() => undefined);
  const { signal } = listeners;
  document.addEventListener(
    'visibilitychange',
    () => {
      if (document.visibilityState === 'hidden') void flush({ keepalive: true });
    },
    { signal },
  );
  window.addEventListener('pagehide', () => void flush({ keepalive: true }), { signal });

  return {
    get pending() {
      return queue.size;
    },
    flush,
    async stop() {
      if (stopped) return;
      stopped = true;
      listeners.abort();
      registrations.get(load)?.listeners.delete(onMetric);
      // keepalive: the module may be unmounting because the page is going away.
      await flush({ keepalive: true });
    },
  };
}
