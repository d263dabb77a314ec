import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { ContentStore, StoredFile } from '../../../backend-adapter/content/content-store.ts';
import { HttpContentStore } from '../../../backend-adapter/content/http-content-store.ts';
import { LocalContentStore } from '../../../backend-adapter/content/local-content-store.ts';

const ALICE = { tenantId: 'tenant-a', userId: 'alice' };
const BOB = { tenantId: 'tenant-a', userId: 'bob' };

/** A minimal v-content: files by (tenant, user, session, name), private to their owner. */
function fakeVContent(): {
  server: Server;
  files: Map<string, { meta: StoredFile; body: Buffer; headers: Record<string, unknown> }>;
} {
  const files = new Map<string, { meta: StoredFile; body: Buffer; headers: Record<string, unknown> }>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = (k: string) => url.searchParams.get(k) ?? '';
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.headers['x-n3xus-handshake'] !== '55-45-17' || q('module') !== 'v-supercore') {
        res.statusCode = 412;
        return res.end('{}');
      }
      if (req.method === 'POST' && url.pathname === '/files') {
        const body = Buffer.concat(chunks);
        const name = decodeURIComponent(String(req.headers['x-file-name']));
        const key = [
          req.headers['x-owner-tenant'],
          req.headers['x-owner-user'],
          req.headers['x-session-id'],
          name,
        ].join('\0');
        files.set(key, {
          body,
          headers: { ...req.headers },
          meta: {
            sessionId: String(req.headers['x-session-id']),
            name,
            size: body.length,
            sha256: createHash('sha256').update(body).digest('hex'),
            uploadedAt: '2026-03-02T09:00:00.000Z',
          },
        });
        res.statusCode = 201;
        return res.end('{}');
      }
      const mine = [...files.entries()].filter(([k]) => k.startsWith(`${q('tenantId')}\0${q('userId')}\0`));
      if (req.method === 'GET' && url.pathname === '/files') {
        return res.end(
          JSON.stringify({
            files: mine
              .map(([, f]) => f.meta)
              .filter((f) => !q('sessionId') || f.sessionId === q('sessionId')),
          }),
        );
      }
      if (req.method === 'GET' && url.pathname === '/files/content') {
        const f = files.get([q('tenantId'), q('userId'), q('sessionId'), q('name')].join('\0'));
        if (!f) {
          res.statusCode = 404;
          return res.end('{}');
        }
        res.setHeader('content-type', 'application/octet-stream');
        return res.end(f.body);
      }
      if (req.method === 'DELETE' && url.pathname === '/files') {
        for (const [k] of mine) files.delete(k);
        return res.end(JSON.stringify({ deleted: mine.length }));
      }
      res.statusCode = 404;
      res.end('{}');
    });
  });
  return { server, files };
}

function contract(name: string, open: () => Promise<{ store: ContentStore; cleanup: () => Promise<void> }>) {
  describe(`ContentStore: ${name}`, () => {
    let store: ContentStore;
    let cleanup: () => Promise<void>;
    let dir: string;
    beforeEach(async () => {
      ({ store, cleanup } = await open());
      dir = await mkdtemp(join(tmpdir(), 'vsc-content-src-'));
    });
    afterEach(async () => {
      await cleanup();
      await rm(dir, { recursive: true, force: true });
    });

    async function put(
      owner: typeof ALICE,
      sessionId: string,
      fileName: string,
      content: string,
    ): Promise<StoredFile> {
      const source = join(dir, `${Math.random()}`);
      await writeFile(source, content);
      const sha256 = createHash('sha256').update(content).digest('hex');
      return store.put({ ...owner, sessionId, name: fileName }, source, {
        size: Buffer.byteLength(content),
        sha256,
        uploadedAt: '2026-03-02T09:00:00.000Z',
      });
    }

    it('stores privately per owner, lists, serves back exactly, replaces by name, erases one owner', async () => {
      await put(ALICE, 's1', 'notes.txt', 'first');
      await put(ALICE, 's1', 'notes.txt', 'second version');
      await put(ALICE, 's2', 'Übersicht.txt', 'ü');
      await put(BOB, 's3', 'bob.txt', 'bob’s');
      assert.deepEqual(
        (await store.list(ALICE)).map((f) => [f.sessionId, f.name, f.size]),
        [
          ['s1', 'notes.txt', 14],
          ['s2', 'Übersicht.txt', 2],
        ],
      );
      assert.deepEqual(
        (await store.list(ALICE, 's2')).map((f) => f.name),
        ['Übersicht.txt'],
      );
      const opened = await store.open({ ...ALICE, sessionId: 's1', name: 'notes.txt' });
      assert.equal(
        await text(opened?.stream ?? (await import('node:stream')).Readable.from([])),
        'second version',
      );
      assert.equal(opened?.file.sha256, createHash('sha256').update('second version').digest('hex'));
      // Bob cannot reach Alice's file even knowing its session and name.
      assert.equal(await store.open({ ...BOB, sessionId: 's1', name: 'notes.txt' }), undefined);
      assert.deepEqual(await store.list(BOB, 's1'), []);

      assert.deepEqual(await store.eraseOwner(ALICE), { filesDeleted: 2 });
      assert.deepEqual(await store.list(ALICE), []);
      assert.equal((await store.list(BOB)).length, 1);
    });
  });
}

contract('local directory (embedded default)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'vsc-content-'));
  return {
    store: new LocalContentStore(join(root, 'content')),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describe('LocalContentStore on disk', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'vsc-content-disk-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('keeps no user id in paths, files private (0600 / 0700), and refuses names that would escape', async () => {
    const store = new LocalContentStore(join(root, 'content'));
    const source = join(root, 'src');
    await writeFile(source, 'x');
    await store.put({ ...ALICE, sessionId: 's1', name: 'a.txt' }, source, {
      size: 1,
      sha256: '0'.repeat(64),
      uploadedAt: 'now',
    });
    const [owner] = await readdir(join(root, 'content'));
    assert.match(owner ?? '', /^[0-9a-f]{64}$/);
    assert.ok(!(owner ?? '').includes('alice'));
    assert.equal((await stat(join(root, 'content', owner ?? ''))).mode & 0o777, 0o700);
    assert.equal((await stat(join(root, 'content', owner ?? '', 's1', 'a.txt'))).mode & 0o777, 0o600);
    await assert.rejects(
      store.put({ ...ALICE, sessionId: 's1', name: '../../escape' }, source, {
        size: 1,
        sha256: '',
        uploadedAt: '',
      }),
    );
    await assert.rejects(
      store.put({ ...ALICE, sessionId: '..', name: 'x' }, source, { size: 1, sha256: '', uploadedAt: '' }),
    );
  });
});

let vcontent: ReturnType<typeof fakeVContent>;
let vcontentUrl = '';
before(async () => {
  vcontent = fakeVContent();
  await new Promise<void>((r) => vcontent.server.listen(0, '127.0.0.1', r));
  const address = vcontent.server.address();
  vcontentUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
after(() => new Promise<void>((r) => vcontent.server.close(() => r())));

contract('v-content over HTTP (CONTENT_URL)', async () => {
  vcontent.files.clear();
  return {
    store: new HttpContentStore({ url: vcontentUrl, token: 't0k', timeoutMs: 5000 }),
    cleanup: async () => undefined,
  };
});

describe('HttpContentStore wire format', () => {
  it('uploads as the spec’s uploadFile: module v-supercore, private, owner and session named', async () => {
    vcontent.files.clear();
    const dir = await mkdtemp(join(tmpdir(), 'vsc-content-wire-'));
    try {
      await writeFile(join(dir, 'f'), 'hello');
      await new HttpContentStore({ url: vcontentUrl, token: 't0k', timeoutMs: 5000 }).put(
        { ...ALICE, sessionId: 's1', name: 'a b.txt' },
        join(dir, 'f'),
        { size: 5, sha256: createHash('sha256').update('hello').digest('hex'), uploadedAt: 'now' },
      );
      const [stored] = [...vcontent.files.values()];
      assert.equal(stored?.body.toString(), 'hello');
      assert.equal(stored?.headers['x-visibility'], 'private');
      assert.equal(stored?.headers['x-module'], 'v-supercore');
      assert.equal(stored?.headers['x-file-name'], 'a%20b.txt');
      assert.equal(stored?.headers.authorization, 'Bearer t0k');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
