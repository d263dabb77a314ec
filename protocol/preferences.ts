import { Type, type Static } from '@sinclair/typebox';
import { TIER_IDS } from './session-states.ts';

/**
 * What carries the desktop's stream (`StreamTransportPreference` in stream.ts): `auto` tries a WebRTC DataChannel
 * and stays on the WebSocket if it does not connect within a few seconds, `webrtc` asks for the DataChannel with
 * no time bound (the gateway may still refuse: the stream then stays on the WebSocket), `websocket` never tries.
 */
export const StreamTransportSchema = Type.Union([
  Type.Literal('auto'),
  Type.Literal('websocket'),
  Type.Literal('webrtc'),
]);

const fields = {
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
  streamTransport: StreamTransportSchema,
};

/** A user's v-SuperCore settings (Settings pane), stored in Canon Memory; the server's `updatedAt` orders writers. */
export const PreferencesSchema = Type.Object(fields, { additionalProperties: false });
export type Preferences = Static<typeof PreferencesSchema>;

/**
 * The body of `PUT /preferences`: the whole object, except that fields added after the first release may be left
 * out (a dashboard cached before they existed still saves); the server keeps their stored value (or default).
 */
export const PreferencesWriteSchema = Type.Object(
  { ...fields, streamTransport: Type.Optional(StreamTransportSchema) },
  { additionalProperties: false },
);
export type PreferencesWrite = Static<typeof PreferencesWriteSchema>;

export const PreferencesResponseSchema = Type.Object({
  preferences: PreferencesSchema,
  /** ISO time of the stored write; absent while the user still has the defaults. */
  updatedAt: Type.Union([Type.String(), Type.Null()]),
});
export type PreferencesResponse = Static<typeof PreferencesResponseSchema>;
