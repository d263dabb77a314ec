// The bench adapter in a process of its own, so a load generator in the parent does not share (and slow) the
// server's event loop. Prints one JSON line {url, tokens} on stdout once it listens, and closes (dropping its
// temporary data and PostgreSQL database) when its stdin ends or on SIGTERM / SIGINT. A line `loop` on stdin
// is answered with the event loop's busy time so far, in ms ({"loopActiveMs": n}); a line `upkeep` runs the
// database's upkeep (BenchAdapter.upkeep) and answers {"upkept": true|false}.
//   node --import tsx bench/orchestrator/adapter-process.ts --store sqlite|postgres [--users 1]
// Tokens are for users bench-user-0 … bench-user-(N-1), all of tenant "bench".
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { startBenchAdapter, type StoreKind } from './bench-adapter.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const store = arg('store', 'sqlite');
if (store !== 'sqlite' && store !== 'postgres') throw new Error(`unknown store "${store}"`);
const users = Number(arg('users', '1'));

const bench = await startBenchAdapter(store satisfies StoreKind);
let closing: Promise<void> | undefined;
const close = (): Promise<void> =>
  (closing ??= bench
    .close()
    .catch((error: unknown) => {
      console.error('closing the bench adapter failed:', error);
      process.exitCode = 1;
    })
    // Nothing else should keep the process (e.g. a stray timer) once the adapter has closed.
    .finally(() => process.exit()));
process.once('SIGTERM', () => void close());
process.once('SIGINT', () => void close());
process.stdin.on('end', () => void close());
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'loop') {
    process.stdout.write(`${JSON.stringify({ loopActiveMs: performance.eventLoopUtilization().active })}\n`);
  } else if (line === 'upkeep') {
    void bench.upkeep().then(
      (upkept) => process.stdout.write(`${JSON.stringify({ upkept })}\n`),
      (error: unknown) => {
        console.error('the upkeep of the bench database failed:', error);
        process.stdout.write(`${JSON.stringify({ upkept: false })}\n`);
      },
    );
  }
});

const tokens: string[] = [];
for (let u = 0; u < users; u++) tokens.push(await bench.token(`bench-user-${u}`));
process.stdout.write(`${JSON.stringify({ url: bench.adapter.url, tokens })}\n`);
