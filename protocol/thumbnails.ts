/**
 * `GET /api/v1/sessions/:id/thumbnail` (image/png): a small picture of one of the caller's desktops. Response
 * headers: `X-Thumbnail-State` (`live`, or `paused`: the last picture from before the desktop paused) and
 * `X-Thumbnail-Taken-At` (ISO time). 404 when there is no picture yet, 409 SESSION_NOT_STREAMABLE once ended.
 */
export const THUMBNAIL_STATE_HEADER = 'X-Thumbnail-State';
export const THUMBNAIL_TAKEN_AT_HEADER = 'X-Thumbnail-Taken-At';
export type ThumbnailState = 'live' | 'paused';

/** How often Active Sessions asks again for a live desktop's thumbnail (the server caches 5 s). */
export const THUMBNAIL_REFRESH_MS = 5000;
/** Thumbnail requests per user per minute (50 live rows refreshed every 5 s fit). */
export const THUMBNAIL_RATE_PER_MINUTE = 900;
