import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * The control of a latency run: a node:http server that answers every request at once with a fixed body,
 * in a process of its own like the adapter. What the load generator measures against it is the floor this
 * machine, at this moment, puts under any server's figures (loopback, scheduling, other tenants' load).
 */
export async function spawnControlServer(): Promise<{
  url: string;
  pid: number;
  loopActiveMs(): Promise<number>;
  close(): Promise<void>;
}> {
  const source = `
    const body = JSON.stringify({ sessions: [] });
    require('node:http')
      .createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body))
      .listen(0, '127.0.0.1', function () { console.log(this.address().port); });
    const { performance } = require('node:perf_hooks');
    require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
      if (line === 'loop') console.log(JSON.stringify({ loopActiveMs: performance.eventLoopUtilization().active }));
    });
    process.stdin.on('end', () => process.exit(0));`;
  const child = spawn(process.execPath, ['-e', source], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  const nextLine = (what: string) =>
    new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      void exited.then(() => reject(new Error(`the control server exited ${what}`)));
    });
  const port = await nextLine('before listening');
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    async loopActiveMs() {
      const answer = nextLine('before reporting its event loop');
      child.stdin.write('loop\n');
      return (JSON.parse(await answer) as { loopActiveMs: number }).loopActiveMs;
    },
    async close() {
      lines.close();
      child.stdin.end();
      await exited;
    },
  };
}
