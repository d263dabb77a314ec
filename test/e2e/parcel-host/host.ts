/**
 * A collaborative-workspace stand-in that is NOT the harness: a plain page on its own origin that loads the
 * v-SuperCore remote through its mf-manifest.json with the Module Federation runtime and mounts
 * `./session-parcel` with single-spa's `mountRootParcel`. Bundled by test/e2e/dashboard.test.ts with esbuild.
 *
 * Query: `manifest` (URL of mf-manifest.json), `api` (the adapter), `session`, `role`, `user`, `tenant`.
 */
import { init, loadRemote } from '@module-federation/runtime';
import * as singleSpa from 'single-spa';
import { mountRootParcel, type Parcel, type ParcelConfig } from 'single-spa';

declare const __SINGLE_SPA_VERSION__: string;

interface WorkspaceApi {
  ready: Promise<string>;
  parcel: Parcel;
  setRole(role: string): Promise<void>;
  unmount(): Promise<void>;
}

declare global {
  interface Window {
    workspace?: WorkspaceApi;
    workspaceError?: string;
  }
}

const query = new URLSearchParams(location.search);
const need = (name: string): string => {
  const value = query.get(name);
  if (!value) throw new Error(`missing ?${name}=`);
  return value;
};

async function start(): Promise<void> {
  const apiBase = need('api');
  let token: Promise<string> | undefined;
  const getToken = (): Promise<string> =>
    (token ??= fetch(`${apiBase}/api/v1/dev/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-n3xus-handshake': '55-45-17' },
      body: JSON.stringify({
        userId: query.get('user') ?? 'dev-user',
        tenantId: query.get('tenant') ?? 'dev-tenant',
      }),
    }).then(async (r) => ((await r.json()) as { token: string }).token));

  init({
    name: 'workspace_host',
    remotes: [{ name: 'v_supercore', entry: need('manifest') }],
    shared: {
      'single-spa': {
        version: __SINGLE_SPA_VERSION__,
        scope: 'default',
        lib: () => singleSpa,
        shareConfig: { singleton: true, requiredVersion: `^${__SINGLE_SPA_VERSION__}` },
      },
    },
  });
  const config = await loadRemote<ParcelConfig>('v_supercore/session-parcel');
  if (!config) throw new Error('v_supercore/session-parcel did not load');
  const domElement = document.getElementById('parcel');
  if (!domElement) throw new Error('no #parcel');
  const props = { domElement, apiBase, getToken, sessionId: need('session') };
  const parcel = mountRootParcel(config, { ...props, role: query.get('role') ?? 'participant' });
  window.workspace = {
    parcel,
    ready: parcel.mountPromise.then(() => 'mounted'),
    async setRole(role) {
      await parcel.update?.({ ...props, role });
    },
    async unmount() {
      await parcel.unmount();
    },
  };
}

start().catch((error: unknown) => {
  window.workspaceError = String(error);
  console.error(error);
});
