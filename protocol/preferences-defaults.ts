import type { Preferences } from './preferences.ts';

/** What a user has before saving anything. Kept apart from the schema so the browser bundle stays free of TypeBox. */
export const DEFAULT_PREFERENCES: Preferences = {
  defaultTier: 'standard',
  streamQuality: 'auto',
  scaling: 'fit',
  keyboardLayout: 'us',
  idleTimeoutMinutes: 30,
  notifications: true,
};
