import type { FastifyInstance } from 'fastify';
import { DEFAULT_PREFERENCES } from '../../protocol/preferences-defaults.ts';
import {
  PreferencesResponseSchema,
  PreferencesWriteSchema,
  type Preferences,
  type PreferencesResponse,
  type PreferencesWrite,
} from '../../protocol/preferences.ts';
import type { CanonStore, PreferencesRow } from '../canon/canon-store.ts';
import { callerOf } from './authenticate.ts';

/**
 * A stored row as the API answers it. Rows are stored as written, so one written before a field existed lacks it:
 * the default fills it in (no migration needed).
 */
function complete(row: PreferencesRow): Preferences {
  return { ...DEFAULT_PREFERENCES, ...(row.preferences as Partial<Preferences>) };
}

/** The user's settings in Canon Memory; every write is a record, the server's timestamp orders writers. */
export function registerPreferencesRoutes(app: FastifyInstance, canon: CanonStore): void {
  app.get('/preferences', { schema: { response: { 200: PreferencesResponseSchema } } }, async (request) => {
    const row = await canon.getPreferences(callerOf(request));
    const response: PreferencesResponse = row
      ? { preferences: complete(row), updatedAt: row.updatedAt }
      : { preferences: DEFAULT_PREFERENCES, updatedAt: null };
    return response;
  });

  app.put<{ Body: PreferencesWrite }>(
    '/preferences',
    { schema: { body: PreferencesWriteSchema, response: { 200: PreferencesResponseSchema } } },
    async (request) => {
      const caller = callerOf(request);
      let { streamTransport } = request.body;
      if (streamTransport === undefined) {
        // A client that predates the field: keep the stored choice rather than reset it.
        const stored = await canon.getPreferences(caller);
        streamTransport = (stored ? complete(stored) : DEFAULT_PREFERENCES).streamTransport;
      }
      const preferences: Preferences = { ...request.body, streamTransport };
      const row = await canon.putPreferences(caller, preferences, new Date());
      return { preferences: complete(row), updatedAt: row.updatedAt };
    },
  );
}
