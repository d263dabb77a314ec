import type { AllocatedResources } from '../../protocol/session.ts';

/** Where a running desktop is and how to reach it; kept in Canon Memory so it survives an adapter restart. */
export interface RuntimeHandle {
  kind: 'local';
  /** Process group of the desktop (Xvnc, window manager, terminal). */
  pgid: number;
  /** The Xvnc process itself. */
  pid: number;
  display: number;
  /** RFB endpoint, reachable only from this machine. */
  host: string;
  port: number;
  /** Per-session VNC password; never leaves the server. */
  password: string;
  workDir: string;
}

/** What the runtime sees of a desktop right now. */
export type DesktopStatus = 'running' | 'stopped' | 'gone';

/** Resource use of a desktop at one moment: cumulative CPU time and current memory. */
export interface DesktopSample {
  cpuSeconds: number;
  memoryBytes: number;
  /** GPU utilisation in percent where the desktop has one, else null. */
  gpuPercent: number | null;
}

/** Port: starts, freezes, thaws and ends desktops. Adapters: local (Xvnc processes), Kubernetes (later). */
export interface RuntimeProvider {
  readonly name: string;
  start(sessionId: string, resources: AllocatedResources): Promise<RuntimeHandle>;
  /** Freezes every process of the desktop, memory kept. */
  pause(handle: RuntimeHandle): Promise<void>;
  resume(handle: RuntimeHandle): Promise<void>;
  /** Ends the desktop and frees everything it held; safe to call on a desktop that is already gone. */
  stop(handle: RuntimeHandle): Promise<void>;
  status(handle: RuntimeHandle): Promise<DesktopStatus>;
  /** Undefined when the desktop is gone. */
  sample(handle: RuntimeHandle): Promise<DesktopSample | undefined>;
  /**
   * Ends every desktop of this runtime that belongs to none of `keep` (session ids) — e.g. one started by an
   * adapter that crashed before it could record the handle. Returns the session ids it ended.
   */
  reclaimOrphans(keep: ReadonlySet<string>): Promise<string[]>;
}

/** A launch that failed; `reason` is shown to the user. */
export class RuntimeStartError extends Error {
  readonly code = 'RUNTIME_FAILED';
  constructor(readonly reason: string) {
    super(reason);
  }
}
