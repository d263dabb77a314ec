import { closeSync, fdatasync, openSync } from 'node:fs';

/**
 * fdatasync of a SQLite file's write-ahead log, outside SQLite's COMMIT and on libuv's thread pool. Flushing
 * the file flushes what every descriptor wrote to it, so this descriptor of our own covers the frames SQLite's
 * connection wrote. The WAL file stays the same file while that connection is open (SQLite deletes it only
 * when the last connection closes; a restart rewrites it from the start in place).
 */
export class SqliteWalSync {
  private fd: number | undefined;

  constructor(private readonly walFile: string) {}

  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      let fd: number;
      try {
        fd = this.descriptor();
      } catch (error) {
        reject(error);
        return;
      }
      fdatasync(fd, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Only once no sync is running (the group commit has drained). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Opened on first use: the file exists once the first COMMIT has written to it; a failed open is retried. */
  private descriptor(): number {
    return (this.fd ??= openSync(this.walFile, 'r+'));
  }
}
