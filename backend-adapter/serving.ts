import type { FastifyInstance } from 'fastify';
import type { AdapterConfig } from './config.ts';

// Starting and stopping a role's process: the same for every role.

/** Listens on the configured host and port (0: any free port) and says where. */
export async function listen(
  app: FastifyInstance,
  config: Pick<AdapterConfig, 'host' | 'port'>,
): Promise<{ url: string; port: number }> {
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return { url: `http://${host}:${port}`, port };
}

/** Closes in reverse order of opening; every closer runs even if one fails. */
export async function closeAll(closers: Array<() => Promise<void>>): Promise<void> {
  for (const close of closers.reverse()) await close().catch(() => undefined);
}
