// API latency under load on loopback (autocannon), with the real adapter, the real Canon Memory (SQLite and
// PostgreSQL) and a runtime that starts nothing. Prints p50/p99; never fails on time.
//   node --import tsx bench/orchestrator/api-latency.ts [--seconds 10] [--rate 1000] [--stores sqlite,postgres]
import autocannon from 'autocannon';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../protocol/handshake.ts';
import { startBenchAdapter, type StoreKind } from './bench-adapter.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const seconds = Number(arg('seconds', '10'));
const rate = Number(arg('rate', '1000'));
const stores = arg('stores', 'sqlite,postgres').split(',') as StoreKind[];

const fmt = (n: number) => n.toFixed(2).padStart(7);

for (const store of stores) {
  const bench = await startBenchAdapter(store);
  try {
    const token = await bench.token('bench-user');
    const headers = {
      authorization: `Bearer ${token}`,
      [HANDSHAKE_HEADER]: HANDSHAKE,
      'content-type': 'application/json',
    };
    // Twenty sessions in the list, as a busy user would have.
    for (let i = 0; i < 20; i++) {
      await fetch(`${bench.adapter.url}/api/v1/sessions`, {
        method: 'POST',
        headers,
        body: '{"tier":"basic"}',
      });
    }
    const list = await autocannon({
      url: `${bench.adapter.url}/api/v1/sessions`,
      connections: 20,
      duration: seconds,
      overallRate: rate,
      headers,
    });
    const cycle = await autocannon({
      url: bench.adapter.url,
      connections: 10,
      duration: seconds,
      overallRate: rate,
      requests: [
        {
          method: 'POST',
          path: '/api/v1/sessions',
          headers,
          body: '{"tier":"basic"}',
          onResponse: (_status, body, context) => {
            context.id = (JSON.parse(body) as { sessionId: string }).sessionId;
          },
        },
        {
          method: 'DELETE',
          headers: { authorization: headers.authorization, [HANDSHAKE_HEADER]: HANDSHAKE },
          setupRequest: (request, context) => ({
            ...request,
            path: `/api/v1/sessions/${String(context.id)}`,
          }),
        },
      ],
    });
    for (const [name, r] of [
      ['GET /api/v1/sessions (20 listed)', list],
      ['create → terminate (2 requests)', cycle],
    ] as const) {
      console.log(
        `${store.padEnd(8)} ${name.padEnd(34)} ${Math.round(r.requests.average)
          .toString()
          .padStart(
            5,
          )} req/s  p50 ${fmt(r.latency.p50)} ms  p99 ${fmt(r.latency.p99)} ms  max ${fmt(r.latency.max)} ms  non-2xx ${r.non2xx}  errors ${r.errors}`,
      );
    }
  } finally {
    await bench.close();
  }
}
console.log(`target: p99 <= 10 ms at ${rate} requests/s on this 2-core machine (spec bound: 200 ms)`);
