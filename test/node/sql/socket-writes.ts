import { Socket } from 'node:net';

/**
 * Counts the writes this process hands the kernel on TCP sockets (every chunk, alone or as one writev;
 * not the test runner's own output, which goes down a pipe) while `fn` runs: the round trips a store makes.
 */
export async function socketWrites<T>(fn: () => Promise<T>): Promise<{ writes: number; result: T }> {
  const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...a: unknown[]) => unknown>;
  const originals = { _write: proto._write, _writev: proto._writev };
  let writes = 0;
  for (const method of ['_write', '_writev'] as const) {
    proto[method] = function (this: Socket, ...a: unknown[]) {
      if (this.remotePort !== undefined) writes++;
      return originals[method].apply(this, a);
    };
  }
  try {
    const result = await fn();
    return { writes, result };
  } finally {
    Object.assign(proto, originals);
  }
}
