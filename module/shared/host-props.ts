import type { Theme } from './vsc-element.ts';

/** The custom props every v-SuperCore entry (application or parcel) takes from its host. */
export interface HostProps {
  /** URL of the backend adapter (the part before `/api/v1`). */
  apiBase: string;
  /** Resolves to the user's v-auth bearer token; called before every request, so the host may refresh it. */
  getToken: () => Promise<string>;
  theme?: Theme;
  /** BCP 47 locale for dates and numbers. */
  locale?: string;
  /** Session changes are announced here as `v-supercore:session-changed` CustomEvents. */
  eventBus?: EventTarget;
  /** The element to render into. */
  domElement?: HTMLElement;
  /** Returns the element to render into (used when `domElement` is absent). */
  domElementGetter?: (props: never) => HTMLElement | null | undefined;
  /** single-spa's name of the application or parcel. */
  name?: string;
}

export interface ValidHostProps {
  name: string;
  apiBase: string;
  getToken: () => Promise<string>;
  theme: Theme | undefined;
  locale: string | undefined;
  eventBus: EventTarget | undefined;
}

/** A host prop bag as it arrives (anything may be missing or of the wrong type). */
export type RawProps = Partial<Record<string, unknown>>;

/** Checks the host props both entries share; throws an Error that says what is missing and what it should be. */
export function validateHostProps(props: RawProps | undefined, defaultName: string): ValidHostProps {
  const p = props ?? {};
  const name = typeof p['name'] === 'string' && p['name'] !== '' ? p['name'] : defaultName;
  const apiBase = p['apiBase'];
  if (typeof apiBase !== 'string' || apiBase.trim() === '') {
    throw new Error(
      `v-supercore (${name}): missing custom prop "apiBase" — pass the URL of the v-SuperCore backend adapter, ` +
        `e.g. customProps: { apiBase: "https://supercore.example", getToken }.`,
    );
  }
  const getToken = p['getToken'];
  if (typeof getToken !== 'function') {
    throw new Error(
      `v-supercore (${name}): missing custom prop "getToken" — pass a function that returns a Promise of the ` +
        `user's v-auth bearer token.`,
    );
  }
  let theme: Theme | undefined;
  if (p['theme'] === 'light' || p['theme'] === 'dark') theme = p['theme'];
  else if (p['theme'] !== undefined)
    console.warn(`v-supercore (${name}): theme must be "light" or "dark"; using light.`);
  const eventBus = p['eventBus'];
  if (eventBus !== undefined && !(eventBus instanceof EventTarget)) {
    throw new Error(`v-supercore (${name}): custom prop "eventBus" must be an EventTarget.`);
  }
  return {
    name,
    apiBase,
    getToken: getToken as () => Promise<string>,
    theme,
    locale: typeof p['locale'] === 'string' ? p['locale'] : undefined,
    eventBus,
  };
}

/**
 * The element to render into, as single-spa-html resolves it: `domElement` → `domElementGetter()` →
 * `#<prefix>:<name>` (created at the end of `<body>` if absent; `own` then says the caller must remove it).
 */
export function resolveContainer(
  props: RawProps,
  name: string,
  prefix: 'single-spa-application' | 'single-spa-parcel',
): { container: HTMLElement; own: boolean } {
  const domElement = props['domElement'];
  if (domElement !== undefined && domElement !== null) {
    if (!(domElement instanceof HTMLElement)) {
      throw new Error(`v-supercore (${name}): custom prop "domElement" must be an HTMLElement.`);
    }
    return { container: domElement, own: false };
  }
  const getter = props['domElementGetter'];
  if (typeof getter === 'function') {
    const element: unknown = (getter as (p: RawProps) => unknown)(props);
    if (!(element instanceof HTMLElement)) {
      throw new Error(`v-supercore (${name}): domElementGetter() did not return an HTMLElement.`);
    }
    return { container: element, own: false };
  }
  const id = `${prefix}:${name}`;
  const existing = document.getElementById(id);
  if (existing) return { container: existing, own: false };
  const container = document.createElement('div');
  container.id = id;
  document.body.append(container);
  return { container, own: true };
}
