import { performance } from 'node:perf_hooks';

/**
 * When a database server last answered on any of a pool's connections, and whether one has been lost since.
 * A readiness probe (Canon Memory's `ping`) that finds an answer this recent needs no round trip of its own:
 * under load every transition would otherwise send one `SELECT 1` just to learn what the statements around it
 * show anyway. A lost connection clears it, so the next probe asks the server again.
 */
export class ServerContact {
  private answeredAt = Number.NEGATIVE_INFINITY;

  answered(): void {
    this.answeredAt = performance.now();
  }

  lost(): void {
    this.answeredAt = Number.NEGATIVE_INFINITY;
  }

  answeredWithin(ms: number): boolean {
    return performance.now() - this.answeredAt < ms;
  }
}
