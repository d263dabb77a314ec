import { EventEmitter } from 'node:events';
import type { Workspace } from '../../protocol/workspaces.ts';

/** A workspace changed (members, roles, control, closed); every replica re-gates or closes its viewers. */
export interface WorkspaceChangedEvent {
  type: 'workspace.changed';
  workspace: Workspace;
}

/**
 * Port: fan-out of workspace changes. Embedded default: in-process; with several replicas: Redis pub/sub,
 * so a participant streaming through one replica is cut off the moment the owner removes them on another.
 */
export interface WorkspaceEventBus {
  publish(event: WorkspaceChangedEvent): Promise<void>;
  /** Returns the unsubscribe function. */
  subscribe(listener: (event: WorkspaceChangedEvent) => void): () => void;
  close(): Promise<void>;
}

export function isWorkspaceChangedEvent(value: unknown): value is WorkspaceChangedEvent {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<WorkspaceChangedEvent>;
  const w = v.workspace;
  return (
    v.type === 'workspace.changed' &&
    typeof w === 'object' &&
    w !== null &&
    typeof w.workspaceId === 'string' &&
    typeof w.tenantId === 'string' &&
    (w.state === 'open' || w.state === 'closed') &&
    Array.isArray(w.members) &&
    Array.isArray(w.sessionIds) &&
    (w.controllerId === null || typeof w.controllerId === 'string')
  );
}

/** The single-process default: listeners in this process only. */
export class InProcessWorkspaceEventBus implements WorkspaceEventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(event: WorkspaceChangedEvent): Promise<void> {
    this.emitter.emit('event', event);
  }

  subscribe(listener: (event: WorkspaceChangedEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}
