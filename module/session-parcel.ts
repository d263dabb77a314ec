/**
 * `./session-parcel`: one v-SuperCore session as a single-spa parcel, for collaborative workspaces and any page
 * that loads the remote's `mf-manifest.json`.
 *
 * Props: the host props of the module (`apiBase`, `getToken`, optional `theme`, `locale`, `eventBus`) plus
 * `sessionId` (required) and `role` (`owner` | `participant` | `observer`, default `observer`: an observer's
 * viewer sends no input). single-spa passes `domElement`; without it `domElementGetter()` or
 * `#single-spa-parcel:<name>` is used. `update()` takes new props: `sessionId`, `role`, `theme`, `locale` and
 * `eventBus` apply in place, a new `apiBase`/`getToken` gets a new API client and store. The settings store's chunk
 * loads with the parcel's, so the viewer has it from the start: the user's stored settings (stream quality,
 * scaling, keyboard layout, stream transport) load after mount and the viewer applies them, as in the main view,
 * offering WebRTC only once it knows the transport the user chose. One live event stream serves the session list
 * and the workspace's `workspace.changed` pushes. Unmount removes the element (closing the stream, ending the
 * worker) and disposes the stores (closing the event stream).
 *
 * ```ts
 * const lifecycles = await loadRemote('v_supercore/session-parcel');
 * const parcel = mountRootParcel(lifecycles, { domElement, apiBase, getToken, sessionId, role: 'participant' });
 * await parcel.update({ domElement, apiBase, getToken, sessionId, role: 'observer' });
 * ```
 */
import type { ParcelProps } from 'single-spa';
import { ApiClient } from './api/api-client.ts';
import { LiveEvents } from './api/live-events.ts';
import { resolveContainer, validateHostProps, type HostProps, type RawProps } from './shared/host-props.ts';
import { SessionsStore, liveFeed } from './state/sessions-store.ts';
import type { ParcelRole, VscSessionParcel } from './session-parcel/session-parcel.component.ts';
import type { PreferencesStore } from './state/preferences-store.ts';
import type * as PreferencesModuleNs from './state/preferences-store.ts';
import type { DecoderWorkerFactory } from './viewer/viewer.component.ts';

export interface SessionParcelProps extends HostProps {
  /** The session to show. */
  sessionId: string;
  /** Default `observer`. */
  role?: ParcelRole;
  /** Starts the viewer's decoder worker; the remote's own by default (tests, or embedders that bring their own). */
  workerFactory?: DecoderWorkerFactory;
}

export type ParcelLifecycleProps = SessionParcelProps & Partial<ParcelProps>;

/** single-spa lifecycle timeouts (ms), as the application's. */
export const timeouts = {
  bootstrap: { millis: 10_000, dieOnTimeout: false, warningMillis: 3_000 },
  mount: { millis: 5_000, dieOnTimeout: false, warningMillis: 2_000 },
  unmount: { millis: 3_000, dieOnTimeout: false, warningMillis: 1_000 },
  update: { millis: 3_000, dieOnTimeout: false, warningMillis: 1_000 },
};

const DEFAULT_NAME = 'v-supercore-session';
const ROLES: readonly string[] = ['owner', 'participant', 'observer'];

interface Instance {
  element: VscSessionParcel;
  container: HTMLElement;
  ownContainer: boolean;
  store: SessionsStore;
  /** The user's settings for the viewer; undefined when their chunk could not be loaded. */
  preferences: PreferencesStore | undefined;
  apiBase: string;
  getToken: () => Promise<string>;
}

/** Mounted parcels by their container (several parcels of the same config may be mounted at once). */
const instances = new Map<HTMLElement | string, Instance>();
let elements: Promise<unknown> | undefined;
let preferencesModule: Promise<typeof PreferencesModuleNs | undefined> | undefined;

function loadElements(): Promise<unknown> {
  elements ??= import(/* webpackChunkName: "session-parcel" */ './session-parcel/session-parcel.ts').catch(
    (error: unknown) => {
      elements = undefined;
      throw error;
    },
  );
  return elements;
}

/**
 * The preferences store's chunk (shared with the application). The parcel works without it (the viewer then
 * keeps its defaults), so a failure is only reported, and the next mount tries again.
 */
function loadPreferences(): Promise<typeof PreferencesModuleNs | undefined> {
  preferencesModule ??= import(/* webpackChunkName: "preferences" */ './state/preferences-store.ts').catch(
    (error: unknown) => {
      preferencesModule = undefined;
      console.warn('v-supercore: the settings could not be loaded.', error);
      return undefined;
    },
  );
  return preferencesModule;
}

interface ValidParcelProps extends ReturnType<typeof validateHostProps> {
  sessionId: string;
  role: ParcelRole;
  workerFactory: DecoderWorkerFactory | undefined;
}

/** Checks the props; throws an Error that says what is missing and what it should be. */
export function validateParcelProps(props: ParcelLifecycleProps | undefined): ValidParcelProps {
  const p = (props ?? {}) as unknown as RawProps;
  const host = validateHostProps(p, DEFAULT_NAME);
  const sessionId = p['sessionId'];
  if (typeof sessionId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(sessionId)) {
    throw new Error(
      `v-supercore (${host.name}): missing or invalid custom prop "sessionId" — pass the id of the session to show.`,
    );
  }
  const role = p['role'] ?? 'observer';
  if (typeof role !== 'string' || !ROLES.includes(role)) {
    throw new Error(
      `v-supercore (${host.name}): custom prop "role" must be "owner", "participant" or "observer".`,
    );
  }
  const workerFactory =
    typeof p['workerFactory'] === 'function' ? (p['workerFactory'] as DecoderWorkerFactory) : undefined;
  return { ...host, sessionId, role: role as ParcelRole, workerFactory };
}

function keyOf(props: ParcelLifecycleProps, name: string): HTMLElement | string {
  return props.domElement instanceof HTMLElement ? props.domElement : name;
}

interface Stores {
  api: ApiClient;
  live: LiveEvents;
  store: SessionsStore;
  preferences: PreferencesStore | undefined;
}

function createStores(valid: ValidParcelProps, prefs: typeof PreferencesModuleNs | undefined): Stores {
  const api = new ApiClient({ apiBase: valid.apiBase, getToken: valid.getToken });
  const live = new LiveEvents({ api });
  return {
    api,
    live,
    store: new SessionsStore({ api, changeFeed: liveFeed(live) }),
    preferences: prefs ? new prefs.PreferencesStore({ api }) : undefined,
  };
}

/** Hands the element its API client and the stores made for it. */
function attach(element: VscSessionParcel, stores: Stores): void {
  element.api = stores.api;
  element.live = stores.live;
  element.store = stores.store;
  element.preferences = stores.preferences;
}

function apply(element: VscSessionParcel, valid: ValidParcelProps): void {
  element.sessionId = valid.sessionId;
  element.parcelRole = valid.role;
  element.theme = valid.theme ?? 'light';
  element.locale = valid.locale ?? '';
  element.eventBus = valid.eventBus;
  element.workerFactory = valid.workerFactory;
}

export async function bootstrap(props: ParcelLifecycleProps): Promise<void> {
  validateParcelProps(props);
  await Promise.all([loadElements(), loadPreferences()]);
}

export async function mount(props: ParcelLifecycleProps): Promise<void> {
  const valid = validateParcelProps(props);
  const [, prefs] = await Promise.all([loadElements(), loadPreferences()]);
  const key = keyOf(props, valid.name);
  if (instances.has(key)) await unmount(props);
  const { container, own } = resolveContainer(props as unknown as RawProps, valid.name, 'single-spa-parcel');
  const stores = createStores(valid, prefs);
  const element = document.createElement('vsc-session-parcel');
  apply(element, valid);
  attach(element, stores);
  const instance: Instance = {
    element,
    container,
    ownContainer: own,
    store: stores.store,
    preferences: stores.preferences,
    apiBase: valid.apiBase,
    getToken: valid.getToken,
  };
  instances.set(key, instance);
  container.append(element);
  await element.updateComplete;
}

export async function unmount(props: ParcelLifecycleProps): Promise<void> {
  const name = typeof props?.name === 'string' && props.name !== '' ? props.name : DEFAULT_NAME;
  const key = keyOf(props, name);
  const instance = instances.get(key);
  if (!instance) return;
  instances.delete(key);
  // The viewer closes its stream and ends its worker; the element stops following workspace pushes.
  instance.element.remove();
  instance.store.dispose(); // ends the change feed: with both gone the event stream closes
  instance.preferences?.dispose();
  if (instance.ownContainer) instance.container.remove();
}

export async function update(props: ParcelLifecycleProps): Promise<void> {
  const valid = validateParcelProps(props);
  const instance = instances.get(keyOf(props, valid.name));
  if (!instance) return;
  apply(instance.element, valid);
  if (valid.apiBase !== instance.apiBase || valid.getToken !== instance.getToken) {
    const prefs = await loadPreferences();
    if (instances.get(keyOf(props, valid.name)) !== instance) return; // unmounted meanwhile
    const previous = { store: instance.store, preferences: instance.preferences };
    const stores = createStores(valid, prefs);
    Object.assign(instance, {
      store: stores.store,
      preferences: stores.preferences,
      apiBase: valid.apiBase,
      getToken: valid.getToken,
    });
    attach(instance.element, stores);
    await instance.element.updateComplete;
    previous.store.dispose();
    previous.preferences?.dispose();
  }
  await instance.element.updateComplete;
}

/** Diagnostics for tests: the mounted parcel element in a container (or of a name). */
export function mountedParcel(key: HTMLElement | string = DEFAULT_NAME): VscSessionParcel | undefined {
  return instances.get(key)?.element;
}
