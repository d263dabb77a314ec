import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../backend-adapter/config.ts';
import { agentConfigFromEnv } from '../../../session-agent/agent.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
/** What the adapter, the session agent, the dev harness and the setup scripts run. */
const APP_DIRS = ['backend-adapter', 'session-agent', 'harness', 'scripts'];
/** Tests, benchmarks and root tool configs: only their direct `process.env` reads are settings. */
const TOOL_DIRS = ['test', 'bench'];
/** The operating system's own variables, passed through to desktops, not settings of ours. */
const NOT_SETTINGS = new Set(['PATH', 'HOME', 'LANG', 'SHELL']);

const NAME = '([A-Z][A-Z0-9_]*[A-Z0-9])';

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ts|mjs)$/.test(f) && !f.includes('node_modules'))
    .map((f) => join(root, dir, f));
}

/** Direct reads: `process.env.X`, `env.X`, `env?.X`, `env['X']`. */
function directReads(source: string, processEnvOnly: boolean): string[] {
  const prefix = processEnvOnly ? 'process\\.env' : '\\benv';
  return [
    ...source.matchAll(new RegExp(`${prefix}\\??\\.${NAME}\\b`, 'g')),
    ...source.matchAll(new RegExp(`${prefix}\\[\\s*['"]${NAME}['"]\\s*\\]`, 'g')),
  ].map((m) => m[1] ?? '');
}

/**
 * Reads through a helper that takes the variable's name: `integer(env, 'X', …)`, `port('X', …)` (a function with
 * a `name` parameter in a file that reads `env[name]`), or a helper's default name (`name = 'X'`).
 */
function helperReads(source: string, helpers: ReadonlySet<string>): string[] {
  const found = [
    ...source.matchAll(new RegExp(`\\(\\s*(?:process\\.)?env\\s*,\\s*['"]${NAME}['"]`, 'g')),
    ...source.matchAll(new RegExp(`\\bname(?:\\s*:\\s*string)?\\s*=\\s*['"]${NAME}['"]`, 'g')),
  ];
  if (helpers.size > 0) {
    found.push(...source.matchAll(new RegExp(`\\b(?:${[...helpers].join('|')})\\(\\s*['"]${NAME}['"]`, 'g')));
  }
  return found.map((m) => m[1] ?? '');
}

function envHelpers(sources: string[]): Set<string> {
  const helpers = new Set<string>();
  for (const source of sources) {
    if (!/env\[name\]/.test(source)) continue;
    for (const m of source.matchAll(/function (\w+)(?:<[^>]*>)?\(([^)]*)\)/g)) {
      if (/\bname\b/.test(m[2] ?? '')) helpers.add(m[1] ?? '');
    }
  }
  return helpers;
}

/** Every name the loader reads from `env` when given it (the reads a scan of the source could miss). */
function readsAtRuntime(load: (env: NodeJS.ProcessEnv) => unknown, env: NodeJS.ProcessEnv): Set<string> {
  const names = new Set<string>();
  const recording = new Proxy(env, {
    get(target, property) {
      if (typeof property === 'string' && /^[A-Z][A-Z0-9_]*$/.test(property)) names.add(property);
      return Reflect.get(target, property) as unknown;
    },
  });
  load(recording);
  return names;
}

function variablesInCode(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (name: string, where: string) => {
    if (NOT_SETTINGS.has(name)) return;
    found.set(name, [...(found.get(name) ?? []), where]);
  };
  const appFiles = APP_DIRS.flatMap(sourceFiles);
  const appSources = appFiles.map((f) => readFileSync(f, 'utf8'));
  const helpers = envHelpers(appSources);
  appFiles.forEach((file, i) => {
    const source = appSources[i] ?? '';
    for (const name of [...directReads(source, false), ...helperReads(source, helpers)]) {
      add(name, file.slice(root.length));
    }
  });
  const rootConfigs = readdirSync(root).filter((f) => /\.(ts|mjs)$/.test(f));
  for (const file of [...TOOL_DIRS.flatMap(sourceFiles), ...rootConfigs.map((f) => join(root, f))]) {
    for (const name of directReads(readFileSync(file, 'utf8'), true)) add(name, file.slice(root.length));
  }
  const profiles: NodeJS.ProcessEnv[] = [
    {},
    {
      RUNTIME: 'kubernetes',
      AUTH_JWKS_URL: 'https://v-auth.example/jwks.json',
      AUTH_ISSUER: 'https://v-auth.example',
      AUTH_AUDIENCE: 'v-supercore',
      REDIS_URL: 'redis://127.0.0.1:6379',
      CANON_DATABASE_URL: 'postgres://127.0.0.1/canon',
      NEXCOIN_WALLET_URL: 'https://wallet.example',
    },
  ];
  for (const env of profiles) {
    for (const name of readsAtRuntime(loadConfig, env)) add(name, 'loadConfig()');
  }
  const agentEnv = { AGENT_TOKEN: 'a'.repeat(24), VNC_PASSWORD: 'secret12' };
  for (const name of readsAtRuntime((env) => agentConfigFromEnv(env, '/tmp'), agentEnv)) {
    add(name, 'agentConfigFromEnv()');
  }
  return found;
}

/** The variables named in the first column of the README's configuration tables. */
function variablesInReadme(): Set<string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('## Configuration (environment variables)');
  assert.ok(start >= 0, 'README.md has no "Configuration (environment variables)" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('|') || /^\|\s*-/.test(line)) continue;
    const firstCell = line.split('|')[1] ?? '';
    for (const m of firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(m[1] ?? '');
  }
  return names;
}

describe('README configuration table', () => {
  const inCode = variablesInCode();
  const documented = variablesInReadme();

  it('finds the variables each part reads (the scan itself works)', () => {
    for (const name of [
      'PORT', // adapter (integer helper) and harness (its own port helper)
      'REMOTE_PORT', // harness only
      'WARM_POOL', // a helper's default name
      'CANON_DATABASE_URL', // url helper
      'STREAM_WEBRTC_TURN_CREDENTIAL', // direct env.X read in another file
      'AGENT_TOKEN', // session agent
      'CHROMIUM_PATH', // setup script and tests
      'CANON_TEST_DATABASE_URL', // tests only
    ]) {
      assert.ok(inCode.has(name), `the scan missed ${name}`);
    }
    assert.ok(
      !inCode.has('SIGTERM') && !inCode.has('AUTH_INVALID'),
      'the scan took other strings for variables',
    );
  });

  it('documents every environment variable the code reads', () => {
    const missing = [...inCode.keys()].filter((name) => !documented.has(name)).sort();
    assert.deepEqual(
      missing.map((name) => `${name} (${[...new Set(inCode.get(name))].join(', ')})`),
      [],
      'add these to the configuration tables of README.md',
    );
  });

  it('lists no variable the code no longer reads', () => {
    const stale = [...documented].filter((name) => !inCode.has(name)).sort();
    assert.deepEqual(stale, [], 'README.md documents variables nothing reads');
  });
});
