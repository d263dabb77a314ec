import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { builtinModules } from 'node:module';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../../protocol/handshake.ts';
import { REDIS_TEST_URL, uniquePrefix } from '../../support/redis-fixture.ts';

// No Docker engine runs on these machines, so the image is never built here. This builds what its build
// stage builds, with the esbuild command read from the Dockerfile, lays it out as the image does (/app:
// dist/adapter/main.mjs, manifest/, node_modules, package.json) and starts it in each role.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOCKERFILE = readFileSync(join(ROOT, 'backend-adapter/Dockerfile'), 'utf8');

/** The arguments of the Dockerfile's esbuild run for the adapter, its outfile moved under `app`. */
function esbuildArgs(app: string): string[] {
  const command = /npx esbuild (backend-adapter\/main\.ts[\s\S]*?--outfile=dist\/adapter\/main\.mjs)/.exec(
    DOCKERFILE,
  );
  assert.ok(command?.[1], 'the Dockerfile bundles backend-adapter/main.ts into dist/adapter/main.mjs');
  // Its line continuations (`\` at the end of a line) are plain spaces here.
  const args = command[1].replace(/\\\n/g, ' ').split(/\s+/).filter(Boolean);
  return args.map((a) =>
    a.startsWith('--outfile=') ? `--outfile=${join(app, 'dist/adapter/main.mjs')}` : a,
  );
}

/** The Dockerfile's CMD: `node`, its flags, then the bundle. */
function imageCommand(): { flags: string[]; script: string } {
  const cmd = /^CMD (\[.*\])$/m.exec(DOCKERFILE)?.[1];
  assert.ok(cmd, 'the Dockerfile has a CMD in exec form');
  const argv = JSON.parse(cmd) as string[];
  assert.equal(argv[0], 'node');
  assert.equal(argv.at(-1), 'dist/adapter/main.mjs');
  return { flags: argv.slice(1, -1), script: 'dist/adapter/main.mjs' };
}

/** Starts the bundle as the image's CMD does; resolves with its URL once it says it listens. */
function startBundle(app: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [...imageCommand().flags, join(app, imageCommand().script)], {
    cwd: app,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const found = /listening on (http:\/\/\S+)/.exec(output);
      if (found?.[1]) resolve(found[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the bundle exited (${String(code)}): ${output}`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

describe('the adapter as its image builds it (Dockerfile build stage, no Docker)', () => {
  let app: string;
  before(() => {
    app = mkdtempSync(join(tmpdir(), 'vsc-image-'));
    execFileSync(join(ROOT, 'node_modules/.bin/esbuild'), [...esbuildArgs(app), '--log-level=warning'], {
      cwd: ROOT,
    });
    cpSync(join(ROOT, 'manifest'), join(app, 'manifest'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(app, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'), 'dir');
  });
  after(() => rmSync(app, { recursive: true, force: true }));

  it('imports only packages the image installs (dependencies, not devDependencies)', () => {
    const bundle = readFileSync(join(app, 'dist/adapter/main.mjs'), 'utf8');
    const specifiers = new Set<string>();
    for (const m of bundle.matchAll(/(?:^|[\s;])(?:import|export)\s[^"']*?from\s*["']([^"']+)["']/gm))
      specifiers.add(m[1] ?? '');
    for (const m of bundle.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) specifiers.add(m[1] ?? '');
    const packageOf = (s: string) =>
      s
        .split('/')
        .slice(0, s.startsWith('@') ? 2 : 1)
        .join('/');
    const imported = [...specifiers]
      .filter((s) => !s.startsWith('.') && !s.startsWith('node:'))
      .map(packageOf)
      .filter((p) => !builtinModules.includes(p));
    assert.ok(imported.includes('fastify') && imported.includes('pg'), 'the bundle keeps packages external');
    const { dependencies } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    assert.deepEqual(
      imported.filter((p) => !(p in dependencies)),
      [],
    );
  });

  for (const [role, tiersStatus] of [
    ['all', 401],
    ['orchestrator', 401],
    ['stream-gateway', 404],
  ] as const) {
    it(`starts as ${role}: healthy, and serves the API only where that role does`, async () => {
      const data = mkdtempSync(join(tmpdir(), 'vsc-image-data-'));
      // A split role needs Redis (config.ts); each run its own key prefix.
      const redis: Record<string, string> =
        role === 'all' ? {} : { REDIS_URL: REDIS_TEST_URL, REDIS_PREFIX: uniquePrefix(role) };
      const running = startBundle(app, { ADAPTER_ROLE: role, DATA_DIR: data, ...redis });
      try {
        const url = await running.url;
        const health = await fetch(`${url}/healthz`);
        assert.equal(health.status, 200);
        assert.deepEqual(await health.json(), { status: 'ok', handshake: HANDSHAKE });
        // No token: the orchestrator asks for one; the gateway has no such route at all.
        const tiers = await fetch(`${url}/api/v1/tiers`, { headers: { [HANDSHAKE_HEADER]: HANDSHAKE } });
        assert.equal(tiers.status, tiersStatus);
        assert.equal((await fetch(`${url}/readyz`)).status, 200);
      } finally {
        await running.stop();
        rmSync(data, { recursive: true, force: true });
      }
    });
  }
});
