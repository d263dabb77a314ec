import type { Session } from './session.ts';
import type { SessionState } from './session-states.ts';
import type { Workspace } from './workspaces.ts';

/**
 * `GET /api/v1/events`: a server-sent event stream (text/event-stream) of the caller's own sessions and of the
 * collaborative workspaces they are in.
 * Read it with fetch (an EventSource cannot send the Authorization header). Event names and data below;
 * `: keep-alive` comments every 15 s.
 */
export const LIVE_EVENTS_PATH = '/events';

export interface SessionChangedData {
  session: Session;
  previousState: SessionState | null;
}

/** One resource sample of a live session, every few seconds while it is active or paused. */
export interface MetricsSample {
  sessionId: string;
  at: string;
  /** Percent of one core, summed over the desktop's processes (can exceed 100 on several cores). */
  cpuPercent: number;
  memoryMiB: number;
  /** Null where the session has no GPU. */
  gpuPercent: number | null;
  /** Stream bytes per second towards all viewers of the session. */
  networkTxBytesPerSec: number;
  networkRxBytesPerSec: number;
  /** Updates per second drawn by viewers (acknowledged), 0 when nobody watches. */
  streamFps: number;
  /** Round-trip time of the stream, null until measured. */
  streamLatencyMs: number | null;
}

/**
 * A live (or paused) session's cost so far, as billing computes it: every billing period started up to `at`, at
 * the session's rates. Pushed when it changes (it grows once per started period), checked every few seconds.
 */
export interface SessionCostData {
  sessionId: string;
  costSoFarMicroNexCoin: number;
  at: string;
}

/**
 * A collaborative workspace the caller is (or was, until this change) a member of or invited to changed: members,
 * invitations, roles, who holds control, or it closed. Carries the workspace as `GET /workspaces/:id` returns it;
 * a person the change removed gets it once more, without themself among the members.
 */
export interface WorkspaceChangedData {
  workspace: Workspace;
}

export type LiveEvent =
  | { event: 'session.changed'; data: SessionChangedData }
  | { event: 'metrics.sample'; data: MetricsSample }
  | { event: 'session.cost'; data: SessionCostData }
  | { event: 'workspace.changed'; data: WorkspaceChangedData };
