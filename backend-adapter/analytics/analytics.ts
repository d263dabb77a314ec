/** One event for v-analytics, in the shape of the spec's `trackEvent`. */
export interface AnalyticsEvent {
  event: string;
  userId: string;
  properties: Record<string, unknown>;
  timestamp: string;
}

/** Port: v-analytics. Never blocks or fails a session: tracking is fire-and-forget. */
export interface Analytics {
  track(event: AnalyticsEvent): void;
  /** Writes what is queued; for shutdown and tests. */
  flush(): Promise<void>;
}
