import { ConfigError } from './config.ts';

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
    /** What the health monitor may do: nothing, report, or also apply (pause a runaway session). */
    remediation: 'off' | 'recommend' | 'act';
    monitorIntervalMs: number;
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

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function httpUrl(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new ConfigError(`${name} must use https: or http:`);
  }
  return raw;
}

const REMEDIATION_MODES = ['off', 'recommend', 'act'] as const;

export function loadIntegrationsConfig(env: NodeJS.ProcessEnv): IntegrationsConfig {
  const remediation = env.AI_REMEDIATION || 'act';
  if (!(REMEDIATION_MODES as readonly string[]).includes(remediation)) {
    throw new ConfigError(
      `AI_REMEDIATION must be one of ${REMEDIATION_MODES.join(', ')}, got "${remediation}"`,
    );
  }
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
      remediation: remediation as IntegrationsConfig['ai']['remediation'],
      monitorIntervalMs: integer(env, 'AI_MONITOR_INTERVAL_MS', 60_000, 100, 86_400_000),
    },
    content: {
      url: httpUrl(env, 'CONTENT_URL'),
      token: env.CONTENT_TOKEN || undefined,
      timeoutMs: integer(env, 'CONTENT_TIMEOUT_MS', 60_000, 100, 3_600_000),
      maxFileBytes: integer(env, 'CONTENT_MAX_FILE_BYTES', 100 * 1024 * 1024, 1, 1024 ** 4),
    },
  };
}
