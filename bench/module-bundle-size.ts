/**
 * `npm run bench:bundle` (after `npm run build`): how many bytes a host downloads for v-SuperCore.
 *
 * - lifecycles: mf-manifest.json + remoteEntry.js + the `./module` expose's sync chunks — what `loadRemote('v_supercore/module')`
 *   fetches before single-spa can call `bootstrap`;
 * - mount: plus the expose's async chunks (the custom elements `mount` imports);
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
  workers: { name: string; files: string[] }[];
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

console.log('v-SuperCore remote (dist/remote), compressed at maximum level');
console.log();
for (const file of ['mf-manifest.json', ...mountFiles]) console.log(row(`  ${file}`, sizeOf(file)));
console.log(row('lifecycles (manifest + remoteEntry + ./module sync)', lifecycles));
console.log(row('mount ./module (+ all its async chunks: upper bound)', mount));
console.log();
for (const file of workerFiles) console.log(row(`  ${file}`, sizeOf(file)));
console.log(row('decoder worker (entry + its chunks)', total(workerFiles)));
console.log();
for (const shared of manifest.shared) {
  const files = [...shared.assets.js.sync, ...shared.assets.js.async];
  console.log(row(`shared fallback ${shared.name}@${shared.version} (if host lends none)`, total(files)));
}
