import type pg from 'pg';

/**
 * Ends a failed transaction on a pooled connection. Returns the error when even ROLLBACK failed (the
 * connection died): the caller then releases the client as broken, so the pool never hands it out again.
 */
export async function rollBack(client: pg.PoolClient): Promise<Error | undefined> {
  try {
    await client.query('ROLLBACK');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
