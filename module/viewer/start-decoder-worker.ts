import { releaseProxy, wrap, type Remote } from 'comlink';
import type { DecoderWorkerApi } from '../../worker/decoder-worker-api.ts';
import { CrossOriginWorker } from './cross-origin-worker.ts';

export interface DecoderWorkerHandle {
  /** The worker's API through Comlink; every call is a Promise. Unusable (calls throw) after `terminate()`. */
  api: Remote<DecoderWorkerApi>;
  /** Ends the worker at once (its WebSocket and canvas with it). Safe to call more than once. */
  terminate(): void;
}

/**
 * Starts a decoder worker for one viewer.
 *
 * The `new CrossOriginWorker(new URL(…, import.meta.url), …)` shape is what webpack recognises (see
 * webpack.config.ts), so keep it literal. `type: 'module'` is for unbundled runs (the Web Test Runner dev server
 * serves the `.ts` file as an ES module with imports); in the build webpack rewrites that `type` to `undefined`,
 * because its worker chunk is a classic script that loads further chunks with `importScripts()`.
 */
export function startDecoderWorker(): DecoderWorkerHandle {
  const worker = new CrossOriginWorker(new URL('../../worker/decoder-worker.ts', import.meta.url), {
    type: 'module',
    name: 'decoder-worker',
  });
  const api = wrap<DecoderWorkerApi>(worker);
  let terminated = false;
  return {
    api,
    terminate() {
      if (terminated) return;
      terminated = true;
      // Release first so later calls fail loudly instead of waiting forever on a worker that is gone.
      api[releaseProxy]();
      worker.terminate();
    },
  };
}
