import { Agent, request as httpRequest, type ClientRequest } from 'node:http';
import { performance } from 'node:perf_hooks';

/** One HTTP request of a paced run. */
export interface PacedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * One unit of work started at its due time: one request, or a chain (create → terminate) whose later
 * requests follow as soon as the one before answers. `send` returns the status and body of each request.
 */
export type PacedWork = (
  send: (request: PacedRequest) => Promise<{ status: number; body: string }>,
) => Promise<void>;

export interface PacedResult {
  /** Requests completed per second over the run. */
  achievedRate: number;
  completed: number;
  /** Sent but not answered by the deadline: counted as infinitely slow in the percentiles. */
  unfinished: number;
  non2xx: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
}

const quantile = (sorted: Float64Array, q: number): number =>
  sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN);

/**
 * An open-loop load generator: units of work start at evenly spaced due times (`startsPerSecond`) whether or
 * not earlier ones have answered, and a unit's first request is timed from its due time, so a server that
 * falls behind is charged for the wait (no coordinated omission); later requests of a chain are timed from
 * when they were sent. autocannon's rate instead lets each connection send back to back until its share of
 * the second is spent, which measures latency at `connections` concurrent requests rather than at a rate.
 */
export async function pacedLoad(options: {
  url: string;
  startsPerSecond: number;
  seconds: number;
  /** Sockets kept open to the server; requests beyond them wait for one (and that wait is measured). */
  maxSockets?: number;
  /** How long after the last start answers are still waited for (default 5 s). */
  drainMs?: number;
  work: (index: number) => PacedWork;
}): Promise<PacedResult> {
  const target = new URL(options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let over = false;
  const pending = new Set<ClientRequest>();

  const send = (req: PacedRequest, dueAt: number): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      if (over) {
        reject(new Error('the run is over'));
        return;
      }
      sent++;
      const r = httpRequest(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.path,
          headers:
            req.body === undefined
              ? req.headers
              : { ...req.headers, 'content-length': Buffer.byteLength(req.body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            pending.delete(r);
            const status = res.statusCode ?? 0;
            if (!over) {
              latencies.push(performance.now() - dueAt);
              if (status < 200 || status >= 300) non2xx++;
            }
            resolve({ status, body: Buffer.concat(chunks).toString() });
          });
          res.on('error', reject);
        },
      );
      pending.add(r);
      r.on('error', (error) => {
        pending.delete(r);
        reject(error);
      });
      r.end(req.body);
    });

  const interval = 1000 / options.startsPerSecond;
  const total = Math.round(options.startsPerSecond * options.seconds);
  const running: Array<Promise<void>> = [];
  const start = performance.now();
  let next = 0;
  await new Promise<void>((done) => {
    const tick = (): void => {
      const now = performance.now();
      for (; next < total && start + next * interval <= now; next++) {
        const dueAt = start + next * interval;
        let first = true;
        const unit = options.work(next)((req) => {
          const timedFrom = first ? dueAt : performance.now();
          first = false;
          return send(req, timedFrom);
        });
        running.push(
          unit.catch(() => {
            if (!over) errors++;
          }),
        );
      }
      if (next < total) setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
      else done();
    };
    tick();
  });
  let deadline: NodeJS.Timeout | undefined;
  const all = Promise.all(running);
  await Promise.race([all, new Promise((r) => (deadline = setTimeout(r, options.drainMs ?? 5000)))]);
  clearTimeout(deadline);
  over = true;
  const elapsedS = (performance.now() - start) / 1000;
  const unfinished = sent - latencies.length - errors;
  // Requests still waiting for a socket are never sent; those the server has are let finish, so the server is
  // idle again when the next run starts.
  for (const r of pending) if (!r.socket) r.destroy();
  await all;
  agent.destroy();
  const sorted = Float64Array.from([...latencies, ...new Array<number>(unfinished).fill(Infinity)]).sort();
  return {
    achievedRate: latencies.length / elapsedS,
    completed: latencies.length,
    unfinished,
    non2xx,
    errors,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: quantile(sorted, 1),
  };
}
