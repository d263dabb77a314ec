import { join } from 'node:path';
import { CachedAuthenticator } from './auth/cached-authenticator.ts';
import { JwksAuthenticator } from './auth/jwks-authenticator.ts';
import { LocalIssuer } from './auth/local-issuer.ts';
import type { Authenticator } from './auth/principal.ts';
import type { CanonStore } from './canon/canon-store.ts';
import { PostgresCanonStore } from './canon/postgres-canon-store.ts';
import { SqliteCanonStore } from './canon/sqlite-canon-store.ts';
import type { AdapterConfig } from './config.ts';
import { InProcessSessionEventBus } from './events/in-process-session-event-bus.ts';
import { RedisSessionEventBus } from './events/redis-session-event-bus.ts';
import type { SessionEventBus } from './events/session-event-bus.ts';
import { RedisStreamTotalsChannel } from './events/redis-stream-totals-channel.ts';
import { RedisWorkspaceEventBus } from './events/redis-workspace-event-bus.ts';
import { InProcessWorkspaceEventBus, type WorkspaceEventBus } from './events/workspace-event-bus.ts';

// What every role opens the same way from the configuration: Canon Memory, the event buses and token checks.

/** PostgreSQL when CANON_DATABASE_URL is set, else the embedded SQLite file in the data directory. */
export async function openCanon(config: AdapterConfig): Promise<CanonStore> {
  return config.canonDatabaseUrl
    ? await PostgresCanonStore.open(config.canonDatabaseUrl)
    : new SqliteCanonStore(join(config.dataDir, 'canon.sqlite'));
}

export interface EventBuses {
  events: SessionEventBus;
  workspaceEvents: WorkspaceEventBus;
  /** Every replica's stream totals (Redis only: one process streams and samples its own sessions). */
  streamTotals?: RedisStreamTotalsChannel;
  /** Present when the buses are Redis: readiness and the 55 check depend on it. */
  redisPing?: () => Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Session and workspace events through Redis pub/sub when REDIS_URL is set (several replicas), else
 * in-process; with Redis, stream totals too.
 */
export async function openEventBuses(config: AdapterConfig): Promise<EventBuses> {
  if (!config.redis) {
    const events = new InProcessSessionEventBus();
    const workspaceEvents = new InProcessWorkspaceEventBus();
    return {
      events,
      workspaceEvents,
      close: async () => {
        await Promise.allSettled([events.close(), workspaceEvents.close()]);
      },
    };
  }
  const { url, prefix } = config.redis;
  const events = await RedisSessionEventBus.connect(url, { prefix });
  let workspaceEvents: WorkspaceEventBus | undefined;
  try {
    workspaceEvents = await RedisWorkspaceEventBus.connect(url, { prefix });
    const streamTotals = await RedisStreamTotalsChannel.connect(url, { prefix });
    return {
      events,
      workspaceEvents,
      streamTotals,
      redisPing: () => events.ping(),
      close: async () => {
        await Promise.allSettled([events.close(), workspaceEvents?.close(), streamTotals.close()]);
      },
    };
  } catch (error) {
    await Promise.allSettled([events.close(), workspaceEvents?.close()]);
    throw error;
  }
}

/**
 * Bearer tokens checked against v-auth's JWKS, or the embedded issuer's key (in the data directory, or
 * AUTH_KEY_FILE: every process of one deployment must read the same file). Verified tokens are remembered for
 * a minute, expiry still checked on every call (CachedAuthenticator).
 */
export async function openAuth(
  config: AdapterConfig,
): Promise<{ auth: Authenticator; issuer: LocalIssuer | undefined }> {
  const issuer = config.auth.jwks ? undefined : await LocalIssuer.open(config.auth.keyFile);
  const verifier = config.auth.jwks ? new JwksAuthenticator(config.auth.jwks) : (issuer as LocalIssuer);
  return { auth: new CachedAuthenticator(verifier), issuer };
}
