import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { StoreKind } from './bench-adapter.ts';
import { imageNodeFlags } from './image-node-flags.ts';

export interface AdapterProcess {
  url: string;
  /** One token per user, bench-user-0 … bench-user-(N-1). */
  tokens: string[];
  pid: number;
  /** The child's event loop busy time so far, in ms (its main thread: what queues requests behind each other). */
  loopActiveMs(): Promise<number>;
  /** The database's upkeep between two measurements (BenchAdapter.upkeep); true when it ran. */
  upkeep(): Promise<boolean>;
  /** Ends the child (it drops its data) and waits for it to exit. */
  close(): Promise<void>;
}

const ENTRY = fileURLToPath(new URL('./adapter-process.ts', import.meta.url));

/**
 * Starts the bench adapter in a child process (adapter-process.ts), so the load generator runs in another
 * process than the server, as it would against a real deployment, with the node flags of the adapter's image. `nodeArgs` go to the child's node (e.g.
 * `--cpu-prof --cpu-prof-dir=…` to profile the server under load).
 */
export async function spawnBenchAdapter(
  store: StoreKind,
  users: number,
  nodeArgs: readonly string[] = [],
): Promise<AdapterProcess> {
  const child = spawn(
    process.execPath,
    [...imageNodeFlags(), ...nodeArgs, '--import', 'tsx', ENTRY, '--store', store, '--users', String(users)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout });
  const nextLine = (what: string) =>
    new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      void exited.then((code) => reject(new Error(`bench adapter exited (${String(code)}) ${what}`)));
    });
  const ready = JSON.parse(await nextLine('before listening')) as { url: string; tokens: string[] };
  return {
    url: ready.url,
    tokens: ready.tokens,
    pid: child.pid ?? -1,
    async loopActiveMs() {
      const answer = nextLine('before reporting its event loop');
      child.stdin.write('loop\n');
      return (JSON.parse(await answer) as { loopActiveMs: number }).loopActiveMs;
    },
    async upkeep() {
      const answer = nextLine('before its upkeep ended');
      child.stdin.write('upkeep\n');
      return (JSON.parse(await answer) as { upkept: boolean }).upkept;
    },
    async close() {
      lines.close();
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`bench adapter exited with ${String(code)}`);
    },
  };
}
