import { Type, type Static } from '@sinclair/typebox';
import { TIER_IDS } from './session-states.ts';

/** A user's v-SuperCore settings (Settings pane), stored in Canon Memory; the server's `updatedAt` orders writers. */
export const PreferencesSchema = Type.Object(
  {
    defaultTier: Type.Union(TIER_IDS.map((t) => Type.Literal(t))),
    streamQuality: Type.Union([
      Type.Literal('auto'),
      Type.Literal('low'),
      Type.Literal('medium'),
      Type.Literal('high'),
      Type.Literal('lossless'),
    ]),
    /** `fit` scales the desktop into the viewer, `1:1` shows its pixels as they are, `remote` resizes the desktop. */
    scaling: Type.Union([Type.Literal('fit'), Type.Literal('1:1'), Type.Literal('remote')]),
    keyboardLayout: Type.String({ minLength: 2, maxLength: 32, pattern: '^[A-Za-z0-9_-]+$' }),
    /** Minutes without input before the session pauses; bounded by the tier's maximum. */
    idleTimeoutMinutes: Type.Integer({ minimum: 5, maximum: 24 * 60 }),
    notifications: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type Preferences = Static<typeof PreferencesSchema>;

export const PreferencesResponseSchema = Type.Object({
  preferences: PreferencesSchema,
  /** ISO time of the stored write; absent while the user still has the defaults. */
  updatedAt: Type.Union([Type.String(), Type.Null()]),
});
export type PreferencesResponse = Static<typeof PreferencesResponseSchema>;
