// What the lifecycle tests share: a runtime that starts nothing and whose every step a test can hold, fail or
// watch, and small helpers. The lifecycle runs on real SQLite Canon Memory in these tests.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ApiError } from '../../../backend-adapter/api-error.ts';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { InProcessSessionEventBus } from '../../../backend-adapter/events/in-process-session-event-bus.ts';
import { DEFAULT_POLICY, type LifecyclePolicy } from '../../../backend-adapter/lifecycle/lifecycle-policy.ts';
import {
  SessionLifecycle,
  type LifecycleDeps,
} from '../../../backend-adapter/lifecycle/session-lifecycle.ts';
import { InProcessSessionLocks } from '../../../backend-adapter/locks/in-process-session-locks.ts';
import type {
  DesktopSample,
  DesktopStatus,
  RuntimeHandle,
  RuntimeProvider,
} from '../../../backend-adapter/runtime/runtime-provider.ts';

/**
 * A fake runtime (no processes): each operation waits on a gate the test controls, so in-flight
 * transitions, hangs and failures can be produced on purpose. The real runtime is tested with Xvnc elsewhere.
 */
export class FakeRuntime implements RuntimeProvider {
  readonly name = 'fake';
  readonly calls: string[] = [];
  hold: Partial<Record<'start' | 'pause' | 'resume' | 'stop', Promise<void>>> = {};
  fail: Partial<Record<'start' | 'pause' | 'resume', string>> = {};
  status_: DesktopStatus = 'running';
  /** Set by a test to give the runtime the watchdog's restart. */
  restart?: RuntimeProvider['restart'];
  /** Handles `start` returned, in order (what a late `stop` must be called with). */
  readonly started: RuntimeHandle[] = [];
  readonly stopped: RuntimeHandle[] = [];

  private async step(op: 'start' | 'pause' | 'resume' | 'stop'): Promise<void> {
    this.calls.push(op);
    await this.hold[op];
    const reason = op === 'stop' ? undefined : this.fail[op];
    if (reason) throw new Error(reason);
  }
  async start(sessionId: string): Promise<RuntimeHandle> {
    await this.step('start');
    const handle: RuntimeHandle = {
      kind: 'local',
      pgid: 1,
      pid: 1,
      display: 1,
      host: '127.0.0.1',
      port: 1,
      password: 'p',
      workDir: `/x/${sessionId}`,
    };
    this.started.push(handle);
    return handle;
  }
  async pause(): Promise<void> {
    await this.step('pause');
    this.status_ = 'stopped';
  }
  async resume(): Promise<void> {
    await this.step('resume');
    this.status_ = 'running';
  }
  async stop(handle: RuntimeHandle): Promise<void> {
    await this.step('stop');
    this.stopped.push(handle);
    this.status_ = 'gone';
  }
  async status(): Promise<DesktopStatus> {
    return this.status_;
  }
  async sample(): Promise<DesktopSample | undefined> {
    return { cpuSeconds: 0, memoryBytes: 0, gpuPercent: null };
  }
  async reclaimOrphans(): Promise<string[]> {
    return [];
  }
}

export const alice = { userId: 'alice', tenantId: 't1', subscription: 'enterprise' };

export function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

export async function rejectsWith(work: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(work, (e: unknown) => e instanceof ApiError && e.code === code);
}

/** Polls `check` until it holds; fails with `what` once `timeoutMs` has passed. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface LifecycleRig {
  canon: SqliteCanonStore;
  runtime: FakeRuntime;
  /** The lifecycle's clock (runtime deadlines run on real time). */
  clock: { now: number };
  lifecycle: SessionLifecycle;
  /** Replaces `lifecycle` with one over the same store and runtime, with this policy and these deps. */
  make(policy?: Partial<LifecyclePolicy>, deps?: Partial<LifecycleDeps>): SessionLifecycle;
  cleanup(): Promise<void>;
}

/** A lifecycle on a fresh SQLite file with a FakeRuntime and a fake clock. */
export async function lifecycleRig(): Promise<LifecycleRig> {
  const dir = await mkdtemp(join(tmpdir(), 'vsc-lifecycle-'));
  const canon = new SqliteCanonStore(join(dir, 'canon.sqlite'));
  const runtime = new FakeRuntime();
  const clock = { now: Date.parse('2026-01-12T10:00:00Z') };
  const make = (policy: Partial<LifecyclePolicy> = {}, deps: Partial<LifecycleDeps> = {}) =>
    new SessionLifecycle({
      canon,
      runtime,
      events: new InProcessSessionEventBus(),
      locks: new InProcessSessionLocks(),
      policy: { ...DEFAULT_POLICY, ...policy },
      logger: pino({ level: 'silent' }),
      clock: () => new Date(clock.now),
      ...deps,
    });
  const rig: LifecycleRig = {
    canon,
    runtime,
    clock,
    lifecycle: make(),
    make(policy, deps) {
      rig.lifecycle = make(policy, deps);
      return rig.lifecycle;
    },
    async cleanup() {
      await canon.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return rig;
}
