import { open, type FileHandle } from 'node:fs/promises';

/**
 * fdatasync of a SQLite file's write-ahead log, on libuv's thread pool rather than inside COMMIT on the event
 * loop. Flushing the file flushes what every descriptor wrote to it, so this descriptor of our own covers the
 * frames SQLite's connection wrote. The WAL file stays the same file while that connection is open (SQLite
 * deletes it only when the last connection closes; a restart rewrites it from the start in place).
 */
export class SqliteWalSync {
  private handle: Promise<FileHandle> | undefined;

  constructor(private readonly walFile: string) {}

  async sync(): Promise<void> {
    if (!this.handle) {
      // Opened on first use: the file exists once the first COMMIT has written to it. A failed open is tried
      // again next time; a failed flush is final (the group commit refuses every write after it).
      const opening = open(this.walFile, 'r+');
      this.handle = opening;
      opening.catch(() => {
        if (this.handle === opening) this.handle = undefined;
      });
    }
    await (await this.handle).datasync();
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await (await handle?.catch(() => undefined))?.close();
  }
}
