import type { Readable } from 'node:stream';

/** Whose a stored file is and where it belongs: always one user's file of one of their sessions. */
export interface ContentKey {
  tenantId: string;
  userId: string;
  sessionId: string;
  /** Already validated (file-names.ts). */
  name: string;
}

export interface StoredFile {
  sessionId: string;
  name: string;
  size: number;
  sha256: string;
  uploadedAt: string;
}

/**
 * Port: v-content. Files are private to their owner: every call is scoped by tenant and user, and nothing
 * here lists or serves another user's files. Embedded default: a directory (local-content-store.ts);
 * HTTP adapter: the v-content service (http-content-store.ts).
 */
export interface ContentStore {
  readonly name: string;
  /** Stores the complete file at `source` (a temporary file the caller owns; it may be moved or copied). */
  put(
    key: ContentKey,
    source: string,
    meta: { size: number; sha256: string; uploadedAt: string },
  ): Promise<StoredFile>;
  /** The owner's files, of one session or all, by session then name. */
  list(owner: { tenantId: string; userId: string }, sessionId?: string): Promise<StoredFile[]>;
  /** Undefined when there is no such file. */
  open(key: ContentKey): Promise<{ file: StoredFile; stream: Readable } | undefined>;
  /** Deletes every file of the owner (GDPR erasure). */
  eraseOwner(owner: { tenantId: string; userId: string }): Promise<{ filesDeleted: number }>;
}
