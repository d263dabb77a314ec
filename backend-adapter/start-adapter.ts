import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import { buildApp } from './app.ts';
import { LocalIssuer } from './auth/local-issuer.ts';
import type { CanonStore } from './canon/canon-store.ts';
import { SqliteCanonStore } from './canon/sqlite-canon-store.ts';
import type { AdapterConfig } from './config.ts';
import { SessionLifecycle } from './lifecycle/session-lifecycle.ts';
import { createLogger } from './logging/logger.ts';
import { LocalDesktopRuntime } from './runtime/local/local-desktop-runtime.ts';

export interface RunningAdapter {
  url: string;
  port: number;
  canon: CanonStore;
  lifecycle: SessionLifecycle;
  issuer: LocalIssuer;
  /** Stops serving. Desktops keep running: sessions survive a restart and are reconciled at the next start. */
  close(): Promise<void>;
}

/** Wires the embedded defaults (SQLite Canon Memory, local issuer, local Xvnc runtime) and starts listening. */
export async function startAdapter(
  config: AdapterConfig,
  options: { logDestination?: DestinationStream } = {},
): Promise<RunningAdapter> {
  const logger = createLogger({
    service: 'orchestrator',
    level: config.logLevel,
    destination: options.logDestination,
  });
  const canon = new SqliteCanonStore(join(config.dataDir, 'canon.sqlite'));
  const issuer = await LocalIssuer.open(join(config.dataDir, 'auth', 'issuer-key.json'));
  const runtime = new LocalDesktopRuntime(config.runtime, join(config.dataDir, 'sessions'));
  const lifecycle = new SessionLifecycle({ canon, runtime, logger });
  await lifecycle.reconcile();

  const app = await buildApp({ config, logger, canon, runtime, lifecycle, issuer });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `http://${host}:${port}`,
    port,
    canon,
    lifecycle,
    issuer,
    async close() {
      await app.close();
      await canon.close();
    },
  };
}
