// The session agent's control endpoint: what it answers, shared by the agent and the runtimes that call it.
// Every route needs `Authorization: Bearer <per-session token>`.

/** Paths of the control endpoint. */
export const AGENT_ROUTES = {
  health: '/v1/health',
  metrics: '/v1/metrics',
  pause: '/v1/pause',
  resume: '/v1/resume',
  stop: '/v1/stop',
} as const;

/** The control port inside a session pod (the RFB port is 5900). */
export const AGENT_CONTROL_PORT = 8090;
export const RFB_PORT = 5900;

/** How the agent freezes the desktop: SIGSTOP of its process group, or the cgroup v2 freezer. */
export type Freezer = 'signal' | 'cgroup';

export interface AgentHealth {
  /** `running` and `paused` have a desktop; `exited` is reported only while the agent shuts down. */
  state: 'running' | 'paused' | 'exited';
  display: number;
  rfbPort: number;
  /** The Xvnc process and the desktop's process group (in the agent's pid namespace). */
  xvncPid: number;
  desktopPgid: number;
  freezer: Freezer;
  uptimeSeconds: number;
  /**
   * Whether the display server greeted a connection (its RFB version line) within the agent's deadline; a
   * running desktop that does not is hung. Null while paused or exiting (not checked). Absent from older agents.
   */
  desktopAnswers?: boolean | null;
}

export interface AgentMetrics {
  /** Cumulative CPU time of the desktop (or of the whole session container, for `cgroup`). */
  cpuSeconds: number;
  memoryBytes: number;
  /** GPU utilisation in percent from nvidia-smi when the session has a GPU, else null. */
  gpuPercent: number | null;
  source: 'cgroup' | 'proc';
}

/** The one line the agent prints on standard output once its desktop accepts connections (or failed). */
export type AgentReadyLine =
  | {
      event: 'ready';
      controlPort: number;
      rfbPort: number;
      display: number;
      xvncPid: number;
      desktopPgid: number;
    }
  | { event: 'failed'; reason: string };
