import type pg from 'pg';
import { rollBack } from './roll-back.ts';

/**
 * Helpers for transactions whose statements leave without waiting for the answers before them (node-postgres's
 * pipeline mode, which the stores' pools use): the server runs them in order all the same, and a round trip
 * saved is a system call and a wake-up less on both sides, and a lock held for less time.
 */

/** A pipelined statement's promise, its rejection observed (the statement after it may be awaited first). */
export function sent<R>(query: Promise<R>): Promise<R> {
  query.catch(() => undefined);
  return query;
}

/**
 * Starts a READ COMMITTED transaction on a pipelined client (pool option `pipeline: true`) without waiting for
 * it: the transaction's first statement goes out right behind BEGIN, one round trip less per transaction.
 * Await the result before COMMIT (firstFailure does); its rejection is observed here, since a failing first
 * statement may be awaited (and thrown) first.
 */
export function beginPipelined(client: pg.PoolClient): Promise<pg.QueryResult> {
  return sent(client.query('BEGIN ISOLATION LEVEL READ COMMITTED'));
}

/**
 * `next`'s answer once every statement sent before it has been answered, which the server does in order.
 * A statement refused makes the rest of its transaction fail with "transaction aborted": the first refusal
 * is the cause, so that is the error thrown. Empties `unanswered`.
 */
export async function firstFailure<R>(unanswered: Array<Promise<unknown>>, next: Promise<R>): Promise<R> {
  sent(next);
  const before = unanswered.splice(0);
  for (const earlier of before) await earlier;
  return next;
}

/** Throws unless COMMIT committed: a transaction that failed unseen answers COMMIT with ROLLBACK, not an error. */
export function requireCommitted(result: pg.QueryResult): void {
  if (result.command !== 'COMMIT') throw new Error(`the transaction ended with ${result.command}`);
}

/**
 * `statements` as one READ COMMITTED transaction in one round trip: BEGIN, each statement and COMMIT leave
 * together, and their answers are awaited in order. For work whose every decision is made in SQL (no
 * statement's parameters depend on an earlier answer). Any statement refused refuses the whole: its own
 * error is thrown and nothing is kept.
 */
export async function pipelinedTransaction(
  pool: pg.Pool,
  statements: readonly pg.QueryConfig[],
): Promise<pg.QueryResult[]> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const unanswered: Array<Promise<unknown>> = [beginPipelined(client)];
    const results = statements.map((s) => sent(client.query(s)));
    unanswered.push(...results);
    requireCommitted(await firstFailure(unanswered, client.query('COMMIT')));
    return await Promise.all(results);
  } catch (error) {
    // Usually nothing is left to roll back (the COMMIT did it): this is for a failure before it was sent.
    broken = await rollBack(client);
    throw error;
  } finally {
    client.release(broken);
  }
}
