// A separate process creating sessions in a shared SQLite file under a limit (used by sqlite-canon-store.test.ts).
// Argv: <file> <id prefix>. Prints "ready", waits for a line on stdin, creates 5 sessions, prints the tally.
import { once } from 'node:events';
import { QuotaExceededError } from '../../../backend-adapter/canon/canon-store.ts';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';

const [file, prefix] = process.argv.slice(2);
if (!file || !prefix) throw new Error('usage: sqlite-genesis-worker.ts <file> <prefix>');
const store = new SqliteCanonStore(file);
process.stdout.write('ready\n');
await once(process.stdin, 'data');
const tally = { ok: 0, refused: 0 };
const big = 1_000_000_000;
for (let i = 0; i < 5; i++) {
  const at = new Date().toISOString();
  try {
    await store.createSession(
      {
        session: {
          sessionId: `${prefix}-${i}`,
          userId: 'u1',
          tenantId: 't1',
          tier: 'basic',
          resources: {
            cpuMillicores: 1000,
            memoryMiB: 2048,
            storageGiB: 10,
            gpus: 0,
            display: { width: 1, height: 1 },
          },
          state: 'requested',
          createdAt: at,
          canonTimestamp: at,
          handshake: '55-45-17',
        },
        runtime: null,
        lastActivityAt: at,
      },
      'u1',
      {
        maxLiveSessionsPerUser: 3,
        maxCpuMillicoresPerUser: big,
        maxMemoryMiBPerUser: big,
        maxLiveSessionsPerTenant: big,
        maxCpuMillicoresPerTenant: big,
        maxMemoryMiBPerTenant: big,
        cluster: { maxCpuMillicores: big, maxMemoryMiB: big, maxStorageGiB: big, maxSessions: big },
      },
    );
    tally.ok++;
  } catch (error) {
    if (!(error instanceof QuotaExceededError)) throw error;
    tally.refused++;
  }
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
}
process.stdout.write(`${JSON.stringify(tally)}\n`);
await store.close();
process.stdin.destroy();
