/** What a browser needs to upload a file into a session (no TypeBox: safe for the module bundle). */
export const UPLOAD_CONTENT_TYPE = 'application/octet-stream';
export const FILE_NAME_HEADER = 'X-File-Name';
/** Encodes a file name for the `X-File-Name` header. */
export function encodeFileNameHeader(name: string): string {
  return encodeURIComponent(name);
}
