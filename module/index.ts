/**
 * v-SuperCore as a single-spa application: `bootstrap`, `mount`, `unmount`, `update` and `timeouts`.
 *
 * The host passes `apiBase` and `getToken` (required), and optionally `theme`, `locale`, `eventBus`, and the
 * container as `domElement` or `domElementGetter`; otherwise `#single-spa-application:<name>` is used (and
 * created if absent), as single-spa-html does. `mount` renders one `<vsc-app>` there with its own API client,
 * live event stream, sessions store and preferences store, and starts reporting Core Web Vitals; `unmount`
 * removes it — its `disconnectedCallback`s release every subscription, listener, timer and worker — disposes the
 * stores (which closes the event stream) and stops the vitals reporter.
 */
import type { Subscription } from 'rxjs';
import type { AppProps } from 'single-spa';
// The app shell comes with the lifecycles: a host's Module Federation runtime fetches it beside remoteEntry.js (an
// expose's own chunks are preloaded), one round trip earlier than a chunk this module would ask for once it runs.
import './app/app.ts';
import type { VscApp } from './app/app.component.ts';
import { loadPane } from './app/panes.ts';
import { parseRoute } from './app/routes.ts';
import { prepareFormatters } from './shared/format.ts';
import { ApiClient } from './api/api-client.ts';
import { LiveEvents } from './api/live-events.ts';
import {
  resolveContainer,
  validateHostProps,
  type RawProps,
  type ValidHostProps,
} from './shared/host-props.ts';
import type { Theme } from './shared/vsc-element.ts';
import type { PreferencesStore } from './state/preferences-store.ts';
import type * as PreferencesModuleNs from './state/preferences-store.ts';
import { SessionsStore, liveFeed } from './state/sessions-store.ts';
import type { VitalsReporter } from './vitals/report-vitals.ts';

export interface VSuperCoreProps {
  /** URL of the backend adapter (the part before `/api/v1`). */
  apiBase: string;
  /** Resolves to the user's v-auth bearer token. */
  getToken: () => Promise<string>;
  theme?: Theme;
  locale?: string;
  /** Session changes are announced here as `v-supercore:session-changed` CustomEvents. */
  eventBus?: EventTarget;
  /** The element to render into. */
  domElement?: HTMLElement;
  /** Returns the element to render into (used when `domElement` is absent). */
  domElementGetter?: (props: LifecycleProps) => HTMLElement | null | undefined;
  /** Where the module's routes live; `/v-supercore` by default. */
  basePath?: string;
  /** Report Core Web Vitals to the adapter (default true). */
  vitals?: boolean;
}

export type LifecycleProps = VSuperCoreProps & Partial<AppProps>;

/** single-spa lifecycle timeouts (ms). Launch work happens after mount, so mount itself is quick. */
export const timeouts = {
  bootstrap: { millis: 10_000, dieOnTimeout: false, warningMillis: 3_000 },
  mount: { millis: 5_000, dieOnTimeout: false, warningMillis: 2_000 },
  unmount: { millis: 3_000, dieOnTimeout: false, warningMillis: 1_000 },
  update: { millis: 3_000, dieOnTimeout: false, warningMillis: 1_000 },
};

const DEFAULT_NAME = 'v-supercore';

interface Runtime {
  api: ApiClient;
  live: LiveEvents;
  store: SessionsStore;
  /** Arrives just after mount (its chunk is not needed to show the landing pane). */
  preferences: PreferencesStore | undefined;
  /**
   * Keeps the store's feed (the live event stream, then the list) running from before the panes exist, so the
   * token, the stream and the list load while the chunks download; released once the pane observes the store.
   */
  warm: Subscription | undefined;
}

/** A runtime started by bootstrap (or early in mount), adopted by the mount with the same props. */
interface Prepared {
  runtime: Runtime;
  apiBase: string;
  getToken: () => Promise<string>;
}

interface Mounted extends Runtime {
  element: VscApp;
  container: HTMLElement;
  /** The container was created by mount (and is removed by unmount). */
  ownContainer: boolean;
  apiBase: string;
  getToken: () => Promise<string>;
  vitals: VitalsReporter | undefined;
  /** Cancels the idle-time download of the other panes, if it has not run yet. */
  cancelPrefetch: () => void;
}

type PreferencesModule = typeof PreferencesModuleNs;

const mounted = new Map<string, Mounted>();
const prepared = new Map<string, Prepared>();
let preferencesModule: Promise<PreferencesModule> | undefined;

/** Loads and defines the elements of the current URL's pane (each pane is a chunk of its own). */
function loadElements(basePath?: string): Promise<unknown> {
  return loadPane(parseRoute(location.pathname, basePath).view);
}

/**
 * The preferences store and its IndexedDB cache (idb): their own chunk, fetched right after mount (Settings needs
 * it; Quick Launch only uses it to preselect the default tier).
 */
function loadPreferences(): Promise<PreferencesModule> {
  preferencesModule ??= import(/* webpackChunkName: "preferences" */ './state/preferences-store.ts').catch(
    (error: unknown) => {
      preferencesModule = undefined;
      throw error;
    },
  );
  return preferencesModule;
}

interface ValidProps extends ValidHostProps {
  basePath: string | undefined;
  vitals: boolean;
}

/** Checks the host's props; throws an Error that says what is missing and what it should be. */
export function validateProps(props: LifecycleProps | undefined): ValidProps {
  const p = (props ?? {}) as RawProps;
  return {
    ...validateHostProps(p, DEFAULT_NAME),
    basePath: typeof p['basePath'] === 'string' && p['basePath'] !== '' ? p['basePath'] : undefined,
    vitals: p['vitals'] !== false,
  };
}

/** One API client, event stream and set of stores per mount: nothing is shared with the host or other mounts. */
function createRuntime(valid: ValidProps): Runtime {
  const api = new ApiClient({ apiBase: valid.apiBase, getToken: valid.getToken });
  const live = new LiveEvents({ api });
  const store = new SessionsStore({ api, changeFeed: liveFeed(live) });
  api.tiers().catch(() => undefined); // the catalogue every pane shows (labels, prices), shared by the client
  return { api, live, store, preferences: undefined, warm: store.state$.subscribe() };
}

function disposeRuntime(runtime: Runtime): void {
  runtime.warm?.unsubscribe();
  runtime.store.dispose(); // ends the change feed, which closes the event stream
  runtime.preferences?.dispose();
}

/** The prepared runtime of this application name, if it was made for these very props. */
function preparedFor(valid: ValidProps): Prepared | undefined {
  const ready = prepared.get(valid.name);
  return ready && ready.apiBase === valid.apiBase && ready.getToken === valid.getToken ? ready : undefined;
}

/** Starts (or keeps) the runtime for the next mount of this application name. */
function prepare(valid: ValidProps): void {
  if (preparedFor(valid)) return;
  discardPrepared(valid.name);
  prepared.set(valid.name, {
    runtime: createRuntime(valid),
    apiBase: valid.apiBase,
    getToken: valid.getToken,
  });
}

/** The prepared runtime if it was made for these props (else a new one); either way it leaves `prepared`. */
function adopt(valid: ValidProps): Runtime {
  const ready = preparedFor(valid);
  if (ready) {
    prepared.delete(valid.name);
    return ready.runtime;
  }
  discardPrepared(valid.name);
  return createRuntime(valid);
}

/**
 * The tabs' panes, requested right after the mounted pane has painted, so that a first switch — even a quick one,
 * before the page was ever idle — finds its pane defined: the click then renders it, it does not start a download
 * and show "Loading…". Each chunk is evaluated in a task of its own as it arrives.
 */
const PREFETCHED_VIEWS = ['launch', 'sessions', 'resources', 'settings'] as const;

/** Runs `work` in a task just after the next frame is painted; returns a cancel function. */
function afterPaint(work: () => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const frame = requestAnimationFrame(() => {
    timer = setTimeout(work, 0);
  });
  return () => {
    cancelAnimationFrame(frame);
    clearTimeout(timer);
  };
}

/** After mount: the preferences store, the web-vitals reporter and, once painted, the other panes. */
function startExtras(entry: Mounted, valid: ValidProps): void {
  entry.cancelPrefetch();
  entry.cancelPrefetch = afterPaint(() => {
    for (const view of PREFETCHED_VIEWS) loadPane(view).catch(() => undefined); // retried when visited
  });
  const api = entry.api;
  const current = (): boolean => mounted.get(valid.name) === entry && entry.api === api;
  if (!entry.preferences)
    loadPreferences().then(
      (prefs) => {
        if (!current() || entry.preferences) return;
        entry.preferences = new prefs.PreferencesStore({ api });
        entry.element.preferences = entry.preferences;
      },
      (error: unknown) => console.warn('v-supercore: the settings could not be loaded.', error),
    );
  if (!valid.vitals) return;
  import(/* webpackChunkName: "vitals" */ './vitals/report-vitals.ts').then(
    ({ startVitals }) => {
      if (current()) entry.vitals = startVitals(api);
    },
    () => undefined, // no measurements, nothing else lost
  );
}

function applyProps(element: VscApp, valid: ValidProps): void {
  element.theme = valid.theme ?? 'light';
  element.locale = valid.locale ?? '';
  element.eventBus = valid.eventBus;
  if (valid.basePath) element.basePath = valid.basePath;
}

function applyRuntime(element: VscApp, runtime: Runtime): void {
  element.api = runtime.api;
  element.live = runtime.live;
  element.store = runtime.store;
  element.preferences = runtime.preferences;
}

export async function bootstrap(props: LifecycleProps): Promise<void> {
  const valid = validateProps(props);
  prepare(valid);
  const elementsLoaded = loadElements(valid.basePath);
  // In a task of its own, while the chunks download (the requests are out): off the first render's critical path.
  setTimeout(() => prepareFormatters(valid.locale), 0);
  await elementsLoaded.catch(dropPrepared(valid.name));
}

function discardPrepared(name: string): void {
  const ready = prepared.get(name);
  prepared.delete(name);
  if (ready) disposeRuntime(ready.runtime);
}

/** A bootstrap or mount that failed leaves no runtime (and no open event stream) behind. */
function dropPrepared(name: string): (error: unknown) => never {
  return (error) => {
    discardPrepared(name);
    throw error;
  };
}

/** User Timing names: a host (or bench/dashboard-vitals.ts) reads `performance.getEntriesByName(MOUNT_MEASURE)`. */
export const MOUNT_MEASURE = 'v-supercore:mount';

export async function mount(props: LifecycleProps): Promise<void> {
  const valid = validateProps(props);
  const started = performance.now();
  if (mounted.has(valid.name)) await unmount(props);
  prepare(valid);
  // A viewer opened straight from a link needs the stored stream settings before it connects (transport).
  const opensViewer = parseRoute(location.pathname, valid.basePath).view === 'viewer';
  const preferencesReady = opensViewer ? loadPreferences().catch(() => undefined) : undefined;
  await loadElements(valid.basePath).catch(dropPrepared(valid.name));
  const prefs = await preferencesReady;
  const { container, own } = resolveContainer(
    props as unknown as RawProps,
    valid.name,
    'single-spa-application',
  );
  const runtime = adopt(valid);
  if (prefs) runtime.preferences = new prefs.PreferencesStore({ api: runtime.api });
  const element = document.createElement('vsc-app');
  applyProps(element, valid);
  applyRuntime(element, runtime);
  const entry: Mounted = {
    ...runtime,
    element,
    container,
    ownContainer: own,
    apiBase: valid.apiBase,
    getToken: valid.getToken,
    vitals: undefined,
    cancelPrefetch: () => undefined,
  };
  mounted.set(valid.name, entry);
  container.append(element);
  startExtras(entry, valid);
  await element.updateComplete;
  // From mount() to the pane on screen, chunk downloads included.
  performance.measure(MOUNT_MEASURE, { start: started, end: performance.now() });
  releaseWarm(entry);
}

/** The panes observe the store by now (they subscribe as they connect); the early subscription can go. */
function releaseWarm(runtime: Runtime): void {
  runtime.warm?.unsubscribe();
  runtime.warm = undefined;
}

export async function unmount(props: LifecycleProps): Promise<void> {
  const name = typeof props?.name === 'string' && props.name !== '' ? props.name : DEFAULT_NAME;
  discardPrepared(name);
  const entry = mounted.get(name);
  if (!entry) return;
  mounted.delete(name);
  entry.cancelPrefetch();
  entry.element.remove(); // disconnectedCallback of the app and every pane releases what it holds
  if (entry.ownContainer) entry.container.remove();
  // Closing the event stream and sending the vitals show nothing on screen: they wait until the click that
  // left the module has painted (they cost it ~10 ms of INP otherwise).
  afterNextPaint(() => {
    disposeRuntime(entry);
    void entry.vitals?.stop(); // never holds up the unmount on the network
  });
}

/** Runs `work` once, just after the next frame is painted, or after 100 ms when no frame comes (hidden page). */
function afterNextPaint(work: () => void): void {
  let done = false;
  const run = (): void => {
    if (done) return;
    done = true;
    clearTimeout(fallback);
    work();
  };
  const fallback = setTimeout(run, 100);
  requestAnimationFrame(() => setTimeout(run, 0));
}

/**
 * New props for a mounted app: theme, locale, eventBus and basePath apply in place; a new apiBase or getToken
 * gets a new API client, event stream and stores.
 */
export async function update(props: LifecycleProps): Promise<void> {
  const valid = validateProps(props);
  const entry = mounted.get(valid.name);
  if (!entry) return;
  applyProps(entry.element, valid);
  if (valid.apiBase !== entry.apiBase || valid.getToken !== entry.getToken) {
    const previous: Runtime = { ...entry };
    const previousVitals = entry.vitals;
    const runtime = createRuntime(valid);
    Object.assign(entry, runtime, { apiBase: valid.apiBase, getToken: valid.getToken, vitals: undefined });
    applyRuntime(entry.element, runtime);
    await entry.element.updateComplete;
    releaseWarm(entry);
    disposeRuntime(previous);
    void previousVitals?.stop();
    startExtras(entry, valid);
  }
  await entry.element.updateComplete;
}

/** Diagnostics for tests and the harness: the mounted app of an application name. */
export function mountedApp(name = DEFAULT_NAME): VscApp | undefined {
  return mounted.get(name)?.element;
}
