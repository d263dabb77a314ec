import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { Preferences } from '../../protocol/preferences.ts';
import type { Tier } from '../../protocol/session.ts';

/** What the Settings pane needs to open without the network: the last known settings and tier catalogue. */
export interface CachedPreferences {
  preferences: Preferences;
  /** The server's timestamp of that write; null while the user had the defaults. */
  updatedAt: string | null;
  /** `Date.now()` when it was cached. */
  cachedAt: number;
  tiers: Tier[] | null;
}

/** The cache the preferences store talks to (the IndexedDB one below, or a test double). */
export interface PreferencesCacheLike {
  read(key: string): Promise<CachedPreferences | undefined>;
  write(key: string, value: CachedPreferences): Promise<void>;
  close(): void;
}

interface CacheSchema extends DBSchema {
  preferences: { key: string; value: CachedPreferences };
}

/** The IndexedDB database v-SuperCore keeps its cache in (one per origin of the page). */
export const CACHE_DB_NAME = 'v-supercore';
const CACHE_DB_VERSION = 1;

/**
 * The user's settings cached in IndexedDB (through `idb`), keyed by backend and user, so the Settings pane opens
 * at once and still shows them offline. Best effort: when IndexedDB is unavailable (private windows, quota,
 * blocked) reads find nothing and writes are dropped; nothing throws.
 */
export class PreferencesCache implements PreferencesCacheLike {
  private db: Promise<IDBPDatabase<CacheSchema>> | undefined;

  constructor(private readonly name = CACHE_DB_NAME) {}

  async read(key: string): Promise<CachedPreferences | undefined> {
    try {
      return await (await this.open()).get('preferences', key);
    } catch {
      return undefined;
    }
  }

  async write(key: string, value: CachedPreferences): Promise<void> {
    try {
      await (await this.open()).put('preferences', value, key);
    } catch {
      // The cache is an optimisation: a failed write only means the next offline start shows less.
    }
  }

  /** Closes the connection (it reopens on the next read or write). */
  close(): void {
    const db = this.db;
    this.db = undefined;
    db?.then(
      (d) => d.close(),
      () => undefined,
    );
  }

  private open(): Promise<IDBPDatabase<CacheSchema>> {
    this.db ??= openDB<CacheSchema>(this.name, CACHE_DB_VERSION, {
      upgrade(db) {
        if (!db.objectStoreNames.contains('preferences')) db.createObjectStore('preferences');
      },
      // A newer copy of the module wants to upgrade the database: let it.
      blocking: () => this.close(),
      terminated: () => {
        this.db = undefined;
      },
    }).catch((error: unknown) => {
      this.db = undefined;
      throw error;
    });
    return this.db;
  }
}

/**
 * The cache key of a user on a backend: the token's `sub` claim when it is a JWT (read, not verified — it only
 * picks a cache entry), else one shared entry per backend.
 */
export function cacheKey(apiBase: string, token: string): string {
  return `${apiBase}|${jwtSubject(token) ?? '-'}`;
}

function jwtSubject(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const json: unknown = JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '=')));
    const sub = typeof json === 'object' && json !== null ? (json as { sub?: unknown }).sub : undefined;
    return typeof sub === 'string' && sub !== '' ? sub : undefined;
  } catch {
    return undefined;
  }
}
