import type { Preferences } from '../../protocol/preferences.ts';
import { DEFAULT_STREAM_QUALITY, type StreamQuality } from '../../protocol/stream.ts';

/** How the desktop fits the viewer: scaled to fit, 1:1 pixels (scrolling), or the desktop resized to the viewer. */
export type ViewerScaling = 'fit' | 'none' | 'remote';

/**
 * The JPEG quality and zlib compression level each Settings choice asks the desktop for (protocol v2 `quality`).
 * `auto` is the gateway's own default (TigerVNC's), so choosing it sends nothing. `lossless` is the best the
 * stream can ask for today: JPEG quality 9 (near-lossless; stream protocol v2 cannot ask Tight to stop using
 * JPEG altogether), with compression 6 to offset the larger rectangles.
 */
export const QUALITY_LEVELS: Readonly<Record<Preferences['streamQuality'], StreamQuality>> = {
  auto: DEFAULT_STREAM_QUALITY,
  low: { jpeg: 2, compression: 9 },
  medium: { jpeg: 5, compression: 6 },
  high: { jpeg: 8, compression: 2 },
  lossless: { jpeg: 9, compression: 6 },
};

export function qualityForPreference(choice: Preferences['streamQuality']): StreamQuality {
  return { ...(QUALITY_LEVELS[choice] ?? DEFAULT_STREAM_QUALITY) };
}

/** Settings' scaling names → the viewer's (`1:1` is the viewer's `none`). */
export function scalingForPreference(choice: Preferences['scaling']): ViewerScaling {
  switch (choice) {
    case '1:1':
      return 'none';
    case 'remote':
      return 'remote';
    default:
      return 'fit';
  }
}
