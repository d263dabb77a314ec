import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../protocol/handshake.ts';
import type { ContentKey, ContentStore, StoredFile } from './content-store.ts';

export interface HttpContentStoreOptions {
  /** Base URL of v-content. */
  url: string;
  token?: string;
  timeoutMs: number;
}

/**
 * v-content over HTTP, the spec's `uploadFile(file, {module: 'v-supercore', sessionId, visibility: 'private'})`.
 * The contract this adapter speaks (every call carries the owner, the module and the handshake):
 *
 * - `POST {url}/files` — body: the bytes (`application/octet-stream`); headers `X-File-Name` (percent-encoded
 *   UTF-8), `X-Session-Id`, `X-Owner-Tenant`, `X-Owner-User`, `X-Module: v-supercore`, `X-Visibility: private`,
 *   `X-Content-SHA256`; answers 2xx.
 * - `GET {url}/files?module&tenantId&userId[&sessionId]` → `{files: StoredFile[]}`.
 * - `GET {url}/files/content?module&tenantId&userId&sessionId&name` → the bytes, 404 when absent.
 * - `DELETE {url}/files?module&tenantId&userId` → `{deleted: number}` (erasure of everything of the user).
 */
export class HttpContentStore implements ContentStore {
  readonly name = 'v-content';

  constructor(private readonly options: HttpContentStoreOptions) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = {
      [HANDSHAKE_HEADER]: HANDSHAKE,
      'x-module': 'v-supercore',
      ...extra,
    };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    return headers;
  }

  private url(path: string, query: Record<string, string | undefined>): string {
    const u = new URL(`${this.options.url.replace(/\/$/, '')}${path}`);
    u.searchParams.set('module', 'v-supercore');
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, v);
    return u.toString();
  }

  private async ok(response: Response, what: string): Promise<Response> {
    if (response.ok) return response;
    await response.body?.cancel();
    throw new Error(`v-content ${what} answered ${response.status}`);
  }

  async put(
    key: ContentKey,
    source: string,
    meta: { size: number; sha256: string; uploadedAt: string },
  ): Promise<StoredFile> {
    const response = await fetch(this.url('/files', {}), {
      method: 'POST',
      headers: this.headers({
        'content-type': 'application/octet-stream',
        'content-length': String(meta.size),
        'x-file-name': encodeURIComponent(key.name),
        'x-session-id': key.sessionId,
        'x-owner-tenant': key.tenantId,
        'x-owner-user': key.userId,
        'x-visibility': 'private',
        'x-content-sha256': meta.sha256,
      }),
      body: Readable.toWeb(createReadStream(source)) as unknown as BodyInit,
      duplex: 'half',
      signal: AbortSignal.timeout(this.options.timeoutMs),
    } as RequestInit & { duplex: 'half' });
    await (await this.ok(response, 'upload')).body?.cancel();
    return { sessionId: key.sessionId, name: key.name, ...meta };
  }

  async list(owner: { tenantId: string; userId: string }, sessionId?: string): Promise<StoredFile[]> {
    const response = await this.ok(
      await fetch(this.url('/files', { tenantId: owner.tenantId, userId: owner.userId, sessionId }), {
        headers: this.headers(),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      }),
      'list',
    );
    const body = (await response.json()) as { files?: StoredFile[] };
    return (body.files ?? []).filter((f) => sessionId === undefined || f.sessionId === sessionId);
  }

  async open(key: ContentKey): Promise<{ file: StoredFile; stream: Readable } | undefined> {
    const files = await this.list(key, key.sessionId);
    const file = files.find((f) => f.name === key.name);
    if (!file) return undefined;
    const response = await fetch(
      this.url('/files/content', {
        tenantId: key.tenantId,
        userId: key.userId,
        sessionId: key.sessionId,
        name: key.name,
      }),
      { headers: this.headers(), signal: AbortSignal.timeout(this.options.timeoutMs) },
    );
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    await this.ok(response, 'download');
    if (!response.body) return undefined;
    return { file, stream: Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>) };
  }

  async eraseOwner(owner: { tenantId: string; userId: string }): Promise<{ filesDeleted: number }> {
    const response = await this.ok(
      await fetch(this.url('/files', { tenantId: owner.tenantId, userId: owner.userId }), {
        method: 'DELETE',
        headers: this.headers(),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      }),
      'erasure',
    );
    const body = (await response.json()) as { deleted?: number };
    return { filesDeleted: body.deleted ?? 0 };
  }
}
