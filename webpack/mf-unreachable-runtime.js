/**
 * Stands in for four modules of the Module Federation runtime in the REMOTE's build only (see webpack.config.ts,
 * `MF_UNREACHABLE`): remote loading (`remote/index.js`), manifest snapshots (`plugins/snapshot/*`) and preload
 * planning (`plugins/generate-preload-assets.js`).
 *
 * This remote is built with `experiments.optimization.disableRemote` and `disableSnapshot`, so runtime-core's
 * `core.js` never constructs or calls any of them — it picks its own `Disabled*` classes at run time — yet it
 * imports them statically, so webpack bundled ~20 KB of unreachable code into the remoteEntry.js every host
 * downloads. Should the flags ever be turned off, these throw at once instead of misbehaving quietly.
 * Plain JavaScript: webpack compiles it in place of files under node_modules, where the TypeScript rule does not apply.
 */
function unreachable(name) {
  throw new Error(
    `v-supercore remote: Module Federation ${name} is left out of this build ` +
      '(experiments.optimization.disableRemote / disableSnapshot); remove MF_UNREACHABLE from webpack.config.ts to use it.',
  );
}

// core.js constructs these with `new` (when remote loading is on); plain functions serve as constructors too.
export function RemoteHandler() {
  unreachable('RemoteHandler');
}

export function SnapshotHandler() {
  unreachable('SnapshotHandler');
}

export const snapshotPlugin = () => unreachable('snapshotPlugin');
export const generatePreloadAssetsPlugin = () => unreachable('generatePreloadAssetsPlugin');
export const assignRemoteInfo = () => unreachable('assignRemoteInfo');
export const getGlobalRemoteInfo = () => unreachable('getGlobalRemoteInfo');
