import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import { HANDSHAKE, MODULE_ID, MODULE_NAME } from '../../../protocol/handshake.ts';
import { parseRoute, routePath, type PaneView } from '../../../module/app/routes.ts';

/** The navigation item exactly as /work/shared/spec/v-supercore-integration-spec.md ("Navigation Integration") gives it. */
const SPEC_NAVIGATION_ITEM = {
  id: 'v-supercore',
  label: 'Virtual Super PC',
  icon: 'CloudCompute',
  path: '/v-supercore',
  module: 'v-supercore',
  phase: '3.0',
};

function readJson(relative: string): unknown {
  return JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8'));
}

type Json = Record<string, unknown>;

const manifest = readJson('../../../manifest/module.json') as Json;
const schema = readJson('../../../manifest/module.schema.json') as Json;
const pkg = readJson('../../../package.json') as { version: string };

const ajv = new Ajv({ allErrors: true });
const validate = ajv.compile(schema);

/** Validation errors as readable lines (empty when valid); works with Ajv 6 and 8 alike. */
function problems(candidate: unknown): string[] {
  if (validate(candidate) === true) return [];
  return (validate.errors ?? []).map((e) => JSON.stringify(e));
}

/** A deep copy of the manifest with `change` applied, so each broken case starts from the real file. */
function broken(change: (copy: Json) => void): Json {
  const copy = structuredClone(manifest);
  change(copy);
  return copy;
}

describe('manifest/module.json', () => {
  it('is valid against manifest/module.schema.json', () => {
    assert.deepEqual(problems(manifest), []);
  });

  it("carries the spec's navigation item exactly", () => {
    assert.deepEqual(manifest.navigation, SPEC_NAVIGATION_ITEM);
  });

  it('is module 18, v-supercore, with the 55-45-17 handshake and the package version', () => {
    assert.equal(manifest.id, MODULE_ID);
    assert.equal(manifest.name, MODULE_NAME);
    assert.equal(manifest.handshake, HANDSHAKE);
    assert.equal(manifest.version, pkg.version);
    assert.equal(manifest.remoteName, 'v_supercore');
  });

  it('lists the four panes once each, under the navigation path', () => {
    const panes = manifest.panes as { id: string; label: string; path: string }[];
    assert.deepEqual(panes.map((p) => p.id).sort(), [
      'active-sessions',
      'quick-launch',
      'resource-monitor',
      'settings',
    ]);
    assert.equal(new Set(panes.map((p) => p.path)).size, panes.length, 'pane paths are distinct');
    for (const pane of panes) assert.ok(pane.path.startsWith(SPEC_NAVIGATION_ITEM.path), pane.path);
  });

  it('points entry at an mf-manifest.json and exposes ./module', () => {
    assert.match(String(manifest.entry), /^https?:\/\/.+\/mf-manifest\.json$/);
    assert.ok(Object.hasOwn(manifest.exposes as Json, './module'));
  });

  it("matches the module's routes: each pane path opens that pane, and every pane is listed", () => {
    const expected: Record<string, PaneView> = {
      'quick-launch': 'launch',
      'active-sessions': 'sessions',
      'resource-monitor': 'resources',
      settings: 'settings',
    };
    const panes = manifest.panes as { id: string; path: string }[];
    for (const pane of panes) {
      const view = expected[pane.id];
      assert.ok(view, `unknown pane ${pane.id}`);
      assert.deepEqual(parseRoute(pane.path), { view }, pane.path);
      assert.equal(routePath({ view }), pane.path, `the module links ${view} to ${pane.path}`);
    }
  });

  it('exposes ./session-parcel as a single-spa parcel, as webpack.config.ts builds it', () => {
    const exposes = manifest.exposes as Record<string, Json>;
    const parcel = exposes['./session-parcel'];
    assert.equal(parcel?.kind, 'single-spa-parcel');
    assert.deepEqual((parcel?.customProps as Json).required, ['apiBase', 'getToken', 'sessionId']);
    const webpackConfig = readFileSync(new URL('../../../webpack.config.ts', import.meta.url), 'utf8');
    for (const expose of Object.keys(exposes)) {
      assert.match(webpackConfig, new RegExp(`'${expose.replace('.', '\\.')}': '\\./module/`), expose);
    }
  });
});

describe('manifest/module.schema.json rejects a broken manifest', () => {
  const cases: [string, (copy: Json) => void][] = [
    ['without the navigation item', (m) => delete m.navigation],
    ['with another handshake', (m) => (m.handshake = '55-45-18')],
    ['with another module id', (m) => (m.id = 17)],
    ['with a renamed navigation label', (m) => ((m.navigation as Json).label = 'Virtual PC')],
    ['with an extra navigation field', (m) => ((m.navigation as Json).badge = 'new')],
    ['without the navigation icon', (m) => delete (m.navigation as Json).icon],
    ['with a relative entry', (m) => (m.entry = '/mf-manifest.json')],
    ['without ./module in exposes', (m) => (m.exposes = {})],
    [
      'with a pane outside /v-supercore',
      (m) => {
        for (const pane of m.panes as Json[]) pane.path = '/settings';
      },
    ],
    ['with an unknown top-level field', (m) => (m.colour = 'blue')],
  ];
  for (const [name, change] of cases) {
    it(name, () => {
      assert.notDeepEqual(problems(broken(change)), []);
    });
  }
});
