/**
 * v-SuperCore as a single-spa application: `bootstrap`, `mount`, `unmount`, `update` and `timeouts`.
 *
 * The host passes `apiBase` and `getToken` (required), and optionally `theme`, `locale`, `eventBus`, and the
 * container as `domElement` or `domElementGetter`; otherwise `#single-spa-application:<name>` is used (and
 * created if absent), as single-spa-html does. `mount` renders one `<vsc-app>` there with its own API client and
 * sessions store; `unmount` removes it — its `disconnectedCallback`s release every subscription, listener,
 * timer and worker — and disposes the store.
 */
import type { AppProps } from 'single-spa';
import type { VscApp } from './app/app.component.ts';
import { ApiClient } from './api/api-client.ts';
import type { Theme } from './shared/vsc-element.ts';
import { SessionsStore } from './state/sessions-store.ts';

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

interface Mounted {
  element: VscApp;
  container: HTMLElement;
  /** The container was created by mount (and is removed by unmount). */
  ownContainer: boolean;
  api: ApiClient;
  store: SessionsStore;
  apiBase: string;
  getToken: () => Promise<string>;
}

const mounted = new Map<string, Mounted>();
let elements: Promise<unknown> | undefined;

/** Loads and defines the custom elements once (a separate chunk, so the lifecycles entry stays tiny). */
function loadElements(): Promise<unknown> {
  elements ??= import('./app/app.ts').catch((error: unknown) => {
    elements = undefined;
    throw error;
  });
  return elements;
}

interface ValidProps {
  name: string;
  apiBase: string;
  getToken: () => Promise<string>;
  theme: Theme | undefined;
  locale: string | undefined;
  eventBus: EventTarget | undefined;
  basePath: string | undefined;
}

/** Checks the host's props; throws an Error that says what is missing and what it should be. */
export function validateProps(props: LifecycleProps | undefined): ValidProps {
  const p = (props ?? {}) as Partial<Record<keyof LifecycleProps, unknown>>;
  const name = typeof p.name === 'string' && p.name !== '' ? p.name : DEFAULT_NAME;
  if (typeof p.apiBase !== 'string' || p.apiBase.trim() === '') {
    throw new Error(
      `v-supercore (${name}): missing custom prop "apiBase" — pass the URL of the v-SuperCore backend adapter, ` +
        `e.g. customProps: { apiBase: "https://supercore.example", getToken }.`,
    );
  }
  if (typeof p.getToken !== 'function') {
    throw new Error(
      `v-supercore (${name}): missing custom prop "getToken" — pass a function that returns a Promise of the ` +
        `user's v-auth bearer token.`,
    );
  }
  let theme: Theme | undefined;
  if (p.theme === 'light' || p.theme === 'dark') theme = p.theme;
  else if (p.theme !== undefined)
    console.warn(`v-supercore (${name}): theme must be "light" or "dark"; using light.`);
  const eventBus = p.eventBus;
  if (eventBus !== undefined && !(eventBus instanceof EventTarget)) {
    throw new Error(`v-supercore (${name}): custom prop "eventBus" must be an EventTarget.`);
  }
  return {
    name,
    apiBase: p.apiBase,
    getToken: p.getToken as () => Promise<string>,
    theme,
    locale: typeof p.locale === 'string' ? p.locale : undefined,
    eventBus,
    basePath: typeof p.basePath === 'string' && p.basePath !== '' ? p.basePath : undefined,
  };
}

/** `domElement` → `domElementGetter()` → `#single-spa-application:<name>` (created if absent). */
function resolveContainer(props: LifecycleProps, name: string): { container: HTMLElement; own: boolean } {
  if (props.domElement) {
    if (!(props.domElement instanceof HTMLElement)) {
      throw new Error(`v-supercore (${name}): custom prop "domElement" must be an HTMLElement.`);
    }
    return { container: props.domElement, own: false };
  }
  if (props.domElementGetter) {
    const element = props.domElementGetter(props);
    if (!(element instanceof HTMLElement)) {
      throw new Error(`v-supercore (${name}): domElementGetter() did not return an HTMLElement.`);
    }
    return { container: element, own: false };
  }
  const id = `single-spa-application:${name}`;
  const existing = document.getElementById(id);
  if (existing) return { container: existing, own: false };
  const container = document.createElement('div');
  container.id = id;
  document.body.append(container);
  return { container, own: true };
}

function createRuntime(valid: ValidProps): { api: ApiClient; store: SessionsStore } {
  const api = new ApiClient({ apiBase: valid.apiBase, getToken: valid.getToken });
  return { api, store: new SessionsStore({ api }) };
}

function applyProps(element: VscApp, valid: ValidProps): void {
  element.theme = valid.theme ?? 'light';
  element.locale = valid.locale ?? '';
  element.eventBus = valid.eventBus;
  if (valid.basePath) element.basePath = valid.basePath;
}

export async function bootstrap(props: LifecycleProps): Promise<void> {
  validateProps(props);
  await loadElements();
}

export async function mount(props: LifecycleProps): Promise<void> {
  const valid = validateProps(props);
  await loadElements();
  if (mounted.has(valid.name)) await unmount(props);
  const { container, own } = resolveContainer(props, valid.name);
  const { api, store } = createRuntime(valid);
  const element = document.createElement('vsc-app');
  applyProps(element, valid);
  element.api = api;
  element.store = store;
  mounted.set(valid.name, {
    element,
    container,
    ownContainer: own,
    api,
    store,
    apiBase: valid.apiBase,
    getToken: valid.getToken,
  });
  container.append(element);
  await element.updateComplete;
}

export async function unmount(props: LifecycleProps): Promise<void> {
  const name = typeof props?.name === 'string' && props.name !== '' ? props.name : DEFAULT_NAME;
  const entry = mounted.get(name);
  if (!entry) return;
  mounted.delete(name);
  entry.element.remove(); // disconnectedCallback of the app and every pane releases what it holds
  entry.store.dispose();
  if (entry.ownContainer) entry.container.remove();
}

/** New props for a mounted app: theme, locale and eventBus apply in place; a new apiBase or getToken gets a new store. */
export async function update(props: LifecycleProps): Promise<void> {
  const valid = validateProps(props);
  const entry = mounted.get(valid.name);
  if (!entry) return;
  applyProps(entry.element, valid);
  if (valid.apiBase !== entry.apiBase || valid.getToken !== entry.getToken) {
    const previous = entry.store;
    const { api, store } = createRuntime(valid);
    Object.assign(entry, { api, store, apiBase: valid.apiBase, getToken: valid.getToken });
    entry.element.api = api;
    entry.element.store = store;
    await entry.element.updateComplete;
    previous.dispose();
  }
  await entry.element.updateComplete;
}

/** Diagnostics for tests and the harness: the mounted app of an application name. */
export function mountedApp(name = DEFAULT_NAME): VscApp | undefined {
  return mounted.get(name)?.element;
}
