import type { AllocatedResources, TierId } from '../../protocol/session.ts';

/** What every handle has: where the gateway reaches the desktop's RFB server, and the session agent. */
interface HandleCommon {
  /** RFB endpoint of the desktop (loopback locally, the pod's IP in a cluster). */
  host: string;
  port: number;
  /** Per-session VNC password; never leaves the server. */
  password: string;
  /** X display number inside the desktop. */
  display: number;
  /** The session agent's control endpoint (e.g. http://10.1.2.3:8090); absent on desktops from before the agent. */
  agentUrl?: string;
  /** The agent's per-session bearer secret; never leaves the server. */
  agentToken?: string;
}

/** A desktop on this machine; kept in Canon Memory so it survives an adapter restart. */
export interface LocalRuntimeHandle extends HandleCommon {
  kind: 'local';
  /** Process group of the desktop (Xvnc, window manager, terminal). */
  pgid: number;
  /** The Xvnc process itself. */
  pid: number;
  workDir: string;
  /** The session agent's process (its own process group). */
  agentPid?: number;
}

/** A desktop in a Kubernetes pod: a Secret (agent token, VNC password), a PVC for home, and the pod. */
export interface KubernetesRuntimeHandle extends HandleCommon {
  kind: 'kubernetes';
  namespace: string;
  /** The pod; null while hibernated (the pod is deleted, its disk kept). */
  podName: string | null;
  pvcName: string;
  secretName: string;
  tier: string;
  hibernated: boolean;
}

/** Where a running desktop is and how to reach it; kept in Canon Memory as JSON. */
export type RuntimeHandle = LocalRuntimeHandle | KubernetesRuntimeHandle;

/**
 * What the runtime sees of a desktop right now: `stopped` is frozen with its memory, `hibernated` has no
 * processes but its disk is kept, `gone` has nothing left.
 */
export type DesktopStatus = 'running' | 'stopped' | 'hibernated' | 'gone';

/** Resource use of a desktop at one moment: cumulative CPU time and current memory. */
export interface DesktopSample {
  cpuSeconds: number;
  memoryBytes: number;
  /** GPU utilisation in percent where the desktop has one, else null. */
  gpuPercent: number | null;
}

/** Whether a running desktop answers: its agent's health check, and the agent's own check of the display. */
export type DesktopLiveness = { ok: true } | { ok: false; reason: string };

/** Who a desktop is for; the Kubernetes runtime labels its objects with it. */
export interface StartContext {
  tier: TierId;
  tenantId: string;
  userId: string;
}

/** A tier's warm pool: `floor` ready desktops always, up to `ceiling` when launches are predicted. */
export interface WarmPoolBounds {
  floor: number;
  ceiling: number;
}

/** Runtimes with a warm pool whose size follows the launch predictions (Kubernetes). */
export interface WarmPoolControl {
  /** Tiers whose pool may change size (ceiling above floor). */
  warmPoolBounds(): Partial<Record<TierId, WarmPoolBounds>>;
  /** The wanted size per tier (clamped to the bounds; a tier left out goes back to its floor). */
  setWarmTargets(targets: Partial<Record<TierId, number>>): void;
  /** The size per tier the pool now tops up to, and the warm desktops it holds. */
  warmPoolState(): Partial<Record<TierId, { target: number; warm: number }>>;
}

/** Port: starts, freezes, thaws and ends desktops. Adapters: local (session agents as processes), Kubernetes. */
export interface RuntimeProvider {
  readonly name: string;
  start(sessionId: string, resources: AllocatedResources, context?: StartContext): Promise<RuntimeHandle>;
  /** Freezes every process of the desktop, memory kept. */
  pause(handle: RuntimeHandle): Promise<void>;
  resume(handle: RuntimeHandle): Promise<void>;
  /**
   * Runtimes that can: ends a paused desktop's processes (memory lost) but keeps its disk; returns the handle
   * that `wake` brings it back from. Idempotent.
   */
  hibernate?(handle: RuntimeHandle): Promise<RuntimeHandle>;
  /** Starts a hibernated desktop again on its kept disk; returns where it now runs. */
  wake?(handle: RuntimeHandle): Promise<RuntimeHandle>;
  /**
   * Runtimes that can: gives the desktop the resources of `tier` (e.g. Kubernetes: a new pod with the new
   * requests and limits on the kept home volume); returns where it now runs, running (the caller pauses it
   * again if it was paused). Absent: the runtime cannot change a running desktop's resources, and a tier
   * change only changes what is billed and recorded.
   */
  resize?(handle: RuntimeHandle, tier: TierId, resources: AllocatedResources): Promise<RuntimeHandle>;
  /** After how long paused a session is hibernated; absent when the runtime does not hibernate. */
  readonly hibernateAfterMs?: number;
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
  /** Releases watches and timers (not the desktops). */
  close?(): Promise<void>;
  /** Runtimes backed by a platform (Kubernetes): whether it answers, with the evidence. */
  health?(): Promise<{ ok: boolean; evidence: string }>;
  /** Runtimes whose desktops have an agent: whether it answers (a short deadline) and the desktop with it. */
  liveness?(handle: RuntimeHandle): Promise<DesktopLiveness>;
  /**
   * Ends a stuck desktop however frozen it is and starts it again on its kept disk (local: the session's
   * directory; Kubernetes: the PVC, as a wake from hibernation). Returns where it now runs.
   */
  restart?(
    sessionId: string,
    handle: RuntimeHandle,
    resources: AllocatedResources,
    context?: StartContext,
  ): Promise<RuntimeHandle>;
  /** Runtimes with a warm pool that predictions may size. */
  readonly warmPool?: WarmPoolControl;
}

/** A launch that failed; `reason` is shown to the user. */
export class RuntimeStartError extends Error {
  readonly code = 'RUNTIME_FAILED';
  constructor(readonly reason: string) {
    super(reason);
  }
}
