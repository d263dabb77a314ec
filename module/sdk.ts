/**
 * The v-SuperCore SDK other N3XUS modules import from this remote (`v_supercore/sdk`): the same typed client
 * the dashboard uses, the live event stream, and the wire types from protocol/. Type declarations are
 * published beside the remote in `types/` (see `npm run build`).
 */
export { ApiClient, ApiError, isAbortError, toApiError } from './api/api-client.ts';
export type {
  ApiClientOptions,
  ClientErrorCode,
  EventStreamOptions,
  FetchLike,
  RequestOptions,
} from './api/api-client.ts';
export { LiveEvents } from './api/live-events.ts';
export type { LiveEventsOptions, LiveStatus } from './api/live-events.ts';
export { API_PREFIX, HANDSHAKE, HANDSHAKE_HEADER, MODULE_ID, MODULE_NAME } from '../protocol/handshake.ts';
export { ERRORS } from '../protocol/errors.ts';
export type { ErrorBody, ErrorCode } from '../protocol/errors.ts';
export { SESSION_STATES, SUBSCRIPTIONS, TIER_IDS } from '../protocol/session-states.ts';
export type { SessionState, Subscription, TierId } from '../protocol/session-states.ts';
export type { AllocatedResources, Session, Tier } from '../protocol/session.ts';
export type { LiveEvent, MetricsSample, SessionChangedData } from '../protocol/live-events.ts';
export type { Preferences, PreferencesResponse } from '../protocol/preferences.ts';
export type { QuotaResponse, WebVital } from '../protocol/resources.ts';
export type { ClientStreamMessage, ServerStreamMessage, StreamRect } from '../protocol/stream.ts';
