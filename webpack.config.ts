/**
 * Two builds from one `npm run build`:
 *  - `remote`  → dist/remote:  the Module Federation 2 remote `v_supercore` a host (the N3XUS shell, a workspace
 *                page, the harness) loads through `mf-manifest.json`; exposes the single-spa application
 *                lifecycles (`./module`) and the single-spa parcel of one session (`./session-parcel`).
 *  - `harness` → dist/harness: the standalone dev host page, a plain bundle that loads the remote at run time
 *                through the Module Federation runtime, exactly as a foreign shell would.
 *
 * Loaded by webpack-cli through tsx (Node 20 cannot strip types itself). TypeScript goes through esbuild-loader:
 * ts-loader needs the compiler API, which TypeScript 7 no longer offers (see /work/shared/TOOLCHAIN.md).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ModuleFederationPlugin } from '@module-federation/enhanced/webpack';
import { EsbuildPlugin } from 'esbuild-loader';
import webpack from 'webpack';
import type { Chunk, Compiler, Configuration, PathData, RuleSetRule } from 'webpack';

const root = process.cwd();

interface PackageJson {
  version: string;
  dependencies: Record<string, string>;
}

function readPackageJson(file: string): PackageJson {
  return JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
}

const pkg = readPackageJson(path.join(root, 'package.json'));

/**
 * The range this remote accepts from a host for a shared singleton: a caret range on what package.json pins, so a
 * shell on a later compatible minor still lends us its copy instead of a "version not satisfied" warning.
 */
function caretRange(name: string): string {
  const declared = pkg.dependencies[name];
  if (!declared) throw new Error(`webpack.config.ts: ${name} is shared but not a dependency in package.json`);
  return `^${declared.replace(/^[\^~=v]+/, '')}`;
}

/** The version we actually bundle as the fallback (what the host sees us offering to the share scope). */
function installedVersion(name: string): string {
  return readPackageJson(path.join(root, 'node_modules', name, 'package.json')).version;
}

/** Every chunk a browser may cache for good carries its content hash. */
const HASHED_JS = '[name].[contenthash:12].js';

/** Global the CrossOriginWorker bootstrap sets to the real chunk URL (see module/viewer/cross-origin-worker.ts). */
const WORKER_SCRIPT_URL_GLOBAL = '__V_SUPERCORE_WORKER_SCRIPT_URL__';

/**
 * Inside a worker started from a same-origin blob, `self.location` is `blob:<host origin>/…`, so webpack's
 * `publicPath: 'auto'` would resolve every further chunk (split chunks, shared fallbacks) against the HOST's origin.
 * This runtime module runs right after the auto public path and, when the blob bootstrap left the real script URL in
 * a global, recomputes the public path from that URL instead, so the worker loads its chunks from the remote.
 * Worker entry chunks only: the page's runtime already finds the remote's origin from `document.currentScript`.
 */
class WorkerPublicPathFromBootstrapPlugin {
  apply(compiler: Compiler): void {
    const { RuntimeGlobals, RuntimeModule, Template } = compiler.webpack;

    class WorkerPublicPathRuntimeModule extends RuntimeModule {
      constructor() {
        // STAGE_ATTACH runs after AutoPublicPathRuntimeModule (STAGE_BASIC), so ours has the last word.
        super('worker public path from bootstrap', RuntimeModule.STAGE_ATTACH);
      }

      override generate(): string {
        const chunk = this.chunk as Chunk;
        const undoPath = this.compilation?.runtimeTemplate.chunkRootOutputDir(chunk, false) ?? '';
        const url = `self[${JSON.stringify(WORKER_SCRIPT_URL_GLOBAL)}]`;
        return Template.asString([
          `if (typeof self !== "undefined" && typeof ${url} === "string") {`,
          Template.indent(
            `${RuntimeGlobals.publicPath} = ${url}.replace(/[?#].*$/, "").replace(/\\/[^/]+$/, "/") + ${JSON.stringify(undoPath)};`,
          ),
          '}',
        ]);
      }
    }

    compiler.hooks.compilation.tap('WorkerPublicPathFromBootstrapPlugin', (compilation) => {
      compilation.hooks.runtimeRequirementInTree
        .for(RuntimeGlobals.publicPath)
        .tap('WorkerPublicPathFromBootstrapPlugin', (chunk) => {
          if (chunk.getEntryOptions()?.worker) {
            compilation.addRuntimeModule(chunk, new WorkerPublicPathRuntimeModule());
          }
        });
    });
  }
}

/**
 * Writes `dist/remote-stats.json` (beside, not inside, the served folder): which files each chunk has, which chunks
 * each chunk group needs, and which chunk groups are workers. `bench/module-bundle-size.ts` reads it to add up what
 * a host downloads to mount `./module`, and the worker separately.
 */
class RemoteStatsPlugin {
  constructor(private readonly file: string) {}

  apply(compiler: Compiler): void {
    compiler.hooks.done.tap('RemoteStatsPlugin', (stats) => {
      if (stats.hasErrors()) return;
      const json = stats.toJson({
        all: false,
        chunks: true,
        chunkRelations: true,
        ids: true,
        chunkGroups: true,
      });
      const workers = [...stats.compilation.asyncEntrypoints]
        .filter((ep) => ep.getEntrypointChunk().getEntryOptions()?.worker)
        .map((ep) => ({
          name: ep.name,
          chunks: ep.chunks.map((c) => c.id),
          files: ep.getFiles(),
        }));
      const summary = {
        chunks: (json.chunks ?? []).map((c) => ({
          id: c.id,
          names: c.names,
          files: c.files,
          initial: c.initial,
          entry: c.entry,
          children: c.children,
        })),
        workers,
        // Named chunk groups (`import(/* webpackChunkName */)`): the chunks each lazily loaded part needs.
        chunkGroups: Object.fromEntries(
          Object.entries(json.namedChunkGroups ?? {}).map(([name, group]) => [name, group.chunks ?? []]),
        ),
      };
      writeFileSync(this.file, `${JSON.stringify(summary, null, 2)}\n`);
    });
  }
}

const HARNESS_SCRIPTS_MARKER = '<!-- harness:scripts -->';

/**
 * Emits the harness page: harness/index.html with its `<!-- harness:scripts -->` marker replaced by the entry's
 * content-hashed scripts, after preload links for the named lazily loaded chunks `preloaded` (what the harness
 * lends the remote: requested by the entry as it starts and needed before the remote can run, so they download
 * beside the entry rather than after it has been evaluated). Root-absolute URLs, because the adapter also serves
 * this page at client routes such as /v-supercore/sessions, where a relative `src` would miss. (html-webpack-plugin
 * is not a dependency, and a few lines here are less to carry than webpack's still-experimental HTML entries.)
 */
class HarnessPagePlugin {
  constructor(
    private readonly template: string,
    private readonly entry: string,
    private readonly preloaded: readonly string[] = [],
  ) {}

  apply(compiler: Compiler): void {
    const { Compilation, sources } = compiler.webpack;
    compiler.hooks.thisCompilation.tap('HarnessPagePlugin', (compilation) => {
      compilation.fileDependencies.add(this.template);
      compilation.hooks.processAssets.tap(
        { name: 'HarnessPagePlugin', stage: Compilation.PROCESS_ASSETS_STAGE_SUMMARIZE },
        () => {
          const entrypoint = compilation.entrypoints.get(this.entry);
          if (!entrypoint) throw new Error(`HarnessPagePlugin: no entry named ${this.entry}`);
          const publicPath = compilation.getPath(compilation.outputOptions.publicPath as string);
          const preloads = this.preloaded.flatMap((name) => {
            const group = compilation.namedChunkGroups.get(name);
            if (!group) throw new Error(`HarnessPagePlugin: no chunk named ${name}`);
            return group.getFiles().filter((file) => file.endsWith('.js'));
          });
          const scripts = [
            ...[...new Set(preloads)].map(
              (file) => `<link rel="preload" as="script" href="${publicPath}${file}" />`,
            ),
            ...entrypoint
              .getFiles()
              .filter((file) => file.endsWith('.js'))
              .map((file) => `<script defer src="${publicPath}${file}"></script>`),
          ].join('\n    ');
          const template = readFileSync(this.template, 'utf8');
          if (!template.includes(HARNESS_SCRIPTS_MARKER)) {
            throw new Error(`HarnessPagePlugin: ${this.template} lacks ${HARNESS_SCRIPTS_MARKER}`);
          }
          compilation.emitAsset(
            'index.html',
            new sources.RawSource(template.replace(HARNESS_SCRIPTS_MARKER, scripts)),
          );
        },
      );
    });
  }
}

/**
 * Content-hashed like every other chunk, with one twist: the Module Federation runtime module that MF injects into
 * every runtime chunk (worker entries included) asks for its own chunk's file name while that chunk's content hash
 * is still being computed, only to learn the chunk's directory, and webpack then fails with "Path variable
 * [contenthash] not implemented in this context". Until the hash exists we answer with the same name minus the
 * hash (same directory, so the same answer); the emitted file and every URL to it carry the hash.
 */
function workerChunkFilename(pathData: PathData): string {
  return pathData.chunk?.contentHash?.['javascript'] ? HASHED_JS : '[name].js';
}

/**
 * Modules of the Module Federation runtime that this remote's remoteEntry.js can never reach: with
 * `disableRemote` and `disableSnapshot` (below) runtime-core's core.js picks its `Disabled*` handlers at run time,
 * but imports these statically, so webpack would bundle them anyway. The remote build swaps them for the stubs in
 * webpack/mf-unreachable-runtime.js (which throw if ever called): about 20 KB less (≈6 KB gzip) for every host.
 * Drop this together with those two flags.
 */
const MF_UNREACHABLE =
  /@module-federation[\\/]runtime-core[\\/]dist[\\/](?:remote[\\/]index|plugins[\\/]snapshot[\\/](?:index|SnapshotHandler)|plugins[\\/]generate-preload-assets)\.js$/;

const typescriptRule: RuleSetRule = {
  test: /\.ts$/,
  exclude: /node_modules/,
  loader: 'esbuild-loader',
  // esbuild-loader reads tsconfig.json itself (experimentalDecorators, useDefineForClassFields: false for Lit).
  options: { target: 'es2022' },
};

const shared = Object.fromEntries(
  (['lit', 'rxjs', 'single-spa'] as const).flatMap((name) => {
    const config = {
      singleton: true,
      requiredVersion: caretRange(name),
      version: installedVersion(name),
    };
    // The trailing-slash key shares subpath imports (`lit/decorators.js`, `rxjs/operators`) under the same
    // singleton; without it each subpath would be bundled a second time beside the host's copy.
    return name === 'single-spa'
      ? [[name, config]]
      : [
          [name, config],
          [`${name}/`, config],
        ];
  }),
);

export default (_env: Record<string, unknown>, argv: { mode?: Configuration['mode'] }): Configuration[] => {
  const mode = argv.mode ?? 'production';
  const production = mode === 'production';

  const common: Configuration = {
    mode,
    context: root,
    target: ['web', 'es2022'],
    devtool: production ? 'source-map' : 'eval-cheap-module-source-map',
    resolve: {
      extensions: ['.ts', '.js'],
    },
    optimization: {
      minimizer: [
        new EsbuildPlugin({
          target: 'es2022',
          legalComments: 'none',
          // esbuild-loader otherwise wraps every file in an IIFE for web targets, which turns remoteEntry.js's
          // top-level `var v_supercore` (the container global a host's runtime looks up) into a local. Nothing is
          // lowered from ES2022 to ES2022, so no helpers need that scope.
          format: undefined,
        }),
      ],
    },
    stats: 'errors-warnings',
  };

  const remote: Configuration = {
    ...common,
    name: 'remote',
    // The container entry comes from the ModuleFederationPlugin; the remote has no page of its own.
    entry: {},
    output: {
      path: path.join(root, 'dist/remote'),
      // 'auto': chunks resolve against wherever remoteEntry.js was served from, so one build can be hosted anywhere.
      publicPath: 'auto',
      // Distinct chunk-loading global, so our chunks never land in a host's webpack runtime on the same page.
      uniqueName: 'v_supercore',
      // Only entry chunks use this, and the remote's one entry is the container, which MF names remoteEntry.js
      // (unhashed on purpose: it is the stable address; serve it with `Cache-Control: no-cache`).
      filename: '[name].js',
      chunkFilename: HASHED_JS,
      workerChunkFilename,
      clean: true,
    },
    module: {
      rules: [typescriptRule],
      parser: {
        javascript: {
          // Let webpack see `new CrossOriginWorker(new URL('…', import.meta.url))` as a worker, so it emits the
          // worker chunk and rewrites the URL. The source must match the import specifier exactly, `.ts` included.
          worker: ['CrossOriginWorker from ./cross-origin-worker.ts', '...'],
        },
      },
    },
    plugins: [
      new ModuleFederationPlugin({
        name: 'v_supercore',
        filename: 'remoteEntry.js',
        manifest: true,
        dts: false,
        exposes: {
          './module': './module/index.ts',
          './session-parcel': './module/session-parcel.ts',
          './sdk': './module/sdk.ts',
        },
        shared,
        // Trim the MF runtime every host downloads in remoteEntry.js: this remote consumes no remotes of its own
        // (no remote-loading code, no manifest snapshots) and only ever runs in browsers. Drop these if it ever
        // loads another remote.
        experiments: {
          optimization: { disableSnapshot: true, disableRemote: true, target: 'web' },
        },
      }),
      new webpack.NormalModuleReplacementPlugin(
        MF_UNREACHABLE,
        path.join(root, 'webpack/mf-unreachable-runtime.js'),
      ),
      new WorkerPublicPathFromBootstrapPlugin(),
      new RemoteStatsPlugin(path.join(root, 'dist/remote-stats.json')),
    ],
    performance: {
      // What a host downloads to mount ./module should stay small; warn (not fail) past these.
      hints: production ? 'warning' : false,
      maxAssetSize: 250_000,
      maxEntrypointSize: 250_000,
    },
  };

  const harness: Configuration = {
    ...common,
    name: 'harness',
    entry: { 'root-config': './harness/root-config.ts' },
    output: {
      path: path.join(root, 'dist/harness'),
      // The adapter serves the page at / and also at client routes such as /v-supercore/sessions.
      publicPath: '/',
      uniqueName: 'n3xus_harness',
      filename: HASHED_JS,
      chunkFilename: HASHED_JS,
      clean: true,
    },
    module: { rules: [typescriptRule] },
    plugins: [
      new HarnessPagePlugin(path.join(root, 'harness/index.html'), 'root-config', ['lent-rxjs', 'lent-lit']),
      new webpack.DefinePlugin({
        // The harness lends its single-spa to the remote through the share scope; the version is what it offers.
        __HARNESS_SINGLE_SPA_VERSION__: JSON.stringify(installedVersion('single-spa')),
        __HARNESS_SINGLE_SPA_RANGE__: JSON.stringify(caretRange('single-spa')),
        __HARNESS_RXJS_VERSION__: JSON.stringify(installedVersion('rxjs')),
        __HARNESS_RXJS_RANGE__: JSON.stringify(caretRange('rxjs')),
        __HARNESS_LIT_VERSION__: JSON.stringify(installedVersion('lit')),
        __HARNESS_LIT_RANGE__: JSON.stringify(caretRange('lit')),
      }),
    ],
    performance: { hints: false },
  };

  return [remote, harness];
};
