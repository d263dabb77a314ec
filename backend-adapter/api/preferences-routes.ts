import type { FastifyInstance } from 'fastify';
import { DEFAULT_PREFERENCES } from '../../protocol/preferences-defaults.ts';
import {
  PreferencesResponseSchema,
  PreferencesSchema,
  type Preferences,
  type PreferencesResponse,
} from '../../protocol/preferences.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import { callerOf } from './authenticate.ts';

/** The user's settings in Canon Memory; every write is a record, the server's timestamp orders writers. */
export function registerPreferencesRoutes(app: FastifyInstance, canon: CanonStore): void {
  app.get('/preferences', { schema: { response: { 200: PreferencesResponseSchema } } }, async (request) => {
    const row = await canon.getPreferences(callerOf(request));
    const response: PreferencesResponse = row
      ? {
          preferences: { ...DEFAULT_PREFERENCES, ...(row.preferences as Partial<Preferences>) },
          updatedAt: row.updatedAt,
        }
      : { preferences: DEFAULT_PREFERENCES, updatedAt: null };
    return response;
  });

  app.put<{ Body: Preferences }>(
    '/preferences',
    { schema: { body: PreferencesSchema, response: { 200: PreferencesResponseSchema } } },
    async (request) => {
      const row = await canon.putPreferences(callerOf(request), request.body, new Date());
      return { preferences: row.preferences as Preferences, updatedAt: row.updatedAt };
    },
  );
}
