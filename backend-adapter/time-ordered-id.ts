import { v7 } from 'uuid';

/**
 * A new id for a row that is inserted once and indexed (sessions, Canon records, ledger transactions): a UUID
 * version 7, whose leading 48 bits are the time in milliseconds. Random (version 4) keys put every insert on
 * a random leaf of each index they are in, so a commit wrote one page per new row per index (a third of the
 * WAL of a create → terminate); ordered keys land on the index's last page, which one commit writes once for
 * all its rows, and which stays in the page cache however large the table grows. The time it reveals is
 * already in the row's own timestamps.
 */
export function timeOrderedId(): string {
  return v7();
}
