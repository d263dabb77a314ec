import Database from 'better-sqlite3';
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * A keyset-paged query whose rows come as arrays of its columns: `first` and `after` both end in `LIMIT ?`,
 * and `after` takes the last row's `key` before that.
 */
export interface PagedQuery<R extends unknown[]> {
  first: string;
  after: string;
  key: (row: R) => unknown[];
}

/**
 * A second, read-only connection to a SQLite file, for reads of every live session. better-sqlite3 runs a
 * query to its end on the event loop (a 10,000-session scan held it for over 100 ms, every few seconds, in
 * the sampler and the timeout check); here the rows come in pages with a turn of the event loop between them,
 * all from one read transaction, so the result is one consistent snapshot however the writers move meanwhile.
 * Reads take turns: the connection holds one transaction at a time.
 */
export class SqliteSnapshotReader {
  private db: Database.Database | undefined;
  private readonly statements = new Map<string, Database.Statement>();
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly pageSize = 500,
  ) {}

  /** Every row of `query` as `map` makes it, read (and mapped) page by page from one snapshot. */
  read<R extends unknown[], T>(query: PagedQuery<R>, map: (row: R) => T): Promise<T[]> {
    const result = this.turn.then(() => this.readAll(query, map));
    this.turn = result.catch(() => undefined);
    return result;
  }

  close(): void {
    this.statements.clear();
    this.db?.close();
    this.db = undefined;
  }

  private async readAll<R extends unknown[], T>(query: PagedQuery<R>, map: (row: R) => T): Promise<T[]> {
    const db = (this.db ??= this.open());
    const first = this.statement(db, query.first);
    const after = this.statement(db, query.after);
    db.exec('BEGIN');
    try {
      const result: T[] = [];
      let page = first.all(this.pageSize) as R[];
      for (;;) {
        for (const row of page) result.push(map(row));
        if (page.length < this.pageSize) return result;
        await nextTurn();
        page = after.all(...query.key(page[page.length - 1] as R), this.pageSize) as R[];
      }
    } finally {
      if (db.open && db.inTransaction) db.exec('COMMIT');
    }
  }

  private open(): Database.Database {
    const db = new Database(this.file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return db;
  }

  private statement(db: Database.Database, text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = db.prepare(text);
      if (statement.reader) statement.raw(true);
      this.statements.set(text, statement);
    }
    return statement;
  }
}
