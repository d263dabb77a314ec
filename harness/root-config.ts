/**
 * The dev harness's single-spa root config: a stand-in for the N3XUS shell. It learns everything about
 * v-SuperCore from the module manifest (`/module.json`, written by harness/server/start-harness.ts), loads the
 * remote through the Module Federation runtime — as any foreign shell would, nothing is bundled in — and passes
 * the host contract's custom props (`apiBase`, `getToken`).
 */
import { init, loadRemote } from '@module-federation/enhanced/runtime';
import * as singleSpa from 'single-spa';
import { addErrorHandler, navigateToUrl, registerApplication, start, type LifeCycles } from 'single-spa';
import type { DevLoginRequest, DevLoginResponse } from '../protocol/api.ts';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../protocol/handshake.ts';

/** Set by webpack.config.ts (DefinePlugin) from node_modules/single-spa and package.json. */
declare const __HARNESS_SINGLE_SPA_VERSION__: string;
declare const __HARNESS_SINGLE_SPA_RANGE__: string;
declare const __HARNESS_RXJS_VERSION__: string;
declare const __HARNESS_RXJS_RANGE__: string;
declare const __HARNESS_LIT_VERSION__: string;
declare const __HARNESS_LIT_RANGE__: string;

/** The part of manifest/module.json a host needs. */
interface NavigationItem {
  id: string;
  label: string;
  icon: string;
  path: string;
  module: string;
  phase: string;
}

interface ModuleManifest {
  name: string;
  entry: string;
  remoteName: string;
  navigation: NavigationItem;
}

/** One library lent through init()'s `shared`. */
type ShareArgs = Exclude<NonNullable<Parameters<typeof init>[0]['shared']>[string], unknown[]>;
/** A Module Federation runtime plugin, as init() takes it. */
type RuntimePlugin = NonNullable<Parameters<typeof init>[0]['plugins']>[number];

/** What the harness passes to the module, as the host contract in ARCHITECTURE.md describes. */
interface HostProps {
  apiBase: string;
  getToken(): Promise<string>;
  theme: 'light' | 'dark';
}

/**
 * The module's theme, as a shell would pass it: `?theme=dark|light` (kept for the tab, like `?user=`), else the
 * browser's colour scheme.
 */
function hostTheme(): 'light' | 'dark' {
  const chosen = new URLSearchParams(location.search).get('theme');
  if (chosen === 'light' || chosen === 'dark') sessionStorage.setItem('n3xus-harness:theme', chosen);
  const kept = sessionStorage.getItem('n3xus-harness:theme');
  if (kept === 'light' || kept === 'dark') return kept;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

const ICON_GLYPHS: Record<string, string> = { CloudCompute: '☁' };

/**
 * Who this tab logs in as. `?user=` (and `?tenant=`) let one browser be several people, e.g. an end-to-end test
 * with two users; the choice is kept for the tab (sessionStorage), so it survives navigating to links that drop
 * the query and reloading there.
 */
function devIdentity(): DevLoginRequest {
  const query = new URLSearchParams(location.search);
  const pick = (param: string, fallback: string): string => {
    const key = `n3xus-harness:${param}`;
    const chosen = query.get(param);
    if (chosen) sessionStorage.setItem(key, chosen);
    return chosen || sessionStorage.getItem(key) || fallback;
  };
  return { userId: pick('user', 'dev-user'), tenantId: pick('tenant', 'dev-tenant') };
}

const login = devIdentity();

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`harness/index.html has no #${id}`);
  return found as T;
}

function showError(message: string): void {
  const box = document.createElement('pre');
  box.className = 'harness-error';
  box.textContent = message;
  element('harness-errors').append(box);
}

declare global {
  interface Window {
    /** Started by index.html's inline script, before this bundle runs. */
    __harnessModuleManifest?: Promise<unknown>;
    /** The remote's mf-manifest.json, fetched by index.html's inline script (which preloads what it names). */
    __harnessRemoteManifest?: Promise<Response>;
  }
}

/** Hands the Module Federation runtime the remote manifest the page already fetched, instead of a second request. */
function earlyRemoteManifest(entry: string): RuntimePlugin {
  return {
    name: 'harness-early-remote-manifest',
    fetch(url) {
      const early = window.__harnessRemoteManifest;
      if (url !== entry || !early) return undefined;
      return early.then(
        (response) => (response.ok ? response.clone() : fetch(url)),
        () => fetch(url),
      );
    },
  };
}

async function fetchManifest(): Promise<ModuleManifest> {
  const early = window.__harnessModuleManifest;
  if (early) return (await early) as ModuleManifest;
  // Only when the page's inline script did not run (it fetches the manifest before this bundle loads).
  const response = await fetch('/module.json');
  if (!response.ok) throw new Error(`GET /module.json answered ${response.status}`);
  return (await response.json()) as ModuleManifest;
}

let token: Promise<string> | null = null;

/** One dev login per page, shared by every caller; a failed login is forgotten so the next call retries. */
function getToken(): Promise<string> {
  token ??= (async () => {
    const response = await fetch('/api/v1/dev/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', [HANDSHAKE_HEADER]: HANDSHAKE },
      body: JSON.stringify(login),
    });
    if (!response.ok) throw new Error(`dev login answered ${response.status}: ${await response.text()}`);
    return ((await response.json()) as DevLoginResponse).token;
  })();
  token.catch(() => {
    token = null;
  });
  return token;
}

/** In-page navigation for plain left clicks; modified clicks keep the browser's own behaviour (new tab …). */
function navLink(href: string, label: string, icon?: string): HTMLAnchorElement {
  const link = document.createElement('a');
  link.href = href;
  if (icon) {
    const glyph = document.createElement('span');
    glyph.className = 'icon';
    glyph.dataset.icon = icon;
    glyph.title = icon;
    glyph.setAttribute('aria-hidden', 'true');
    glyph.textContent = ICON_GLYPHS[icon] ?? '▣';
    link.append(glyph);
  }
  link.append(label);
  link.addEventListener('click', (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigateToUrl(link.href);
  });
  return link;
}

function isUnder(pathname: string, prefix: string): boolean {
  return pathname === prefix || pathname.startsWith(`${prefix}/`);
}

function drawNavigation(item: NavigationItem): void {
  const home = navLink('/', 'Home');
  const module = navLink(item.path, item.label, item.icon);
  module.dataset.module = item.module;
  element('harness-nav-items').append(home, module);
  const mark = (): void => {
    const path = location.pathname;
    home.toggleAttribute('aria-current', false);
    module.toggleAttribute('aria-current', false);
    if (path === '/') home.setAttribute('aria-current', 'page');
    else if (isUnder(path, item.path)) module.setAttribute('aria-current', 'page');
  };
  mark();
  window.addEventListener('single-spa:routing-event', mark);
}

/** Home is a tiny local single-spa application, so single-spa owns every route, Home's included. */
const homeApp: LifeCycles = {
  bootstrap: async () => undefined,
  mount: async () => {
    element('harness-home').hidden = false;
  },
  unmount: async () => {
    element('harness-home').hidden = true;
  },
};

/**
 * What the harness lends besides single-spa, as the N3XUS shell (itself built on Lit and RxJS) lends its copies:
 * every share key the remote consumes, lit's subpaths included (the remote asks for each one it imports; a
 * subpath not lent would bring the remote's own lit-html beside ours). Each is its own chunk, requested as the
 * page starts and evaluated while the page waits on the manifest and the remote, not in the first script.
 */
function lentLibraries(): Record<string, ShareArgs> {
  const lend = (version: string, range: string, load: () => Promise<object>): ShareArgs => {
    const loaded = load();
    return {
      version,
      scope: 'default',
      get: () => loaded.then((lib) => () => lib),
      // Ours even before it is loaded: with the default strategy the remote's own copy of the same version would
      // replace a lent library that is not loaded yet.
      strategy: 'loaded-first',
      shareConfig: { singleton: true, requiredVersion: range },
    };
  };
  const lit = (load: () => Promise<object>): ShareArgs =>
    lend(__HARNESS_LIT_VERSION__, __HARNESS_LIT_RANGE__, load);
  return {
    rxjs: lend(
      __HARNESS_RXJS_VERSION__,
      __HARNESS_RXJS_RANGE__,
      () => import(/* webpackChunkName: "lent-rxjs" */ 'rxjs'),
    ),
    lit: lit(() => import(/* webpackChunkName: "lent-lit" */ 'lit')),
    'lit/decorators.js': lit(() => import(/* webpackChunkName: "lent-lit" */ 'lit/decorators.js')),
    'lit/directives/guard.js': lit(
      () => import(/* webpackChunkName: "lent-lit" */ 'lit/directives/guard.js'),
    ),
    'lit/directives/repeat.js': lit(
      () => import(/* webpackChunkName: "lent-lit" */ 'lit/directives/repeat.js'),
    ),
  };
}

async function main(): Promise<void> {
  const lent = lentLibraries();
  // A shell holds its v-auth token before any module asks for it: log in while the manifest and remote load.
  getToken().catch(() => undefined); // a failure is reported to the module when it asks
  element('harness-user').textContent = `${login.userId} @ ${login.tenantId}`;
  addErrorHandler((error) => showError(`${error.appOrParcelName}: ${error.message}`));

  registerApplication({ name: 'home', app: homeApp, activeWhen: (where) => where.pathname === '/' });

  const manifest = await fetchManifest();
  drawNavigation(manifest.navigation);

  init({
    name: 'n3xus_harness',
    remotes: [{ name: manifest.remoteName, entry: manifest.entry }],
    plugins: [earlyRemoteManifest(manifest.entry)],
    // Lend the remote our single-spa, so there is one single-spa on the page (parcels, navigation events).
    shared: {
      'single-spa': {
        version: __HARNESS_SINGLE_SPA_VERSION__,
        scope: 'default',
        lib: () => singleSpa,
        shareConfig: { singleton: true, requiredVersion: __HARNESS_SINGLE_SPA_RANGE__ },
      },
      // The remote neither downloads nor evaluates its own copies of these.
      ...lent,
    },
  });

  const theme = hostTheme();
  document.documentElement.style.colorScheme = theme;
  const customProps: HostProps = { apiBase: location.origin, getToken, theme };
  registerApplication({
    name: manifest.name,
    app: async () => {
      const lifecycles = await loadRemote<LifeCycles<HostProps>>(`${manifest.remoteName}/module`);
      if (!lifecycles) throw new Error(`${manifest.remoteName}/module did not load`);
      return lifecycles;
    },
    activeWhen: manifest.navigation.path,
    customProps,
  });
}

// Start routing even if the manifest or the remote fails, so Home still works and the error is on screen.
main()
  .catch((error: unknown) => showError(`The harness could not load v-SuperCore: ${String(error)}`))
  .finally(() => start());
