/**
 * `npm run bench:bundle` (after `npm run build`): how many bytes a host downloads for v-SuperCore.
 *
 * - lifecycles: mf-manifest.json + remoteEntry.js + the `./module` expose's sync chunks — what `loadRemote('v_supercore/module')`
 *   fetches before single-spa can call `bootstrap`;
 * - mount at a route: plus the chunks `mount` waits for there — the app shell (`app` chunk group) and that route's pane
 *   (`pane-*`) — which is what the host downloads before the module is on screen;
 * - after mount: what the module fetches in the background once mounted (settings store + idb, web-vitals);
 * - upper bound: every async chunk of the expose (all panes, the viewer, …);
 * - `./session-parcel`: what a workspace page downloads to mount the parcel;
 * - the decoder worker (its entry chunk and the chunks it loads), fetched when a viewer opens;
 * - the shared singletons' fallbacks (lit, rxjs, single-spa), fetched only when the host lends none, so outside the
 *   figures above.
 *
 * Figures only, never pass/fail (bench/ prints; tests judge). Reads dist/remote/mf-manifest.json and the chunk summary
 * webpack.config.ts writes to dist/remote-stats.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

interface AssetGroup {
  js: { sync: string[]; async: string[] };
}

interface MfManifest {
  metaData: { remoteEntry: { name: string; path: string } };
  shared: { name: string; version: string; assets: AssetGroup }[];
  exposes: { path: string; assets: AssetGroup }[];
}

interface RemoteStats {
  chunks: { id: number | string; files: string[] }[];
  workers: { name: string; files: string[] }[];
  /** Named chunk groups → the chunk ids each needs (written by webpack.config.ts's RemoteStatsPlugin). */
  chunkGroups?: Record<string, (number | string)[]>;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const remoteDir = path.join(repoRoot, 'dist/remote');

function readJson<T>(file: string): T {
  if (!existsSync(file)) {
    console.error(`${path.relative(repoRoot, file)} is missing: run \`npm run build\` first.`);
    process.exit(1);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

interface Sizes {
  raw: number;
  gzip: number;
  brotli: number;
}

function sizeOf(file: string): Sizes {
  const bytes = readFileSync(path.join(remoteDir, file));
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

function total(files: string[]): Sizes {
  return files
    .map(sizeOf)
    .reduce((a, b) => ({ raw: a.raw + b.raw, gzip: a.gzip + b.gzip, brotli: a.brotli + b.brotli }), {
      raw: 0,
      gzip: 0,
      brotli: 0,
    });
}

const kb = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;

function row(label: string, sizes: Sizes): string {
  return `${label.padEnd(62)} ${kb(sizes.gzip).padStart(10)} gzip ${kb(sizes.brotli).padStart(10)} br ${kb(sizes.raw).padStart(10)} min`;
}

const manifest = readJson<MfManifest>(path.join(remoteDir, 'mf-manifest.json'));
const stats = readJson<RemoteStats>(path.join(repoRoot, 'dist/remote-stats.json'));

const expose = manifest.exposes.find((e) => e.path === './module');
if (!expose) {
  console.error('mf-manifest.json exposes no ./module');
  process.exit(1);
}

// Shared fallbacks never count towards what a host downloads: a host that shares lit/rxjs/single-spa lends its own.
const sharedFiles = new Set(manifest.shared.flatMap((s) => [...s.assets.js.sync, ...s.assets.js.async]));
const notShared = (files: string[]): string[] => [...new Set(files)].filter((f) => !sharedFiles.has(f));

const remoteEntry = path.posix.join(manifest.metaData.remoteEntry.path, manifest.metaData.remoteEntry.name);
const lifecycleFiles = notShared([remoteEntry, ...expose.assets.js.sync]);
const mountFiles = notShared([...lifecycleFiles, ...expose.assets.js.async]);
const workerFiles = stats.workers.flatMap((w) => w.files).filter((f) => f.endsWith('.js'));

const lifecycles = total(['mf-manifest.json', ...lifecycleFiles]);
const mount = total(['mf-manifest.json', ...mountFiles]);

/** The JS files of named chunk groups (shared fallbacks left out). */
function groupFiles(...names: string[]): string[] {
  const filesById = new Map(stats.chunks.map((c) => [String(c.id), c.files]));
  return notShared(
    names.flatMap((name) =>
      (stats.chunkGroups?.[name] ?? []).flatMap((id) => filesById.get(String(id)) ?? []),
    ),
  ).filter((f) => f.endsWith('.js'));
}

console.log('v-SuperCore remote (dist/remote), compressed at maximum level');
console.log();
for (const file of ['mf-manifest.json', ...mountFiles]) console.log(row(`  ${file}`, sizeOf(file)));
console.log(row('lifecycles (manifest + remoteEntry + ./module sync)', lifecycles));
if (stats.chunkGroups) {
  const routes: [string, string][] = [
    ['/v-supercore (Quick Launch)', 'pane-quick-launch'],
    ['/v-supercore/sessions', 'pane-active-sessions'],
    ['/v-supercore/resources', 'pane-resource-monitor'],
    ['/v-supercore/settings', 'pane-settings'],
    ['/v-supercore/sessions/:id (viewer, worker not included)', 'pane-viewer'],
  ];
  for (const [route, pane] of routes) {
    const files = ['mf-manifest.json', ...new Set([...lifecycleFiles, ...groupFiles('app', pane)])];
    console.log(row(`mount at ${route}`, total(files)));
  }
  console.log(
    row(
      '  then fetched after mount (settings store + idb, web-vitals)',
      total(groupFiles('preferences', 'vitals')),
    ),
  );
}
console.log(row('mount ./module (+ all its async chunks: upper bound)', mount));
const parcelExpose = manifest.exposes.find((e) => e.path === './session-parcel');
if (parcelExpose) {
  const parcelFiles = notShared([
    remoteEntry,
    ...parcelExpose.assets.js.sync,
    ...parcelExpose.assets.js.async,
  ]);
  console.log(
    row('mount ./session-parcel (worker not included)', total(['mf-manifest.json', ...parcelFiles])),
  );
}
console.log();
for (const file of workerFiles) console.log(row(`  ${file}`, sizeOf(file)));
console.log(row('decoder worker (entry + its chunks)', total(workerFiles)));
console.log();
for (const shared of manifest.shared) {
  const files = [...shared.assets.js.sync, ...shared.assets.js.async];
  console.log(row(`shared fallback ${shared.name}@${shared.version} (if host lends none)`, total(files)));
}
