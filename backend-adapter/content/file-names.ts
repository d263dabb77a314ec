/**
 * File names users send with an upload. A name is refused (never silently rewritten, so the user knows what
 * was stored) unless it is one plain, portable file name: no path, nothing hidden, nothing that changes
 * meaning when shown, typed in a shell or downloaded on another system.
 */

/** Files the local runtime itself keeps in a session's home (desktop-launcher.sh); an upload must not replace them. */
export const RUNTIME_FILES: readonly string[] = ['display', 'xvnc.log', 'wm.log', 'terminal.log'];

export const MAX_FILE_NAME_BYTES = 255;

const WINDOWS_DEVICES = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

export class FileNameError extends Error {}

/**
 * The name as stored, NFC-normalised; throws FileNameError with the reason otherwise. `raw` is the
 * `X-File-Name` header: UTF-8, percent-encoded (ASCII names may be sent as they are).
 */
export function validateFileName(raw: string): string {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    throw new FileNameError('the name is not valid percent-encoded UTF-8');
  }
  return checkFileName(name);
}

/** As validateFileName, for a name that is already decoded (e.g. a URL path parameter). */
export function checkFileName(decoded: string): string {
  const name = decoded.normalize('NFC');
  if (name.length === 0) throw new FileNameError('the name is empty');
  if (Buffer.byteLength(name, 'utf8') > MAX_FILE_NAME_BYTES) {
    throw new FileNameError(`the name is longer than ${MAX_FILE_NAME_BYTES} bytes`);
  }
  if (name.includes('/') || name.includes('\\')) throw new FileNameError('a file name cannot contain a path');
  // Control characters (NUL included), invisible format characters (bidi overrides that make
  // "gpj.exe" look like "exe.jpg", zero-width characters) and line or paragraph separators.
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(name)) {
    throw new FileNameError('the name contains control or invisible characters');
  }
  if (name === '.' || name === '..') throw new FileNameError('a file name cannot be . or ..');
  if (name.startsWith('.'))
    throw new FileNameError('hidden files (names starting with ".") are not accepted');
  if (/^[-~]/.test(name)) throw new FileNameError('a file name cannot start with "-" or "~"');
  if (/^\s|\s$/u.test(name) || name.endsWith('.')) {
    throw new FileNameError('a file name cannot start or end with a space, or end with a dot');
  }
  if (/[<>:"|?*]/.test(name)) throw new FileNameError('a file name cannot contain < > : " | ? or *');
  if (WINDOWS_DEVICES.test(name)) throw new FileNameError('that name is reserved for a device on Windows');
  if (RUNTIME_FILES.includes(name)) throw new FileNameError('that name is used by the desktop itself');
  return name;
}

/** `Content-Disposition` for a download: an ASCII fallback and the exact UTF-8 name (RFC 6266 / 8187). */
export function contentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
