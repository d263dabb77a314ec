// The embedded issuer's key on a fresh data directory: replicas that start at the same moment all end up
// with the one key, so a token from any of them is accepted by the others, and nothing half-written is left.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalIssuer } from '../../../backend-adapter/auth/local-issuer.ts';

const PROCESS = fileURLToPath(new URL('./open-issuer-process.ts', import.meta.url));

function startReplica(keyFile: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', PROCESS, keyFile], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ kid: string; token: string }>((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as { kid: string; token: string })
        : reject(new Error(`replica exited ${String(code)}: ${err}`)),
    ),
  );
  return { go: () => child.stdin.end('go\n'), done };
}

describe('LocalIssuer key file', () => {
  it('gives replicas starting together on an empty data directory one key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vsc-issuer-'));
    try {
      const keyFile = join(dir, 'keys', 'issuer.json');
      for (let round = 0; round < 3; round++) {
        await rm(join(dir, 'keys'), { recursive: true, force: true });
        const replicas = Array.from({ length: 6 }, () => startReplica(keyFile));
        // Every process is loaded before any opens the key, so the opens overlap as much as they can.
        await new Promise((r) => setTimeout(r, 1500));
        for (const r of replicas) r.go();
        const started = await Promise.all(replicas.map((r) => r.done));
        assert.equal(new Set(started.map((s) => s.kid)).size, 1, 'one key for all');
        const issuer = await LocalIssuer.open(keyFile);
        for (const s of started) assert.equal((await issuer.verify(s.token)).tenantId, 't');
        assert.deepEqual(await readdir(join(dir, 'keys')), ['issuer.json'], 'no draft left behind');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
