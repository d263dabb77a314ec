import type { SqlDialect } from './sql-db.ts';

/** How a column of `jsonRows` is typed: as the tables here declare it in each dialect. */
export type JsonColumnType = 'text' | 'integer' | 'bigint' | 'time' | 'json';

const POSTGRES_TYPES: Record<JsonColumnType, string> = {
  text: 'text',
  integer: 'integer',
  bigint: 'bigint',
  time: 'timestamptz',
  json: 'jsonb',
};

/**
 * A FROM item (aliased `alias`) whose rows are the objects of a JSON array passed as one parameter, so a
 * statement writes or reads any number of rows with one fixed text: one round trip and one prepared
 * statement for a batch, instead of one statement per row. The parameter is `JSON.stringify` of objects
 * keyed by the column names; times are ISO-8601 text and JSON columns nested values, as the tables keep them.
 *
 * Meant for batches of up to a few hundred rows. SQLite probes the table's index for each row. PostgreSQL
 * plans the parameter as 100 rows: on a table with statistics it probes the index too; on one never
 * analysed (a fresh database, or a server without autovacuum) it may hash-join a scan of the table, which
 * costs little while the table is small and is replanned once ANALYZE has run.
 */
export function jsonRows(
  dialect: SqlDialect,
  placeholder: string,
  columns: Readonly<Record<string, JsonColumnType>>,
  alias = 'x',
): string {
  const names = Object.keys(columns);
  for (const name of names) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain column name: ${name}`);
  }
  if (dialect === 'postgres') {
    const typed = names.map((n) => `${n} ${POSTGRES_TYPES[columns[n] ?? 'text']}`).join(', ');
    return `jsonb_to_recordset(${placeholder}::jsonb) AS ${alias} (${typed})`;
  }
  // SQLite: ->> gives a JSON number as an integer and a string as text; -> keeps a nested value as JSON text.
  const picked = names
    .map((n) => (columns[n] === 'json' ? `value -> '${n}' AS ${n}` : `value ->> '${n}' AS ${n}`))
    .join(', ');
  return `(SELECT ${picked} FROM json_each(${placeholder})) AS ${alias}`;
}
