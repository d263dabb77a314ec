import { randomUUID } from 'node:crypto';

/**
 * A new id for a row that is inserted once and indexed (sessions, Canon records, ledger transactions): a UUID
 * version 7 (RFC 9562), whose leading 48 bits are the time in milliseconds. Random (version 4) keys put every
 * insert on a random leaf of each index they are in, so a commit wrote one page per new row per index (a third
 * of the WAL of a create → terminate); ordered keys land on the index's last page, which one commit writes
 * once for all its rows, and which stays in the page cache however large the table grows. The time it reveals
 * is already in the row's own timestamps.
 *
 * The 74 random bits come from node's randomUUID, which draws its entropy in batches: the uuid package's v7
 * asked the system for 16 random bytes per id, a tenth of the event loop's time under load. Ids of one
 * millisecond are in random order among themselves (RFC 9562 allows it), which keeps them on the same page.
 */
export function timeOrderedId(): string {
  const random = randomUUID(); // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx, V already the RFC variant
  const ms = Date.now().toString(16).padStart(12, '0');
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7${random.slice(15, 18)}-${random.slice(19)}`;
}
