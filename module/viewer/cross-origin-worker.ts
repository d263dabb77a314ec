/**
 * Name of the global the classic bootstrap sets to the real script URL before `importScripts()`. webpack.config.ts
 * (WorkerPublicPathFromBootstrapPlugin) emits a runtime module into worker chunks that reads it: inside a blob
 * worker `self.location` is the blob URL on the HOST's origin, so webpack's `publicPath: 'auto'` would otherwise
 * fetch the worker's further chunks from the host instead of from the remote. Keep both names in step.
 */
export const WORKER_SCRIPT_URL_GLOBAL = '__V_SUPERCORE_WORKER_SCRIPT_URL__';

/**
 * A `Worker` that can be started from a script on another origin.
 *
 * v-SuperCore is a Module Federation remote: its chunks, the decoder worker's included, are served from the
 * remote's origin while the page belongs to the host, and browsers refuse `new Worker(url)` for a cross-origin
 * `url`. So when the script is cross-origin this starts a tiny same-origin blob worker that pulls the real script
 * in: `importScripts()` for a classic worker (what webpack emits), a static `import` for a module worker (which
 * then needs CORS on the script, as any cross-origin module does). Same-origin scripts start directly.
 *
 * webpack.config.ts lists this class under `module.parser.javascript.worker`, so webpack treats
 * `new CrossOriginWorker(new URL('…', import.meta.url))` like `new Worker(…)`: it emits the worker chunk and passes
 * this constructor the chunk's absolute URL on the remote's origin.
 *
 * A host whose Content-Security-Policy limits `worker-src` must allow `blob:` for the cross-origin case.
 */
export class CrossOriginWorker extends Worker {
  constructor(scriptURL: string | URL, options?: WorkerOptions) {
    const url = new URL(scriptURL, globalThis.location.href);
    if (url.origin === globalThis.location.origin) {
      super(url, options);
      return;
    }
    const href = JSON.stringify(url.href);
    const bootstrap =
      options?.type === 'module'
        ? `import ${href};`
        : `self[${JSON.stringify(WORKER_SCRIPT_URL_GLOBAL)}] = ${href};\nimportScripts(${href});`;
    const blobUrl = URL.createObjectURL(new Blob([bootstrap], { type: 'text/javascript' }));
    try {
      super(blobUrl, options);
    } finally {
      // The constructor has already resolved the blob URL to its blob, so revoking now cannot race the worker's
      // fetch, and nothing is left to leak however the worker later ends.
      URL.revokeObjectURL(blobUrl);
    }
  }
}
