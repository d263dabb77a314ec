/** One event for v-analytics, in the shape of the spec's `trackEvent`. */
export interface AnalyticsEvent {
  event: string;
  userId: string;
  properties: Record<string, unknown>;
  timestamp: string;
}

/** Why events were lost: counted in `v_supercore_analytics_events_dropped_total{reason}`. */
export type AnalyticsDropReason =
  /** The bounded queue was full: the oldest events made room for new ones. */
  | 'queue-full'
  /** v-analytics refused the batch as malformed (a 4xx other than 408/429); retrying cannot help. */
  | 'rejected'
  /** The local file could not be written. */
  | 'write-failed';

export type AnalyticsDropListener = (reason: AnalyticsDropReason, count: number) => void;

/** A user's analytics events for a GDPR export, and where the rest of them are. */
export interface AnalyticsUserExport {
  /** `local-file`: every event is here. `v-analytics`: only those not yet delivered are here. */
  heldBy: 'local-file' | 'v-analytics';
  events: AnalyticsEvent[];
  note?: string;
}

export interface AnalyticsErasure {
  /** Stored or queued events whose user id was replaced by the pseudonym. */
  eventsPseudonymised: number;
  /** True when the erasure request was delivered to v-analytics (HTTP adapter). */
  forwarded: boolean;
}

/** Port: v-analytics. Never blocks or fails a session: tracking is fire-and-forget. */
export interface Analytics {
  track(event: AnalyticsEvent): void;
  /** Writes / sends what is queued; for shutdown and tests. */
  flush(): Promise<void>;
  /** The user's events this adapter holds (GDPR/CCPA access). */
  exportUser(userId: string): Promise<AnalyticsUserExport>;
  /** Replaces the user's id by `pseudonym` in every event held, or asks v-analytics to (GDPR erasure). */
  eraseUser(userId: string, pseudonym: string): Promise<AnalyticsErasure>;
}
