import { join, resolve } from 'node:path';
import { SUBSCRIPTIONS, type Subscription } from '../protocol/session-states.ts';
import { DEFAULT_POLICY, type LifecyclePolicy } from './lifecycle/lifecycle-policy.ts';

/** Everything the adapter reads from its environment; documented in README.md. */
export interface AdapterConfig {
  host: string;
  port: number;
  /** Canon Memory (SQLite), issuer keys and the sessions' working directories live here. */
  dataDir: string;
  /** Enables `POST /api/v1/dev/login`; never on in production. */
  devMode: boolean;
  /** Origins allowed to call the API from a browser (the host shell's origin). */
  corsOrigins: string[] | '*';
  /** Serves a static site at `/` (the dev harness), with index.html for client-side routes. */
  staticSite?: StaticSiteConfig;
  runtime: LocalRuntimeConfig;
  logLevel: string;
  /** PostgreSQL connection string; Canon Memory is embedded SQLite in DATA_DIR when absent. */
  canonDatabaseUrl?: string;
  /** Redis for cross-replica events and locks; in-process when absent (one replica). */
  redis?: { url: string; prefix: string };
  auth: AuthConfig;
  policy: LifecyclePolicy;
  /** How often idle and maximum-length timeouts are checked. */
  timeoutCheckIntervalMs: number;
  /** Mutating API calls per user per minute. */
  rateLimitPerMinute: number;
}

export interface AuthConfig {
  /** The embedded issuer's key (shared by replicas that use it). */
  keyFile: string;
  /** v-auth: verify tokens against this JWKS instead of the embedded issuer. */
  jwks?: { url: string; issuer: string; audience: string };
  /** Subscription a dev-login token carries when the request names none. */
  devSubscription: Subscription;
}

export interface StaticSiteConfig {
  root: string;
  spaFallback: boolean;
  /** JSON documents made at start-up (e.g. the module manifest with this run's remote URL), by URL path. */
  generatedJson?: Record<string, unknown>;
}

export interface LocalRuntimeConfig {
  xvncBin: string;
  windowManager: string;
  terminal: string;
  /** How long a desktop may take to accept connections before the launch fails. */
  startTimeoutMs: number;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
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

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be a boolean (1/0, true/false), got "${env[name]}"`);
}

function oneOf<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function url(env: NodeJS.ProcessEnv, name: string, protocols: readonly string[]): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL`);
  }
  if (!protocols.includes(parsed.protocol))
    throw new ConfigError(`${name} must use ${protocols.join(' or ')}`);
  return raw;
}

function jwksConfig(env: NodeJS.ProcessEnv): AuthConfig['jwks'] {
  const jwksUrl = url(env, 'AUTH_JWKS_URL', ['https:', 'http:']);
  if (!jwksUrl) return undefined;
  if (!env.AUTH_ISSUER || !env.AUTH_AUDIENCE) {
    throw new ConfigError('AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE');
  }
  return { url: jwksUrl, issuer: env.AUTH_ISSUER, audience: env.AUTH_AUDIENCE };
}

export function loadConfig(env: NodeJS.ProcessEnv): AdapterConfig {
  const origins = env.CORS_ORIGINS?.trim();
  const dataDir = resolve(env.DATA_DIR || '.data');
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  const limits = DEFAULT_POLICY.limits;
  return {
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 8080, 0, 65535),
    dataDir,
    devMode: flag(env, 'DEV_MODE', false),
    corsOrigins: !origins || origins === '*' ? '*' : origins.split(',').map((o) => o.trim()),
    runtime: {
      xvncBin: env.XVNC_BIN || 'Xvnc',
      windowManager: env.DESKTOP_WM || 'openbox',
      terminal: env.DESKTOP_TERMINAL || 'xterm',
      startTimeoutMs: integer(env, 'DESKTOP_START_TIMEOUT_MS', 15000, 500, 600000),
    },
    logLevel: env.LOG_LEVEL || 'info',
    canonDatabaseUrl: url(env, 'CANON_DATABASE_URL', ['postgres:', 'postgresql:']),
    redis: redisUrl ? { url: redisUrl, prefix: env.REDIS_PREFIX || 'v-supercore:' } : undefined,
    auth: {
      keyFile: resolve(env.AUTH_KEY_FILE || join(dataDir, 'auth', 'issuer-key.json')),
      jwks: jwksConfig(env),
      devSubscription: oneOf(env, 'DEV_SUBSCRIPTION', SUBSCRIPTIONS, 'enterprise'),
    },
    policy: {
      ...DEFAULT_POLICY,
      limits: {
        ...limits,
        maxLiveSessionsPerUser: integer(
          env,
          'MAX_SESSIONS_PER_USER',
          limits.maxLiveSessionsPerUser,
          0,
          100_000,
        ),
        maxLiveSessionsPerTenant: integer(
          env,
          'MAX_SESSIONS_PER_TENANT',
          limits.maxLiveSessionsPerTenant,
          0,
          1_000_000,
        ),
        maxCpuMillicoresPerTenant: integer(
          env,
          'MAX_TENANT_CPU_MILLICORES',
          limits.maxCpuMillicoresPerTenant,
          0,
          1e9,
        ),
        maxMemoryMiBPerTenant: integer(env, 'MAX_TENANT_MEMORY_MIB', limits.maxMemoryMiBPerTenant, 0, 1e9),
      },
      transitionTimeoutMs: integer(
        env,
        'TRANSITION_TIMEOUT_MS',
        DEFAULT_POLICY.transitionTimeoutMs,
        100,
        3_600_000,
      ),
    },
    timeoutCheckIntervalMs: integer(env, 'TIMEOUT_CHECK_INTERVAL_MS', 15_000, 100, 3_600_000),
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', 120, 1, 1_000_000),
  };
}
