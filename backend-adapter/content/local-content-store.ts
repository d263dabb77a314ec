import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { ContentKey, ContentStore, StoredFile } from './content-store.ts';

const META_DIR = '.meta';

/**
 * Embedded default for v-content: a private directory (mode 700, files 600) under DATA_DIR. Layout:
 * `<root>/<owner>/<sessionId>/<name>` with `<owner>` a SHA-256 of tenant and user (no user id in paths) and
 * each file's metadata beside it in `.meta/<name>.json` (uploaded names never start with a dot). Writes go
 * to a temporary name first and are renamed into place, so a reader never sees half a file.
 */
export class LocalContentStore implements ContentStore {
  readonly name = 'local';
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private ownerDir(owner: { tenantId: string; userId: string }): string {
    const digest = createHash('sha256').update(`${owner.tenantId}\0${owner.userId}`).digest('hex');
    return join(this.root, digest);
  }

  /** The path of a key, refusing anything that would resolve outside the owner's directory. */
  private pathOf(key: ContentKey): { dir: string; file: string; meta: string } {
    const owner = this.ownerDir(key);
    const dir = resolve(owner, key.sessionId);
    const file = resolve(dir, key.name);
    const meta = resolve(dir, META_DIR, `${key.name}.json`);
    for (const p of [dir, file, meta]) {
      if (!p.startsWith(owner + sep)) throw new Error('content path escapes its owner directory');
    }
    if (resolve(file, '..') !== dir) throw new Error('content name is not a plain file name');
    return { dir, file, meta };
  }

  async put(
    key: ContentKey,
    source: string,
    meta: { size: number; sha256: string; uploadedAt: string },
  ): Promise<StoredFile> {
    const { dir, file, meta: metaFile } = this.pathOf(key);
    await mkdir(join(dir, META_DIR), { recursive: true, mode: 0o700 });
    const stored: StoredFile = { sessionId: key.sessionId, name: key.name, ...meta };
    const part = join(dir, `.${randomUUID()}.part`);
    const metaPart = `${metaFile}.${randomUUID()}.part`;
    try {
      await copyFile(source, part);
      await chmod(part, 0o600);
      await writeFile(metaPart, JSON.stringify(stored), { mode: 0o600 });
      await rename(part, file);
      await rename(metaPart, metaFile);
    } catch (error) {
      await Promise.all([rm(part, { force: true }), rm(metaPart, { force: true })]);
      throw error;
    }
    return stored;
  }

  private async readMeta(metaFile: string): Promise<StoredFile | undefined> {
    try {
      return JSON.parse(await readFile(metaFile, 'utf8')) as StoredFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async list(owner: { tenantId: string; userId: string }, sessionId?: string): Promise<StoredFile[]> {
    const ownerDir = this.ownerDir(owner);
    const sessions = sessionId === undefined ? await names(ownerDir) : [sessionId];
    const files: StoredFile[] = [];
    for (const s of sessions.sort()) {
      const metaDir = resolve(ownerDir, s, META_DIR);
      if (!metaDir.startsWith(ownerDir + sep)) continue;
      for (const entry of (await names(metaDir)).sort()) {
        if (!entry.endsWith('.json')) continue;
        const meta = await this.readMeta(join(metaDir, entry));
        if (meta) files.push(meta);
      }
    }
    return files;
  }

  async open(
    key: ContentKey,
  ): Promise<{ file: StoredFile; stream: ReturnType<typeof createReadStream> } | undefined> {
    const { file, meta } = this.pathOf(key);
    const stored = await this.readMeta(meta);
    if (!stored) return undefined;
    try {
      await stat(file);
    } catch {
      return undefined;
    }
    return { file: stored, stream: createReadStream(file) };
  }

  async eraseOwner(owner: { tenantId: string; userId: string }): Promise<{ filesDeleted: number }> {
    const filesDeleted = (await this.list(owner)).length;
    await rm(this.ownerDir(owner), { recursive: true, force: true });
    return { filesDeleted };
  }
}

async function names(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
