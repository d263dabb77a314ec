import { join, resolve } from 'node:path';
import { SUBSCRIPTIONS, TIER_IDS, type Subscription, type TierId } from '../protocol/session-states.ts';
import type { ClusterLimits } from './canon/canon-store.ts';
import { loadBillingConfig, type BillingConfig } from './billing/billing-config.ts';
import { clusterCeiling } from './governance/cluster-ceiling.ts';
import { DEFAULT_POLICY, SPEC_CLUSTER_QUOTA, type LifecyclePolicy } from './lifecycle/lifecycle-policy.ts';
import { loadTierTimeouts } from './tiers/tier-timeouts.ts';
import { loadIntegrationsConfig, type IntegrationsConfig } from './integrations-config.ts';
import { ConfigError, flag, integer, oneOf, url } from './env-vars.ts';
import { loadWebRtcConfig, type WebRtcConfig } from './gateway/webrtc-config.ts';

export { ConfigError } from './env-vars.ts';

/** Everything the adapter reads from its environment; documented in README.md. */
/**
 * What one process serves (ADAPTER_ROLE). `all`, the embedded default and the dev harness: everything.
 * Production runs one role per Deployment: the `orchestrator` (the API, the lifecycle, the runtime, billing;
 * no streams, since the session pods let only the gateway in on their RFB port) and the `stream-gateway`
 * (streams and thumbnails only, from Canon Memory's records: no runtime, so no Kubernetes access).
 */
export const ADAPTER_ROLES = ['all', 'orchestrator', 'stream-gateway'] as const;
export type AdapterRole = (typeof ADAPTER_ROLES)[number];

export interface AdapterConfig {
  role: AdapterRole;
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
  /** RUNTIME: desktops as local processes (embedded default) or as pods in a Kubernetes cluster. */
  runtimeKind: 'local' | 'kubernetes';
  kubernetes: KubernetesRuntimeConfig;
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
  /** NexCoin billing, the tenant registry and the deployment phase (billing/billing-config.ts). */
  billing: BillingConfig;
  /** v-analytics, N.E.X.U.S AI, v-content (integrations-config.ts). */
  integrations: IntegrationsConfig;
  /** The stream gateway's WebRTC DataChannel transport (gateway/webrtc-config.ts). */
  webrtc: WebRtcConfig;
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
  /** The session agent's entry (TypeScript through tsx, or a bundled .mjs); session-agent/main.ts by default. */
  agentEntry?: string;
}

export interface KubernetesRuntimeConfig {
  /** KUBECONFIG: a kubeconfig file; absent inside a cluster (the pod's service account is used). */
  kubeconfigPath?: string;
  namespace: string;
  /** The session image (session-agent/Dockerfile). */
  image: string;
  /** StorageClass of the home volumes: the encrypted one (AES-256 at rest). */
  storageClass: string;
  /** Ready desktops kept per tier so a launch skips pod start-up: the floor of the predicted pool. */
  warmPool: Partial<Record<TierId, number>>;
  /** The most ready desktops per tier the AI's launch predictions may ask for (never below `warmPool`). */
  warmPoolMax: Partial<Record<TierId, number>>;
  /** How often the warm pool's targets are recomputed from the launch predictions. */
  warmPoolForecastIntervalMs: number;
  /** How far ahead the predictions look: a warm desktop must be ready before the launches come. */
  warmPoolLeadMs: number;
  /** A session paused this long is hibernated: pod deleted, home volume kept. */
  hibernateAfterMs: number;
  /** A launch whose pod is not ready by then fails (and everything it created is deleted). */
  startTimeoutMs: number;
  /** A pod no node can take fails the launch after this long. */
  unschedulableTimeoutMs: number;
  /** What happens to a terminated session's home volume. */
  pvcRetention: 'delete' | 'retain';
  /** The uid the desktop runs as (non-root). */
  runAsUser: number;
}

function jwksConfig(env: NodeJS.ProcessEnv): AuthConfig['jwks'] {
  const jwksUrl = url(env, 'AUTH_JWKS_URL', ['https:', 'http:']);
  if (!jwksUrl) return undefined;
  if (!env.AUTH_ISSUER || !env.AUTH_AUDIENCE) {
    throw new ConfigError('AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE');
  }
  return { url: jwksUrl, issuer: env.AUTH_ISSUER, audience: env.AUTH_AUDIENCE };
}

/** WARM_POOL="basic=2,standard=1" (and WARM_POOL_MAX alike): ready desktops per tier. */
function warmPool(env: NodeJS.ProcessEnv, name = 'WARM_POOL'): Partial<Record<TierId, number>> {
  const pool: Partial<Record<TierId, number>> = {};
  for (const part of (env[name] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [tier, size] = part.split('=').map((s) => s.trim());
    const n = Number(size);
    if (!tier || !(TIER_IDS as readonly string[]).includes(tier) || !Number.isInteger(n) || n < 0 || n > 50) {
      throw new ConfigError(
        `${name} must look like "basic=2,standard=1" (tiers: ${TIER_IDS.join(', ')}), got "${part}"`,
      );
    }
    pool[tier as TierId] = n;
  }
  return pool;
}

/** WARM_POOL_MAX: per tier at least the floor (WARM_POOL); a tier it does not name keeps its fixed size. */
function warmPoolMax(
  env: NodeJS.ProcessEnv,
  floor: Partial<Record<TierId, number>>,
): Partial<Record<TierId, number>> {
  const max = { ...floor, ...warmPool(env, 'WARM_POOL_MAX') };
  for (const [tier, n] of Object.entries(max) as Array<[TierId, number]>) {
    if (n < (floor[tier] ?? 0))
      throw new ConfigError(`WARM_POOL_MAX for ${tier} (${n}) must not be below WARM_POOL (${floor[tier]})`);
  }
  return max;
}

function kubernetesConfig(env: NodeJS.ProcessEnv, transitionTimeoutMs: number): KubernetesRuntimeConfig {
  // The runtime's own deadline sits below the lifecycle's, so a launch that fails cleans up after itself.
  const startTimeoutMs = integer(
    env,
    'K8S_START_TIMEOUT_MS',
    Math.max(100, Math.floor(transitionTimeoutMs * 0.8)),
    100,
    3_600_000,
  );
  if (env.RUNTIME === 'kubernetes' && startTimeoutMs >= transitionTimeoutMs) {
    throw new ConfigError('K8S_START_TIMEOUT_MS must be below TRANSITION_TIMEOUT_MS');
  }
  const floor = warmPool(env);
  return {
    kubeconfigPath: env.KUBECONFIG || undefined,
    namespace: env.K8S_NAMESPACE || 'v-supercore',
    image: env.SESSION_IMAGE || 'ghcr.io/n3xus/v-supercore-session:0.1.0',
    storageClass: env.SESSION_STORAGE_CLASS || 'v-supercore-encrypted',
    warmPool: floor,
    warmPoolMax: warmPoolMax(env, floor),
    warmPoolForecastIntervalMs: integer(env, 'WARM_POOL_FORECAST_INTERVAL_MS', 5 * 60_000, 100, 86_400_000),
    warmPoolLeadMs: integer(env, 'WARM_POOL_LEAD_MS', 15 * 60_000, 0, 24 * 3_600_000),
    hibernateAfterMs: integer(env, 'HIBERNATE_AFTER_MS', 30 * 60_000, 1000, 30 * 24 * 3_600_000),
    startTimeoutMs,
    unschedulableTimeoutMs: integer(
      env,
      'K8S_UNSCHEDULABLE_TIMEOUT_MS',
      Math.min(15_000, startTimeoutMs),
      100,
      3_600_000,
    ),
    pvcRetention: oneOf(env, 'PVC_RETENTION', ['delete', 'retain'] as const, 'delete'),
    runAsUser: integer(env, 'SESSION_RUN_AS_USER', 1000, 1, 2_147_483_647),
  };
}

/** The namespace's ResourceQuota as Genesis enforces it; the spec's figures unless configured otherwise. */
function clusterQuota(env: NodeJS.ProcessEnv): Required<ClusterLimits> {
  const spec = SPEC_CLUSTER_QUOTA;
  return {
    maxCpuMillicores: integer(env, 'CLUSTER_QUOTA_CPU_MILLICORES', spec.maxCpuMillicores, 0, 1e12),
    maxMemoryMiB: integer(env, 'CLUSTER_QUOTA_MEMORY_MIB', spec.maxMemoryMiB, 0, 1e12),
    maxStorageGiB: integer(env, 'CLUSTER_QUOTA_STORAGE_GIB', spec.maxStorageGiB, 0, 1e12),
    maxSessions: integer(env, 'CLUSTER_QUOTA_PODS', spec.maxSessions, 0, 1e9),
    maxVolumes: integer(env, 'CLUSTER_QUOTA_PVCS', spec.maxVolumes, 0, 1e9),
  };
}

export function loadConfig(env: NodeJS.ProcessEnv): AdapterConfig {
  const origins = env.CORS_ORIGINS?.trim();
  const dataDir = resolve(env.DATA_DIR || '.data');
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  const limits = DEFAULT_POLICY.limits;
  const billing = loadBillingConfig(env);
  const runtimeKind = oneOf(env, 'RUNTIME', ['local', 'kubernetes'] as const, 'local');
  const role = oneOf(env, 'ADAPTER_ROLE', ADAPTER_ROLES, 'all');
  if (role !== 'all' && !redisUrl) {
    // A workspace change (a member removed, control taken) is made on an orchestrator and must re-gate or close
    // the viewers on the gateways at once; only Redis carries it between processes.
    throw new ConfigError(
      `ADAPTER_ROLE=${role} needs REDIS_URL: the orchestrator's session and workspace changes reach the stream gateway's viewers through Redis`,
    );
  }
  return {
    role,
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
      agentEntry: env.SESSION_AGENT_ENTRY || undefined,
    },
    runtimeKind,
    kubernetes: kubernetesConfig(
      env,
      integer(env, 'TRANSITION_TIMEOUT_MS', DEFAULT_POLICY.transitionTimeoutMs, 100, 3_600_000),
    ),
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
        // The ResourceQuota, its pods bounded by the phase's session ceiling (3.0: 100, 3.5: 1,000, 4.0: 10,000);
        // only Kubernetes sessions hold a persistent volume each.
        cluster: clusterCeiling(billing.phase, clusterQuota(env), runtimeKind === 'kubernetes'),
        maxLiveSessionsPerUser: integer(
          env,
          'MAX_SESSIONS_PER_USER',
          limits.maxLiveSessionsPerUser,
          0,
          100_000,
        ),
        maxCpuMillicoresPerUser: integer(
          env,
          'MAX_USER_CPU_MILLICORES',
          limits.maxCpuMillicoresPerUser,
          0,
          1e9,
        ),
        maxMemoryMiBPerUser: integer(env, 'MAX_USER_MEMORY_MIB', limits.maxMemoryMiBPerUser, 0, 1e9),
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
      tierTimeouts: loadTierTimeouts(env),
    },
    timeoutCheckIntervalMs: integer(env, 'TIMEOUT_CHECK_INTERVAL_MS', 15_000, 100, 3_600_000),
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', 120, 1, 1_000_000),
    billing,
    integrations: loadIntegrationsConfig(env),
    webrtc: loadWebRtcConfig(env),
  };
}
