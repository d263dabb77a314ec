import type {
  DesktopSample,
  DesktopStatus,
  RuntimeHandle,
  RuntimeProvider,
} from '../../backend-adapter/runtime/runtime-provider.ts';

/**
 * A runtime that starts nothing: every operation succeeds at once. Only for measuring the orchestrator
 * itself (API, lifecycle, Canon Memory) without desktops; never wired into the product.
 */
export class InertRuntime implements RuntimeProvider {
  readonly name = 'inert';
  private port = 20000;

  async start(sessionId: string): Promise<RuntimeHandle> {
    return {
      kind: 'local',
      pgid: 0,
      pid: 0,
      display: 0,
      host: '127.0.0.1',
      port: this.port++,
      password: 'x',
      workDir: `/nowhere/${sessionId}`,
    };
  }
  async pause(): Promise<void> {}
  async resume(): Promise<void> {}
  async stop(): Promise<void> {}
  async status(): Promise<DesktopStatus> {
    return 'running';
  }
  async sample(): Promise<DesktopSample | undefined> {
    return undefined;
  }
  async reclaimOrphans(): Promise<string[]> {
    return [];
  }
}
