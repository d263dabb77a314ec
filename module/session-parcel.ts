/**
 * `./session-parcel`: one v-SuperCore session as a single-spa parcel, for collaborative workspaces and any page
 * that loads the remote's `mf-manifest.json`.
 *
 * Props: the host props of the module (`apiBase`, `getToken`, optional `theme`, `locale`, `eventBus`) plus
 * `sessionId` (required) and `role` (`owner` | `participant` | `observer`, default `observer`: an observer's
 * viewer sends no input). single-spa passes `domElement`; without it `domElementGetter()` or
 * `#single-spa-parcel:<name>` is used. `update()` takes new props: `sessionId`, `role`, `theme`, `locale` and
 * `eventBus` apply in place, a new `apiBase`/`getToken` gets a new API client and store. After mount the user's
 * stored settings (stream quality, scaling, keyboard layout) load and the viewer applies them, as in the main view.
 * Unmount removes the element (closing the stream, ending the worker) and disposes the stores (closing the event
 * stream).
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
  /** The user's settings for the viewer, once their chunk has loaded (after mount, as the application does). */
  preferences: PreferencesStore | undefined;
  apiBase: string;
  getToken: () => Promise<string>;
}

/** Mounted parcels by their container (several parcels of the same config may be mounted at once). */
const instances = new Map<HTMLElement | string, Instance>();
let elements: Promise<unknown> | undefined;

function loadElements(): Promise<unknown> {
  elements ??= import(/* webpackChunkName: "session-parcel" */ './session-parcel/session-parcel.ts').catch(
    (error: unknown) => {
      elements = undefined;
      throw error;
    },
  );
  return elements;
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

function createStore(valid: ValidParcelProps): { api: ApiClient; store: SessionsStore } {
  const api = new ApiClient({ apiBase: valid.apiBase, getToken: valid.getToken });
  return { api, store: new SessionsStore({ api, changeFeed: liveFeed(new LiveEvents({ api })) }) };
}

/** The preferences store (its own chunk, shared with the application), started for `instance`'s current API. */
function startPreferences(instance: Instance, api: ApiClient): void {
  import(/* webpackChunkName: "preferences" */ './state/preferences-store.ts').then(
    ({ PreferencesStore }) => {
      // Unmounted, or another API client since: nothing to start.
      if (![...instances.values()].includes(instance) || instance.element.api !== api) return;
      instance.preferences?.dispose();
      instance.preferences = new PreferencesStore({ api });
      instance.element.preferences = instance.preferences;
    },
    (error: unknown) => console.warn('v-supercore: the settings could not be loaded.', error),
  );
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
  await loadElements();
}

export async function mount(props: ParcelLifecycleProps): Promise<void> {
  const valid = validateParcelProps(props);
  await loadElements();
  const key = keyOf(props, valid.name);
  if (instances.has(key)) await unmount(props);
  const { container, own } = resolveContainer(props as unknown as RawProps, valid.name, 'single-spa-parcel');
  const { api, store } = createStore(valid);
  const element = document.createElement('vsc-session-parcel');
  apply(element, valid);
  element.api = api;
  element.store = store;
  const instance: Instance = {
    element,
    container,
    ownContainer: own,
    store,
    preferences: undefined,
    apiBase: valid.apiBase,
    getToken: valid.getToken,
  };
  instances.set(key, instance);
  container.append(element);
  startPreferences(instance, api);
  await element.updateComplete;
}

export async function unmount(props: ParcelLifecycleProps): Promise<void> {
  const name = typeof props?.name === 'string' && props.name !== '' ? props.name : DEFAULT_NAME;
  const key = keyOf(props, name);
  const instance = instances.get(key);
  if (!instance) return;
  instances.delete(key);
  instance.element.remove(); // the viewer closes its stream and ends its worker
  instance.store.dispose(); // ends the change feed and with it the event stream
  instance.preferences?.dispose();
  if (instance.ownContainer) instance.container.remove();
}

export async function update(props: ParcelLifecycleProps): Promise<void> {
  const valid = validateParcelProps(props);
  const instance = instances.get(keyOf(props, valid.name));
  if (!instance) return;
  apply(instance.element, valid);
  if (valid.apiBase !== instance.apiBase || valid.getToken !== instance.getToken) {
    const previous = instance.store;
    const { api, store } = createStore(valid);
    Object.assign(instance, { store, apiBase: valid.apiBase, getToken: valid.getToken });
    instance.element.api = api;
    instance.element.store = store;
    instance.preferences?.dispose();
    instance.preferences = undefined;
    instance.element.preferences = undefined;
    startPreferences(instance, api);
    await instance.element.updateComplete;
    previous.dispose();
  }
  await instance.element.updateComplete;
}

/** Diagnostics for tests: the mounted parcel element in a container (or of a name). */
export function mountedParcel(key: HTMLElement | string = DEFAULT_NAME): VscSessionParcel | undefined {
  return instances.get(key)?.element;
}
