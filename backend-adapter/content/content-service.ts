import { createHash, randomUUID } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { copyFile, lstat, mkdir, realpath, rename, rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError } from '../api-error.ts';
import type { Analytics } from '../analytics/analytics.ts';
import type { Principal } from '../auth/principal.ts';
import type { CanonStore, SessionRow } from '../canon/canon-store.ts';
import type { ContentStore, StoredFile } from './content-store.ts';
import { FileNameError, checkFileName, validateFileName } from './file-names.ts';

export interface ContentServiceDeps {
  store: ContentStore;
  canon: Pick<CanonStore, 'getSession'>;
  /** Where the local runtime keeps the sessions' homes; a home outside it is never written. */
  sessionsRoot: string;
  /** Where uploads are received before they are complete (same filesystem as the content store is best). */
  stagingDir: string;
  maxFileBytes: number;
  analytics?: Analytics;
  clock?: () => Date;
}

class TooLarge extends Error {}

/** States in which the desktop (and so its home) exists. */
const HOME_STATES = ['active', 'paused'];

/**
 * v-content for sessions: a file a user uploads lands in the session's home directory (the runtime's
 * workDir) and is stored privately in the content store, from where only its owner can download it again.
 * Every refusal (someone else's session, a bad name, too large) happens before anything is written; an
 * upload is received into a staging file first and only placed once complete and within the limit.
 */
export class ContentService {
  private readonly clock: () => Date;

  constructor(private readonly deps: ContentServiceDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  get maxFileBytes(): number {
    return this.deps.maxFileBytes;
  }

  /** The caller's own session: files are the owner's alone, so a tenant admin is refused like anyone else. */
  private async owned(principal: Principal, sessionId: string): Promise<SessionRow> {
    const row = await this.deps.canon.getSession(sessionId);
    if (!row || row.session.tenantId !== principal.tenantId || row.session.userId !== principal.userId) {
      throw new ApiError('SESSION_NOT_FOUND');
    }
    return row;
  }

  private static checkedName(raw: string): string {
    try {
      return validateFileName(raw);
    } catch (error) {
      if (error instanceof FileNameError)
        throw new ApiError('FILE_NAME_INVALID', `The file name is refused: ${error.message}.`);
      throw error;
    }
  }

  /** Checks everything that can be checked before a byte is read. */
  async prepareUpload(
    principal: Principal,
    sessionId: string,
    rawName: string | undefined,
    declaredBytes: number | undefined,
  ): Promise<{ row: SessionRow; name: string; home: string }> {
    const row = await this.owned(principal, sessionId);
    if (rawName === undefined) throw new ApiError('FILE_NAME_INVALID', 'The X-File-Name header is required.');
    const name = ContentService.checkedName(rawName);
    if (declaredBytes !== undefined && declaredBytes > this.deps.maxFileBytes) throw this.tooLarge();
    if (!row.runtime || !HOME_STATES.includes(row.session.state)) {
      throw new ApiError(
        'SESSION_NOT_STREAMABLE',
        `A ${row.session.state} session has no desktop to put a file in.`,
      );
    }
    if (row.runtime.kind !== 'local') {
      // A pod's home is its volume: placing a file there needs a file endpoint on the session agent.
      throw new ApiError(
        'SESSION_NOT_STREAMABLE',
        `Uploads into ${row.runtime.kind} sessions are not supported yet.`,
      );
    }
    return { row, name, home: await this.homeOf(row.runtime.workDir) };
  }

  private tooLarge(): ApiError {
    return new ApiError('PAYLOAD_TOO_LARGE', `A file may be at most ${this.deps.maxFileBytes} bytes.`, {
      maxFileBytes: this.deps.maxFileBytes,
    });
  }

  /** The session's home, only if it is a real directory inside the sessions root (not a symlink out of it). */
  private async homeOf(workDir: string): Promise<string> {
    const root = await realpath(this.deps.sessionsRoot).catch(() => resolve(this.deps.sessionsRoot));
    const info = await lstat(workDir).catch(() => undefined);
    const real = info?.isDirectory() ? await realpath(workDir) : undefined;
    if (!real || !real.startsWith(root + sep)) {
      throw new ApiError('SESSION_NOT_STREAMABLE', 'The session has no home directory to put a file in.');
    }
    return real;
  }

  /** Receives `body`, then places it in the home and the content store. */
  async upload(
    principal: Principal,
    sessionId: string,
    rawName: string | undefined,
    body: Readable,
    declaredBytes?: number,
  ): Promise<StoredFile> {
    const { row, name, home } = await this.prepareUpload(principal, sessionId, rawName, declaredBytes);
    await mkdir(this.deps.stagingDir, { recursive: true, mode: 0o700 });
    const staging = join(this.deps.stagingDir, `${randomUUID()}.upload`);
    const hash = createHash('sha256');
    let size = 0;
    const limit = this.deps.maxFileBytes;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size > limit) return done(new TooLarge());
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      try {
        await pipeline(body, meter, createWriteStream(staging, { flags: 'wx', mode: 0o600 }));
      } catch (error) {
        if (error instanceof TooLarge) throw this.tooLarge();
        throw new ApiError('BAD_REQUEST', 'The upload was interrupted.');
      }
      const meta = { size, sha256: hash.digest('hex'), uploadedAt: this.clock().toISOString() };
      const placed = await this.placeInHome(home, name, staging);
      let stored: StoredFile;
      try {
        stored = await this.deps.store.put(
          { tenantId: row.session.tenantId, userId: row.session.userId, sessionId, name },
          staging,
          meta,
        );
      } catch (error) {
        await rm(placed, { force: true });
        throw error;
      }
      this.deps.analytics?.track({
        event: 'supercore.content.uploaded',
        userId: row.session.userId,
        properties: { sessionId, tenantId: row.session.tenantId, size },
        timestamp: meta.uploadedAt,
      });
      return stored;
    } finally {
      await rm(staging, { force: true });
    }
  }

  /**
   * Copies into the home under a fresh exclusive name, then renames over `name`: a symlink planted at `name`
   * is replaced, never followed, and the desktop never sees a partial file.
   */
  private async placeInHome(home: string, name: string, source: string): Promise<string> {
    const target = resolve(home, name);
    if (resolve(target, '..') !== home) throw new ApiError('FILE_NAME_INVALID', 'The file name is refused.');
    const temp = join(home, `.vsc-upload-${randomUUID()}`);
    try {
      await copyFile(source, temp, constants.COPYFILE_EXCL);
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') {
        throw new ApiError('FILE_NAME_INVALID', 'A folder of that name exists in the session’s home.');
      }
      throw error;
    }
    return target;
  }

  async list(principal: Principal, sessionId: string): Promise<StoredFile[]> {
    const row = await this.owned(principal, sessionId);
    return this.deps.store.list(row.session, sessionId);
  }

  async download(
    principal: Principal,
    sessionId: string,
    rawName: string,
  ): Promise<{ file: StoredFile; stream: Readable }> {
    const row = await this.owned(principal, sessionId);
    let name: string;
    try {
      name = checkFileName(rawName);
    } catch {
      throw new ApiError('FILE_NOT_FOUND');
    }
    const found = await this.deps.store.open({
      tenantId: row.session.tenantId,
      userId: row.session.userId,
      sessionId,
      name,
    });
    if (!found) throw new ApiError('FILE_NOT_FOUND');
    return found;
  }
}
