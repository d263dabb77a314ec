import { integer, oneOf, url } from './env-vars.ts';

/**
 * The N3XUS integrations' settings (v-analytics, N.E.X.U.S AI, v-content): each one is its embedded default
 * unless its URL is set. Read by loadConfig (config.ts); documented in README.md.
 */
export interface IntegrationsConfig {
  analytics: {
    /** v-analytics' batch endpoint; events go to DATA_DIR/analytics/events.jsonl when absent. */
    url?: string;
    token?: string;
    maxQueue: number;
    batchSize: number;
    /** How often each live session's `supercore.session.metrics` event is sent. */
    metricsIntervalMs: number;
  };
  ai: {
    /** N.E.X.U.S AI service; the embedded models answer when absent (and whenever it fails). */
    url?: string;
    token?: string;
    timeoutMs: number;
    /**
     * What the health monitor may do: nothing, report, or also apply (pause a runaway session, lower a
     * stream's quality, reconnect a stalled stream, restart a stuck desktop).
     */
    remediation: 'off' | 'recommend' | 'act';
    monitorIntervalMs: number;
    /** The stuck-desktop watchdog (with `act`): how often each active desktop's agent is asked… */
    watchdogIntervalMs: number;
    /** …how many failed checks in a row mean stuck, and the restart attempts (doubling backoff) before failing. */
    watchdogFailures: number;
    restartAttempts: number;
    restartBackoffMs: number;
  };
  content: {
    /** v-content; files are kept in DATA_DIR/content when absent. */
    url?: string;
    token?: string;
    timeoutMs: number;
    /** Largest file one upload may carry. */
    maxFileBytes: number;
  };
}

const REMEDIATION_MODES = ['off', 'recommend', 'act'] as const;

const httpUrl = (env: NodeJS.ProcessEnv, name: string): string | undefined =>
  url(env, name, ['https:', 'http:']);

export function loadIntegrationsConfig(env: NodeJS.ProcessEnv): IntegrationsConfig {
  const remediation = oneOf(env, 'AI_REMEDIATION', REMEDIATION_MODES, 'act');
  return {
    analytics: {
      url: httpUrl(env, 'ANALYTICS_URL'),
      token: env.ANALYTICS_TOKEN || undefined,
      maxQueue: integer(env, 'ANALYTICS_QUEUE_SIZE', 10_000, 10, 10_000_000),
      batchSize: integer(env, 'ANALYTICS_BATCH_SIZE', 100, 1, 10_000),
      metricsIntervalMs: integer(env, 'ANALYTICS_METRICS_INTERVAL_MS', 60_000, 100, 86_400_000),
    },
    ai: {
      url: httpUrl(env, 'AI_URL'),
      token: env.AI_TOKEN || undefined,
      timeoutMs: integer(env, 'AI_TIMEOUT_MS', 2000, 50, 600_000),
      remediation,
      monitorIntervalMs: integer(env, 'AI_MONITOR_INTERVAL_MS', 60_000, 100, 86_400_000),
      watchdogIntervalMs: integer(env, 'AGENT_HEALTH_INTERVAL_MS', 10_000, 100, 3_600_000),
      watchdogFailures: integer(env, 'AGENT_HEALTH_FAILURES', 3, 1, 100),
      restartAttempts: integer(env, 'DESKTOP_RESTART_ATTEMPTS', 3, 1, 20),
      restartBackoffMs: integer(env, 'DESKTOP_RESTART_BACKOFF_MS', 2000, 0, 600_000),
    },
    content: {
      url: httpUrl(env, 'CONTENT_URL'),
      token: env.CONTENT_TOKEN || undefined,
      timeoutMs: integer(env, 'CONTENT_TIMEOUT_MS', 60_000, 100, 3_600_000),
      maxFileBytes: integer(env, 'CONTENT_MAX_FILE_BYTES', 100 * 1024 * 1024, 1, 1024 ** 4),
    },
  };
}
