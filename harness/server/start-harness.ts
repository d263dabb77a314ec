import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { loadConfig } from '../../backend-adapter/config.ts';
import { startAdapter } from '../../backend-adapter/start-adapter.ts';

export interface HarnessOptions {
  /** Port of the page and the backend adapter (0 = any free port). */
  port: number;
  /** Port of the remote's static server (0 = any free port). Must differ from `port`: see startRemoteServer. */
  remotePort: number;
  /** Interface both listen on; default 127.0.0.1. */
  host?: string;
  dataDir: string;
  /** Passed to the adapter's loadConfig (LOG_LEVEL, XVNC_BIN …); default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface RunningHarness {
  /** The page (and the API), e.g. http://127.0.0.1:8080 */
  url: string;
  /** Where dist/remote is served, e.g. http://127.0.0.1:8081 */
  remoteUrl: string;
  close(): Promise<void>;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const remoteDir = path.join(repoRoot, 'dist/remote');
const harnessDir = path.join(repoRoot, 'dist/harness');
const manifestSource = path.join(repoRoot, 'manifest/module.json');

/** A URL host for what we listen on: wildcard addresses are not somewhere a browser can go. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function requireBuild(dir: string, file: string): void {
  if (!existsSync(path.join(dir, file))) {
    throw new Error(
      `${path.relative(repoRoot, path.join(dir, file))} is missing: run \`npm run build\` first.`,
    );
  }
}

/**
 * Serves dist/remote the way a CDN would serve the remote to a host on another origin: CORS open (the host's
 * Module Federation runtime fetches mf-manifest.json cross-origin), content-hashed chunks cached for good, and
 * the two files whose names never change (remoteEntry.js, mf-manifest.json) revalidated on every load so a new
 * build is picked up. Running it on its own port keeps the harness honest: the page and the remote are different
 * origins, as in production, so the cross-origin worker path is what gets exercised.
 */
async function startRemoteServer(host: string, port: number): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: false });
  await app.register(fastifyCors, { origin: '*' });
  await app.register(fastifyStatic, {
    root: remoteDir,
    // Looked up per request (the default), so a rebuild's new hashed chunks are served without a restart.
    wildcard: true,
    index: false,
    cacheControl: false,
    setHeaders(reply, filePath) {
      const hashed = /\.[0-9a-f]{12}\.js(\.map)?$/.test(filePath);
      reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return { app, url: `http://${urlHost(host)}:${actualPort}` };
}

/** manifest/module.json with `entry` pointing at this run's remote server; the page reads it at /module.json. */
async function harnessManifest(remoteUrl: string): Promise<Record<string, unknown>> {
  const manifest = JSON.parse(await readFile(manifestSource, 'utf8')) as Record<string, unknown>;
  return { ...manifest, entry: `${remoteUrl}/mf-manifest.json` };
}

/**
 * The standalone dev harness: the remote on `remotePort`, and on `port` the backend adapter (dev mode) serving
 * the harness page, its module manifest and the API. Needs a finished `npm run build`.
 */
export async function startHarness(options: HarnessOptions): Promise<RunningHarness> {
  const host = options.host ?? '127.0.0.1';
  requireBuild(remoteDir, 'mf-manifest.json');
  requireBuild(harnessDir, 'index.html');

  const remote = await startRemoteServer(host, options.remotePort);
  try {
    const env = options.env ?? process.env;
    const config = {
      ...loadConfig({
        ...env,
        HOST: host,
        PORT: String(options.port),
        DATA_DIR: options.dataDir,
        DEV_MODE: '1',
      }),
      // Served per run rather than written into dist/, so several harnesses can run side by side.
      staticSite: {
        root: harnessDir,
        spaFallback: true,
        generatedJson: { '/module.json': await harnessManifest(remote.url) },
      },
    };
    const adapter = await startAdapter(config);
    return {
      url: adapter.url,
      remoteUrl: remote.url,
      async close() {
        // Both, even if one fails; then report the first failure.
        const results = await Promise.allSettled([adapter.close(), remote.app.close()]);
        const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failure) throw failure.reason;
      },
    };
  } catch (error) {
    await remote.app.close();
    throw error;
  }
}
