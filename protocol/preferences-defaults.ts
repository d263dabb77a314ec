import type { Preferences } from './preferences.ts';

/** What a user has before saving anything. Kept apart from the schema so the browser bundle stays free of TypeBox. */
export const DEFAULT_PREFERENCES: Preferences = {
  defaultTier: 'standard',
  streamQuality: 'auto',
  scaling: 'fit',
  keyboardLayout: 'us',
  idleTimeoutMinutes: 30,
  notifications: true,
  // What viewers did before the setting existed, so rows stored without it keep their behaviour.
  streamTransport: 'auto',
};
