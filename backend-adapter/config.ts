import { resolve } from 'node:path';

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

export function loadConfig(env: NodeJS.ProcessEnv): AdapterConfig {
  const origins = env.CORS_ORIGINS?.trim();
  return {
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 8080, 0, 65535),
    dataDir: resolve(env.DATA_DIR || '.data'),
    devMode: flag(env, 'DEV_MODE', false),
    corsOrigins: !origins || origins === '*' ? '*' : origins.split(',').map((o) => o.trim()),
    runtime: {
      xvncBin: env.XVNC_BIN || 'Xvnc',
      windowManager: env.DESKTOP_WM || 'openbox',
      terminal: env.DESKTOP_TERMINAL || 'xterm',
      startTimeoutMs: integer(env, 'DESKTOP_START_TIMEOUT_MS', 15000, 500, 600000),
    },
    logLevel: env.LOG_LEVEL || 'info',
  };
}
