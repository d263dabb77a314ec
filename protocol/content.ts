import { Type, type Static } from '@sinclair/typebox';

/**
 * v-content through the API: `POST /api/v1/sessions/:id/files` (the raw bytes, `Content-Type:
 * application/octet-stream`, the name in `X-File-Name`, percent-encoded UTF-8), `GET …/files`,
 * `GET …/files/:name`. The browser-side constants are in content-constants.ts.
 */
export const StoredFileSchema = Type.Object({
  sessionId: Type.String(),
  name: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  uploadedAt: Type.String({ format: 'date-time' }),
});
export type StoredFileInfo = Static<typeof StoredFileSchema>;

export const FileListResponseSchema = Type.Object({ files: Type.Array(StoredFileSchema) });
export type FileListResponse = Static<typeof FileListResponseSchema>;

export const UploadHeadersSchema = Type.Object({
  'x-file-name': Type.String({
    minLength: 1,
    maxLength: 1024,
    description: 'the file name, percent-encoded UTF-8 (plain ASCII names may be sent as they are)',
  }),
});

export const FileParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
  name: Type.String({ minLength: 1, maxLength: 1024 }),
});
