import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../protocol/handshake.ts';
import type { LocalIssuer } from '../../backend-adapter/auth/local-issuer.ts';
import { loadConfig } from '../../backend-adapter/config.ts';
import { startAdapter, type RunningAdapter } from '../../backend-adapter/start-adapter.ts';

export interface TestAdapter {
  adapter: RunningAdapter;
  /** The embedded issuer (tests run without v-auth). */
  issuer: LocalIssuer;
  dataDir: string;
  logs: string[];
  login(userId: string, tenantId?: string): Promise<string>;
  /** fetch against the adapter with the handshake header and, when given, the bearer token. */
  api(
    path: string,
    init?: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{
    status: number;
    body: unknown;
  }>;
  /** Restart on the same data directory (the desktops keep running in between). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** A real backend adapter on a free port with its own data directory, logs captured for assertions. */
export async function startTestAdapter(env: NodeJS.ProcessEnv = {}): Promise<TestAdapter> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vsc-adapter-'));
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const config = () =>
    loadConfig({ PATH: process.env.PATH, DEV_MODE: '1', PORT: '0', DATA_DIR: dataDir, ...env });
  let adapter = await startAdapter(config(), { logDestination: destination });

  const fixture: TestAdapter = {
    get adapter() {
      return adapter;
    },
    get issuer() {
      if (!adapter.issuer) throw new Error('the adapter runs without the embedded issuer');
      return adapter.issuer;
    },
    dataDir,
    logs,
    async login(userId, tenantId = 'tenant-a') {
      const res = await fixture.api('/api/v1/dev/login', { method: 'POST', body: { userId, tenantId } });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
      return (res.body as { token: string }).token;
    },
    async api(path, init = {}) {
      const headers: Record<string, string> = { [HANDSHAKE_HEADER]: HANDSHAKE, ...init.headers };
      if (init.token) headers.authorization = `Bearer ${init.token}`;
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(adapter.url + path, {
        method: init.method ?? 'GET',
        headers,
        body:
          init.body === undefined
            ? undefined
            : typeof init.body === 'string'
              ? init.body
              : JSON.stringify(init.body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
    },
    async restart() {
      await adapter.close();
      adapter = await startAdapter(config(), { logDestination: destination });
    },
    async close() {
      // Ends every desktop this adapter started, so no test leaves an Xvnc behind.
      for (const row of await adapter.canon.listUnfinished()) {
        if (row.runtime?.kind === 'local') {
          try {
            process.kill(-row.runtime.pgid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      await adapter.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return fixture;
}
