// API latency under load on loopback, with the real adapter, the real Canon Memory (SQLite and PostgreSQL)
// and a runtime that starts nothing ("inert"). Prints p50/p99; never fails on time.
//   node --import tsx bench/orchestrator/api-latency.ts [--seconds 10] [--rate 1000] [--stores sqlite,postgres]
//     [--users 100] [--profile DIR] [--sweep]
// The adapter runs in a child process (spawn-adapter.ts): a load generator sharing the server's event loop
// would slow the server it measures. `--profile DIR` writes the server's CPU profile (.cpuprofile) there.
//
// What is measured:
// - GET /api/v1/sessions for one user with 20 sessions.
// - create → terminate spread over `--users` users (each cycle takes the next user's token): Genesis checks a
//   user's quotas and NexCoin hold atomically, so one user's launches are serialised by design, and the
//   per-user rate limit keeps any one user far below 1,000 launches/s. The single-user figure is printed too,
//   labelled, as the bound one user's launches have.
// Each is measured twice, at `--rate` requests/s:
// - autocannon: its rate is a per-connection budget per second — each connection sends back to back until
//   its share of the second is spent, then waits — so this is latency with all connections busy at once
//   for as long as it takes to serve the second's requests (bursts, not an even rate);
// - paced (paced-load.ts): requests start at evenly spaced times whether or not earlier ones answered, each
//   timed from when it was due (a server that falls behind is charged for the queue).
// `--sweep`: where a paced create → terminate misses the target at `--rate`, it is measured again (each time on a
// new adapter and database, after a short warm-up) at 100 req/s
// less each time until a rate meets it, and that rate is printed: how far this machine is from the target.
// Before the first create → terminate line, 3 s of cycles at a quarter of the rate, not measured, give the
// database a history. On a PostgreSQL server without autovacuum (this machine kind's), each line starts after a
// VACUUM ANALYZE of the bench database, as autovacuum would have run between them (printed once).
// The first lines are a control (control-server.ts): the same load against a server that does nothing, the
// floor the machine puts under every other line at that moment; before the PostgreSQL lines, pgbench's simplest
// write transaction on the same server (postgres-control.ts) gives what a statement costs there at the least.
// Each line also gives the adapter's CPU time per request, which depends far less than latency on what else
// the shared machine is running, the SQL a request cost (sql-traffic.ts), which does not depend on it at all,
// and the rate this machine's cores could serve at that CPU time.
import { availableParallelism } from 'node:os';
import autocannon from 'autocannon';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../protocol/handshake.ts';
import type { StoreKind } from './bench-adapter.ts';
import { spawnControlServer } from './control-server.ts';
import { cpuMsOf, postgresCpuMs } from './process-cpu.ts';
import { pacedLoad, type PacedResult, type PacedWork } from './paced-load.ts';
import { measurePostgresControl } from './postgres-control.ts';
import { spawnBenchAdapter, type AdapterProcess } from './spawn-adapter.ts';
import { POSTGRES_STATEMENTS, sqlPerRequest, sqlTotals } from './sql-traffic.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const seconds = Number(arg('seconds', '10'));
const rate = Number(arg('rate', '1000'));
const stores = arg('stores', 'sqlite,postgres').split(',') as StoreKind[];
const users = Math.max(1, Number(arg('users', '100')));
const profileDir = arg('profile', '');
const sweep = process.argv.includes('--sweep');
const TARGET_P99_MS = 10;
const CORES = availableParallelism();
const SWEEP_STEP = 100;
const WARM_UP_SECONDS = 3;
const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];

type Result = Awaited<ReturnType<typeof autocannon>>;

const LIST_CONNECTIONS = 20;
const CYCLE_CONNECTIONS = 10;

/** A pause between runs, so one run's stragglers do not land in the next. */
const settle = () => new Promise((r) => setTimeout(r, 2000));
const fmt = (n: number) => n.toFixed(2).padStart(7);
const headersFor = (token: string) => ({
  authorization: `Bearer ${token}`,
  [HANDSHAKE_HEADER]: HANDSHAKE,
  'content-type': 'application/json',
});

/** create → terminate on `connections` connections, each cycle as the next of `tokens` (round robin). */
function cycle(url: string, tokens: readonly string[]): Promise<Result> {
  let next = 0;
  return autocannon({
    url,
    connections: CYCLE_CONNECTIONS,
    duration: seconds,
    overallRate: rate,
    requests: [
      {
        method: 'POST',
        path: '/api/v1/sessions',
        body: '{"tier":"basic"}',
        setupRequest: (request, context) => {
          const token = tokens[next++ % tokens.length] ?? '';
          context.token = token;
          return { ...request, headers: headersFor(token) };
        },
        onResponse: (status, body, context) => {
          context.id = status === 201 ? (JSON.parse(body) as { sessionId: string }).sessionId : 'none';
        },
      },
      {
        method: 'DELETE',
        setupRequest: (request, context) => ({
          ...request,
          path: `/api/v1/sessions/${String(context.id)}`,
          headers: {
            authorization: `Bearer ${String(context.token)}`,
            [HANDSHAKE_HEADER]: HANDSHAKE,
          },
        }),
      },
    ],
  });
}

/** create → terminate as one paced unit: the terminate follows as soon as the create answers. */
function pacedCycle(tokens: readonly string[]): (index: number) => PacedWork {
  return (index) => async (send) => {
    const token = tokens[index % tokens.length] ?? '';
    const created = await send({
      method: 'POST',
      path: '/api/v1/sessions',
      headers: headersFor(token),
      body: '{"tier":"basic"}',
    });
    if (created.status !== 201) return;
    const { sessionId } = JSON.parse(created.body) as { sessionId: string };
    await send({
      method: 'DELETE',
      path: `/api/v1/sessions/${sessionId}`,
      headers: { authorization: `Bearer ${token}`, [HANDSHAKE_HEADER]: HANDSHAKE },
    });
  };
}

interface Figures {
  rate: number;
  completed: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  unfinished?: number;
}

const fromAutocannon = (r: Result): Figures => ({
  rate: r.requests.average,
  completed: r.requests.total,
  p50: r.latency.p50,
  p99: r.latency.p99,
  max: r.latency.max,
  non2xx: r.non2xx,
  errors: r.errors + r.timeouts,
});

const fromPaced = (r: PacedResult): Figures => ({ ...r, rate: r.achievedRate });

/** A server under measurement: its process (for CPU time), its event loop's busy time, and (the adapter) its URL. */
interface Measured {
  pid: number;
  loopActiveMs(): Promise<number>;
  url?: string;
  /** The database's upkeep before a measurement (spawn-adapter.ts); true when it ran. */
  upkeep?(): Promise<boolean>;
}

/** Stores whose upkeep has been announced (once each). */
const upkeepNoted = new Set<string>();

/**
 * Runs one measurement and prints its line, with the server's CPU time per request (all its threads; unlike
 * latency, it hardly depends on what else the shared machine is doing) and its event loop's busy time per
 * request: the main thread every request queues behind, so 1,000 req/s need it well under 1,000 µs. On
 * PostgreSQL, the database's CPU time per request too: here it runs on the same two cores, so the adapter's
 * and the database's figures together bound the rate this machine can serve.
 */
async function measure(
  server: Measured,
  store: string,
  name: string,
  how: string,
  run: () => Promise<Figures>,
  offered = rate,
): Promise<Figures> {
  const database = store === 'postgres';
  const sqlStore = store === 'sqlite' || store === 'postgres' ? store : undefined;
  if ((await server.upkeep?.()) && !upkeepNoted.has(store)) {
    upkeepNoted.add(store);
    console.log(
      `${store.padEnd(8)} this server runs without autovacuum: VACUUM ANALYZE before each line, as autovacuum would have run between them (without it a line pays for the rows the lines before it left)`,
    );
  }
  const sqlBefore = sqlStore && server.url ? await sqlTotals(server.url, sqlStore) : undefined;
  const cpuBefore = cpuMsOf(server.pid);
  const dbBefore = database ? postgresCpuMs() : undefined;
  const loopBefore = await server.loopActiveMs();
  const r = await run();
  const cpuAfter = cpuMsOf(server.pid);
  const dbAfter = database ? postgresCpuMs() : undefined;
  const loopAfter = await server.loopActiveMs();
  const sqlAfter = sqlStore && server.url && sqlBefore ? await sqlTotals(server.url, sqlStore) : undefined;
  const sql =
    sqlStore && sqlBefore && sqlAfter ? `  ${sqlPerRequest(sqlStore, sqlBefore, sqlAfter, r.completed)}` : '';
  const perRequest = (ms: number) =>
    r.completed === 0 ? '   n/a' : ((1000 * ms) / r.completed).toFixed(0).padStart(6);
  const cpuMs = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
  const dbMs = dbBefore === undefined || dbAfter === undefined ? undefined : dbAfter - dbBefore;
  const cpu = cpuMs === undefined ? '   n/a' : perRequest(cpuMs);
  let dbCpu = '';
  if (dbMs !== undefined) {
    const statements =
      (sqlAfter?.get(POSTGRES_STATEMENTS) ?? NaN) - (sqlBefore?.get(POSTGRES_STATEMENTS) ?? NaN);
    const perStatement = statements > 0 ? `, ${((1000 * dbMs) / statements).toFixed(0)} µs/statement` : '';
    dbCpu = `  PostgreSQL CPU ${perRequest(dbMs)} µs/req${perStatement}`;
  }
  const achieved = Math.round(r.rate);
  console.log(
    `${store.padEnd(8)} ${name.padEnd(40)} ${how.padEnd(15)} ${String(achieved).padStart(5)} req/s  p50 ${fmt(r.p50)} ms  p99 ${fmt(r.p99)} ms  max ${fmt(r.max)} ms  server CPU ${cpu} µs/req  loop busy ${perRequest(loopAfter - loopBefore)} µs/req${dbCpu}${sql}  non-2xx ${r.non2xx}  errors ${r.errors}${achieved < offered * 0.95 ? `  (below the offered ${offered} req/s)` : ''}`,
  );
  if (cpuMs !== undefined && r.completed > 0) {
    // The adapter and the database share the machine's cores (with the load generator, left out here).
    const busyMsPerRequest = (cpuMs + (dbMs ?? 0)) / r.completed;
    console.log(
      `${''.padEnd(9)}  ↳ at that CPU per request, ${CORES} cores serve at most ${Math.floor((CORES * 1000) / busyMsPerRequest)} req/s`,
    );
  }
  if (r.unfinished)
    console.log(
      `${''.padEnd(9)}  ↳ ${r.unfinished} requests unanswered 5 s after the last one was due (∞ above)`,
    );
  await settle();
  return r;
}

console.log(
  `adapter in a child process, inert runtime; ${seconds} s per line at ${rate} req/s offered (a cycle is 2 requests)`,
);
{
  // The floor: the same generators against a server that does nothing.
  const control = await spawnControlServer();
  try {
    const name = 'control: empty node:http server';
    await measure(control, 'control', name, `autocannon ×${LIST_CONNECTIONS}`, async () =>
      fromAutocannon(
        await autocannon({
          url: control.url,
          connections: LIST_CONNECTIONS,
          duration: seconds,
          overallRate: rate,
        }),
      ),
    );
    await measure(control, 'control', name, 'paced', async () =>
      fromPaced(
        await pacedLoad({
          url: control.url,
          startsPerSecond: rate,
          seconds,
          work: () => async (send) => {
            await send({ method: 'GET', path: '/', headers: {} });
          },
        }),
      ),
    );
  } finally {
    await control.close();
  }
}
for (const store of stores) {
  if (store === 'postgres') {
    // The database's floor, before its lines: pgbench's simplest write transaction on the same server.
    const floor = await measurePostgresControl(seconds);
    if (floor)
      console.log(
        `postgres control: pgbench ${floor.transactionsPerSecond.toFixed(0)} transactions/s = ${floor.statementsPerSecond.toFixed(0)} statements/s (${floor.commands}; prepared)  PostgreSQL CPU ${floor.cpuPerStatementUs.toFixed(0)} µs/statement`,
      );
    await settle();
  }
  const child = await spawnBenchAdapter(store, users, nodeArgs);
  try {
    const [listToken] = child.tokens as [string];
    // Twenty sessions in the list, as a busy user would have.
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${child.url}/api/v1/sessions`, {
        method: 'POST',
        headers: headersFor(listToken),
        body: '{"tier":"basic"}',
      });
      if (res.status !== 201) throw new Error(`seeding a session failed: ${res.status} ${await res.text()}`);
    }
    const list = 'GET /api/v1/sessions (20 listed)';
    await measure(child, store, list, `autocannon ×${LIST_CONNECTIONS}`, async () =>
      fromAutocannon(
        await autocannon({
          url: `${child.url}/api/v1/sessions`,
          connections: LIST_CONNECTIONS,
          duration: seconds,
          overallRate: rate,
          headers: headersFor(listToken),
        }),
      ),
    );
    await measure(child, store, list, 'paced', async () =>
      fromPaced(
        await pacedLoad({
          url: child.url,
          startsPerSecond: rate,
          seconds,
          work: () => async (send) => {
            await send({ method: 'GET', path: '/api/v1/sessions', headers: headersFor(listToken) });
          },
        }),
      ),
    );
    const many = `create → terminate, ${users} users`;
    // Not measured: a history of sessions before the first create → terminate line, as a running deployment
    // has (the sweep does the same on each new adapter); on PostgreSQL the upkeep then plans on it.
    await pacedLoad({
      url: child.url,
      startsPerSecond: rate / 4,
      seconds: WARM_UP_SECONDS,
      work: pacedCycle(child.tokens),
    });
    await settle();
    await measure(child, store, many, `autocannon ×${CYCLE_CONNECTIONS}`, async () =>
      fromAutocannon(await cycle(child.url, child.tokens)),
    );
    // Two requests per cycle: cycles start at half the request rate.
    const pacedCycles = (server: AdapterProcess, perSecond: number, how: string) =>
      measure(
        server,
        store,
        many,
        how,
        async () =>
          fromPaced(
            await pacedLoad({
              url: server.url,
              startsPerSecond: perSecond / 2,
              seconds,
              work: pacedCycle(server.tokens),
            }),
          ),
        perSecond,
      );
    const meets = (f: Figures, offered: number) => f.p99 <= TARGET_P99_MS && f.rate >= offered * 0.95;
    if (!meets(await pacedCycles(child, rate, 'paced'), rate) && sweep) {
      for (let lower = rate - SWEEP_STEP; lower >= SWEEP_STEP; lower -= SWEEP_STEP) {
        // Each rate on a new adapter and database: what an overloaded run left behind (its queue, live
        // sessions, unsettled charges) would otherwise slow the next.
        const fresh = await spawnBenchAdapter(store, users, nodeArgs);
        let figures: Figures;
        try {
          await pacedLoad({
            url: fresh.url,
            startsPerSecond: lower / 4,
            seconds: 2,
            work: pacedCycle(fresh.tokens),
          });
          await settle();
          figures = await pacedCycles(fresh, lower, `paced ${lower}/s`);
        } finally {
          await fresh.close();
        }
        if (!meets(figures, lower)) continue;
        console.log(
          `${''.padEnd(9)}  ↳ create → terminate, paced, meets p99 <= ${TARGET_P99_MS} ms up to ${lower} req/s here`,
        );
        break;
      }
    }
    if (users > 1) {
      // Closed loop only: one user cannot keep up with an open-loop rate, so its queue would only grow.
      await measure(
        child,
        store,
        'create → terminate, 1 user (serialised)',
        `autocannon ×${CYCLE_CONNECTIONS}`,
        async () => fromAutocannon(await cycle(child.url, [listToken])),
      );
    }
  } finally {
    await child.close();
  }
}
console.log(
  `target: p99 <= ${TARGET_P99_MS} ms at ${rate} requests/s on this 2-core machine (spec bound: 200 ms)`,
);
