// Scale: 10,000 live sessions in one orchestrator (real lifecycle and Canon Memory, a runtime that starts
// nothing). Reports memory per session and how list, transitions (pause + resume; a create → terminate,
// whose Genesis checks the tenant's and the cluster's live sums) and the periodic full scans cost at
// 100 / 1,000 / 10,000 sessions. Prints figures; never fails on time.
//   node --expose-gc --import tsx bench/orchestrator/scale-sessions.ts [--store sqlite|postgres]
import { performance } from 'node:perf_hooks';
import { startBenchAdapter, type StoreKind } from './bench-adapter.ts';

const i = process.argv.indexOf('--store');
const store = (i > 0 ? process.argv[i + 1] : 'sqlite') as StoreKind;
const gc = (globalThis as { gc?: () => void }).gc;
const heapMiB = () => {
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/**
 * The longest the event loop went without a turn while `work` ran: how long a request arriving meanwhile
 * could wait behind it. A chain of setImmediate callbacks notes the gap between turns.
 */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let longest = 0;
  let last = performance.now();
  let running = true;
  const tick = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await work();
  running = false;
  tick();
  return longest;
}

async function timeEach(n: number, work: (k: number) => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let k = 0; k < n; k++) {
    const t0 = performance.now();
    await work(k);
    times.push(performance.now() - t0);
  }
  return median(times);
}

const bench = await startBenchAdapter(store);
const { lifecycle, canon } = bench.adapter;
const PER_USER = 10;
const principal = (n: number) => ({
  userId: `u${Math.floor(n / PER_USER)}`,
  tenantId: 'bench',
  subscription: 'enterprise',
});
try {
  if (!gc) console.log('(run with --expose-gc for exact heap figures)');
  const baseHeap = heapMiB();
  const baseRss = process.memoryUsage().rss / 2 ** 20;
  let created = 0;
  console.log(
    `store ${store}: sessions | heap MiB (Δ/session KiB) | list 10 own (ms) | pause+resume (ms) | create+terminate (ms) | full scan of live sessions (ms, longest stall) | /metrics totals (ms)`,
  );
  for (const target of [100, 1000, 10000]) {
    const ids: string[] = [];
    while (created < target) {
      ids.push((await lifecycle.create(principal(created), 'basic')).sessionId);
      created++;
    }
    const heap = heapMiB();
    const list = await timeEach(200, (k) => lifecycle.list(principal((k * 37) % target)));
    const sample =
      (await canon.listSessions({ tenantId: 'bench', userId: 'u0' }))[0]?.session.sessionId ?? '';
    const transition = await timeEach(50, async () => {
      await lifecycle.pause(principal(0), sample);
      await lifecycle.resume(principal(0), sample);
    });
    // A user of its own, so the per-user sums stay small and only the tenant's and cluster's grow.
    const newcomer = { userId: 'newcomer', tenantId: 'bench', subscription: 'enterprise' };
    const cycle = await timeEach(50, async () => {
      const { sessionId } = await lifecycle.create(newcomer, 'basic');
      await lifecycle.terminate(newcomer, sessionId);
    });
    const scan = await timeEach(10, () => canon.listUnfinished());
    const stall = await longestStall(() => canon.listUnfinished());
    const totals = await timeEach(10, () => canon.liveTotals());
    console.log(
      `${String(target).padStart(14)} | ${heap.toFixed(1).padStart(8)} (${(((heap - baseHeap) * 1024) / target).toFixed(2)}) | ${list.toFixed(3).padStart(16)} | ${transition.toFixed(3).padStart(17)} | ${cycle.toFixed(3).padStart(21)} | ${`${scan.toFixed(1)} (${stall.toFixed(1)})`.padStart(46)} | ${totals.toFixed(1).padStart(19)}`,
    );
  }
  console.log(
    `RSS grew ${(process.memoryUsage().rss / 2 ** 20 - baseRss).toFixed(1)} MiB for ${created} live sessions`,
  );
  console.log(
    'the full scan runs in the metrics sampler (every 2 s) and the timeout check (every 15 s); /metrics reads the totals',
  );
} finally {
  await bench.close();
}
