import pg from 'pg';

const TIMESTAMPTZ = 1184;

/**
 * PostgreSQL's text for a timestamptz in a UTC session ("2026-11-26 17:18:56.123+00") as the ISO-8601 the API
 * sends ("2026-11-26T17:18:56.123Z"), cut to milliseconds as a JS Date would be. node-postgres otherwise
 * parses every timestamp into a Date that the row mapping turns straight back into this string: on the
 * session list that round trip was about a fifth of the adapter's CPU. Other forms (another time zone, a
 * year past 9999) go the long way.
 */
export function pgTimestampToIso(text: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/.exec(text);
  if (m) return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
  return (pg.types.getTypeParser(TIMESTAMPTZ, 'text')(text) as Date).toISOString();
}

/** Query `types` that read timestamptz columns as ISO-8601 strings (see pgTimestampToIso). */
export const ISO_TIMES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ && format !== 'binary'
      ? pgTimestampToIso
      : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/** A time column read either way: a Date, or already ISO-8601 text through ISO_TIMES. */
export function isoOf(value: Date | string): string {
  return typeof value === 'string' ? value : value.toISOString();
}
