import { expect } from '@open-wc/testing';
import { CrossOriginWorker } from '../../../module/viewer/cross-origin-worker.ts';
import { startDecoderWorker } from '../../../module/viewer/start-decoder-worker.ts';

/** Resolves with the first message a worker posts, or rejects on its first error. */
function firstMessage(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    worker.addEventListener('message', (event) => resolve(event.data), { once: true });
    worker.addEventListener('error', (event) => reject(new Error(event.message || 'worker error')), {
      once: true,
    });
  });
}

describe('startDecoderWorker', () => {
  it('starts the decoder worker and answers stats() through Comlink', async () => {
    const handle = startDecoderWorker();
    try {
      const stats = await handle.api.stats();
      expect(stats).to.deep.equal({
        updates: 0,
        rects: 0,
        bytes: 0,
        decodeMs: 0,
        rttMs: null,
        transport: 'websocket',
        version: 0,
      });
    } finally {
      handle.terminate();
    }
  });

  it('terminate() ends the worker and makes the API unusable', async () => {
    const terminated: Worker[] = [];
    const original = Worker.prototype.terminate;
    Worker.prototype.terminate = function (this: Worker) {
      terminated.push(this);
      original.call(this);
    };
    try {
      const handle = startDecoderWorker();
      await handle.api.stats();
      handle.terminate();
      handle.terminate(); // idempotent: the second call must not terminate twice or throw
      expect(terminated).to.have.length(1);
      expect(terminated[0]).to.be.instanceOf(CrossOriginWorker);
      expect(() => handle.api.stats()).to.throw(/released/i);
    } finally {
      Worker.prototype.terminate = original;
    }
  });
});

describe('CrossOriginWorker', () => {
  const fixture = new URL('./fixtures/report-worker.js', import.meta.url);

  it('starts a same-origin script directly', async () => {
    const worker = new CrossOriginWorker(fixture);
    try {
      const data = await firstMessage(worker);
      expect(data).to.deep.equal({ location: fixture.href, scriptUrl: null });
    } finally {
      worker.terminate();
    }
  });

  it('starts a script from another origin through a same-origin blob bootstrap', async function () {
    // The same dev server under the other loopback name is another origin: the host-page / remote split.
    const remote = new URL(fixture);
    remote.hostname = remote.hostname === '127.0.0.1' ? 'localhost' : '127.0.0.1';
    expect(remote.origin).not.to.equal(location.origin);
    const reachable = await fetch(remote, { mode: 'no-cors' }).then(
      () => true,
      () => false,
    );
    // A dev server bound to one loopback name only leaves nothing cross-origin to load (the harness check covers it).
    if (!reachable) this.skip();
    // What the bootstrap exists for: the browser refuses a cross-origin worker script outright.
    expect(() => new Worker(remote)).to.throw();

    const worker = new CrossOriginWorker(remote);
    try {
      const data = (await firstMessage(worker)) as { location: string; scriptUrl: string | null };
      // The worker runs from a blob on this page's origin and was told the real script URL (for webpack's public
      // path), and the script itself was fetched from the other origin.
      expect(data.location.startsWith(`blob:${location.origin}/`)).to.equal(true);
      expect(data.scriptUrl).to.equal(remote.href);
    } finally {
      worker.terminate();
    }
  });
});
