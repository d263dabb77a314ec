import { randomBytes } from 'node:crypto';
import {
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1Secret,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { AllocatedResources, TierId } from '../../../protocol/session.ts';
import { AGENT_CONTROL_PORT, RFB_PORT } from '../../../session-agent/protocol.ts';
import type { KubernetesRuntimeConfig } from '../../config.ts';
import { findTier } from '../../tiers/tier-catalogue.ts';
import { AgentClient, AgentRequestError } from '../agent-client.ts';
import {
  RuntimeStartError,
  type DesktopLiveness,
  type DesktopSample,
  type DesktopStatus,
  type KubernetesRuntimeHandle,
  type RuntimeHandle,
  type RuntimeProvider,
  type StartContext,
  type WarmPoolBounds,
  type WarmPoolControl,
} from '../runtime-provider.ts';
import {
  describeApiError,
  isConflict,
  isNotFound,
  isUnprocessable,
  podFailure,
} from './kubernetes-errors.ts';
import { Reflector } from './reflector.ts';
import {
  ANNOTATIONS,
  LABELS,
  SECRET_KEYS,
  SESSION_SELECTOR,
  labelValue,
  podFor,
  pvcFor,
  secretFor,
  sessionLabels,
  type SessionIdentity,
  type SessionObjectsConfig,
} from './session-objects.ts';
import { podView, pvcView, type PodView, type PvcView } from './views.ts';
import { WarmSlots } from './warm-slots.ts';

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const randomSuffix = (n: number) =>
  randomBytes(n)
    .toString('base64url')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, 'x')
    .slice(0, n);

/** The names of what one session (or warm desktop) consists of. */
interface SessionObjects {
  /** The Secret and the PVC share this name; the Secret owns the PVC and the pod. */
  base: string;
  pod?: string;
}

interface ReadyDesktop {
  pod: PodView;
  display: number;
}

function asKubernetes(handle: RuntimeHandle): KubernetesRuntimeHandle {
  if (handle.kind !== 'kubernetes') throw new RuntimeStartError(`a ${handle.kind} desktop is not a pod`);
  return handle;
}

/** A JSON Pointer to a label or annotation (`/` and `~` in the key escaped). */
function at(field: 'labels' | 'annotations', key: string): string {
  return `/metadata/${field}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** The name a pod's Secret and PVC share. */
function baseOf(pod: PodView): string {
  return pod.annotations[ANNOTATIONS.objects] ?? pod.name;
}

function hostOf(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

/**
 * Sessions as pods. Per session: a Secret (agent token, VNC password) that owns a PVC (home, the tier's size,
 * on the encrypted storage class) and the pod (the session image running the session agent; the tier's CPU and
 * memory as requests and limits, nvidia.com/gpu for GPU tiers, non-root, read-only root). State comes from
 * informers on pods and PVCs (list, then watch), never from polling the API per request. Pause and resume go
 * through the agent; hibernation deletes the pod and keeps the PVC; resume recreates the pod on the same disk.
 * Launch failures (quota, invalid spec, image pull, OOMKilled, unschedulable) fail the launch with the reason
 * and delete whatever the launch created. A warm pool per tier keeps ready desktops to claim; its size is a
 * figure for the cluster, which replicas keep together (see warm-slots.ts and claimWarm).
 */
export class KubernetesRuntime implements RuntimeProvider {
  readonly name = 'kubernetes';
  readonly hibernateAfterMs: number;
  private readonly core: CoreV1Api;
  readonly pods: Reflector<V1Pod, PodView>;
  readonly pvcs: Reflector<V1PersistentVolumeClaim, PvcView>;
  private readonly objects: SessionObjectsConfig;
  private syncedAll = false;
  private readonly claiming = new Set<string>();
  private readonly filling = new Set<TierId>();
  private readonly fillBackoffUntil = new Map<TierId, { until: number; ms: number }>();
  private poolTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Wanted warm desktops per tier (the predictions'), within [WARM_POOL, WARM_POOL_MAX]; else the floor. */
  private readonly targets = new Map<TierId, number>();
  /** Warm desktops (by Secret/PVC name) this runtime is deleting, which the informers may still list. */
  private readonly retiring = new Set<string>();
  private readonly slots: WarmSlots;
  readonly warmPool: WarmPoolControl = {
    warmPoolBounds: () => this.poolBounds(),
    setWarmTargets: (targets) => {
      const bounds = this.poolBounds();
      this.targets.clear();
      for (const [tier, n] of Object.entries(targets) as Array<[TierId, number]>) {
        const b = bounds[tier];
        if (b && Number.isFinite(n))
          this.targets.set(tier, Math.min(b.ceiling, Math.max(b.floor, Math.round(n))));
      }
      this.refill();
    },
    warmPoolState: () => {
      const out: Partial<Record<TierId, { target: number; warm: number }>> = {};
      for (const tier of Object.keys(this.poolBounds()) as TierId[])
        out[tier] = { target: this.targetOf(tier), warm: this.warmPods(tier).length };
      return out;
    },
  };

  private constructor(
    private readonly config: KubernetesRuntimeConfig,
    private readonly logger: Logger,
    kubeConfig: KubeConfig,
  ) {
    this.hibernateAfterMs = config.hibernateAfterMs;
    this.slots = new WarmSlots(config.startTimeoutMs);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.objects = {
      namespace: config.namespace,
      image: config.image,
      storageClass: config.storageClass,
      runAsUser: config.runAsUser,
    };
    const namespace = config.namespace;
    this.pods = new Reflector<V1Pod, PodView>({
      kubeConfig,
      path: `/api/v1/namespaces/${namespace}/pods`,
      labelSelector: SESSION_SELECTOR,
      list: ({ limit, continue: c }) =>
        this.core.listNamespacedPod({ namespace, labelSelector: SESSION_SELECTOR, limit, _continue: c }),
      project: podView,
      name: (v) => v.name,
      logger,
    });
    this.pvcs = new Reflector<V1PersistentVolumeClaim, PvcView>({
      kubeConfig,
      path: `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
      labelSelector: SESSION_SELECTOR,
      list: ({ limit, continue: c }) =>
        this.core.listNamespacedPersistentVolumeClaim({
          namespace,
          labelSelector: SESSION_SELECTOR,
          limit,
          _continue: c,
        }),
      project: pvcView,
      name: (v) => v.name,
      logger,
    });
  }

  /** Loads the kubeconfig (a file, or the pod's service account in a cluster) and starts the informers. */
  static async open(config: KubernetesRuntimeConfig, logger: Logger): Promise<KubernetesRuntime> {
    const kubeConfig = new KubeConfig();
    if (config.kubeconfigPath) kubeConfig.loadFromFile(config.kubeconfigPath);
    else if (process.env.KUBERNETES_SERVICE_HOST) kubeConfig.loadFromCluster();
    else kubeConfig.loadFromDefault();
    const runtime = new KubernetesRuntime(config, logger, kubeConfig);
    runtime.pods.start();
    runtime.pvcs.start();
    if (!(await runtime.waitForSync(config.startTimeoutMs))) {
      logger.warn('the Kubernetes informers have not synced yet; sessions are reconciled once they have');
    }
    runtime.startPool();
    return runtime;
  }

  private async waitForSync(timeoutMs: number): Promise<boolean> {
    if (this.syncedAll) return true;
    let timer: NodeJS.Timeout | undefined;
    const synced = Promise.all([this.pods.synced(), this.pvcs.synced()]).then(() => true);
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    this.syncedAll = await Promise.race([synced, late]).finally(() => clearTimeout(timer));
    return this.syncedAll;
  }

  private async requireSync(): Promise<void> {
    if (!(await this.waitForSync(this.config.startTimeoutMs))) {
      throw new RuntimeStartError('the Kubernetes API has not answered yet');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poolTimer);
    await Promise.all([this.pods.stop(), this.pvcs.stop()]);
  }

  // ── launch ──────────────────────────────────────────────────────────────────────────────────────────────

  async start(
    sessionId: string,
    resources: AllocatedResources,
    context?: StartContext,
  ): Promise<KubernetesRuntimeHandle> {
    await this.requireSync();
    const who: SessionIdentity = {
      sessionId,
      tenantId: context?.tenantId,
      userId: context?.userId,
      tier: context?.tier ?? 'basic',
    };
    const deadline = Date.now() + this.config.startTimeoutMs;
    if (context) {
      const warm = await this.claimWarm(context.tier, who, resources, deadline);
      if (warm) return warm;
    }
    return this.createDesktop(`vsc-${sessionId}`, who, resources, deadline);
  }

  /** Creates Secret, PVC and pod, waits until the desktop answers; on any failure deletes what it made. */
  private async createDesktop(
    base: string,
    who: SessionIdentity,
    resources: AllocatedResources,
    deadline: number,
  ): Promise<KubernetesRuntimeHandle> {
    const secrets = {
      agentToken: randomBytes(32).toString('base64url'),
      // VNC Authentication uses at most 8 characters of the password.
      vncPassword: randomBytes(6).toString('base64url'),
    };
    const made: SessionObjects = { base };
    let step = 'creating the session secret';
    try {
      const secret = await this.core.createNamespacedSecret({
        namespace: this.config.namespace,
        body: secretFor(base, who, secrets, this.objects),
      });
      const owner = { name: base, uid: secret.metadata?.uid ?? '' };
      step = 'creating the home volume';
      await this.core.createNamespacedPersistentVolumeClaim({
        namespace: this.config.namespace,
        body: pvcFor(base, who, resources, owner, this.objects),
      });
      step = 'creating the desktop pod';
      made.pod = await this.createPod(base, who, resources, owner);
      step = 'starting the desktop';
      const ready = await this.waitUntilReady(made.pod, resources, deadline, secrets.agentToken);
      return this.handleFor(made.pod, base, who.tier, secrets, ready);
    } catch (error) {
      await this.release(made);
      if (error instanceof RuntimeStartError) throw error;
      throw new RuntimeStartError(describeApiError(error, step));
    }
  }

  private async createPod(
    base: string,
    who: SessionIdentity,
    resources: AllocatedResources,
    owner: { name: string; uid: string },
  ): Promise<string> {
    const name = `${base}-${randomSuffix(5)}`;
    await this.core.createNamespacedPod({
      namespace: this.config.namespace,
      body: podFor(name, who, resources, { secretName: base, pvcName: base, owner }, this.objects),
    });
    return name;
  }

  private handleFor(
    podName: string,
    base: string,
    tier: string,
    secrets: { agentToken: string; vncPassword: string },
    ready: ReadyDesktop,
  ): KubernetesRuntimeHandle {
    return {
      kind: 'kubernetes',
      namespace: this.config.namespace,
      podName,
      pvcName: base,
      secretName: base,
      tier,
      hibernated: false,
      host: ready.pod.podIP,
      port: RFB_PORT,
      password: secrets.vncPassword,
      display: ready.display,
      agentUrl: `http://${hostOf(ready.pod.podIP)}:${AGENT_CONTROL_PORT}`,
      agentToken: secrets.agentToken,
    };
  }

  /**
   * Follows the pod through the informer until it is ready and its agent answers. Fails at once on a
   * failure the pod cannot recover from (image pull, OOMKilled, container errors), after the unschedulable
   * deadline while no node takes it, and at the launch deadline otherwise.
   */
  private async waitUntilReady(
    podName: string,
    resources: AllocatedResources,
    deadline: number,
    agentToken: string,
  ): Promise<ReadyDesktop> {
    const pod = await new Promise<PodView>((resolve, reject) => {
      let seen = false;
      let unschedulableTimer: NodeJS.Timeout | undefined;
      const finish = (error?: string, ready?: PodView): void => {
        off();
        clearTimeout(overall);
        clearTimeout(unschedulableTimer);
        if (ready) resolve(ready);
        else
          void this.lastWarning(podName).then((event) => reject(new RuntimeStartError(`${error}${event}`)));
      };
      const check = (): void => {
        const view = this.pods.get(podName);
        if (!view) {
          if (seen) finish('the desktop pod was deleted while it started');
          return;
        }
        seen = true;
        const failure = podFailure(view, resources.memoryMiB);
        if (failure) return finish(failure);
        if (view.unschedulable && !unschedulableTimer) {
          unschedulableTimer = setTimeout(() => {
            const still = this.pods.get(podName)?.unschedulable;
            if (still) finish(`no node can run this desktop (${still.reason}: ${still.message})`);
          }, this.config.unschedulableTimeoutMs);
        } else if (!view.unschedulable && unschedulableTimer) {
          clearTimeout(unschedulableTimer);
          unschedulableTimer = undefined;
        }
        if (view.ready && view.podIP) finish(undefined, view);
      };
      const off = this.pods.on((_type, view) => {
        if (view.name === podName) check();
      });
      const overall = setTimeout(
        () => finish(`the desktop did not become ready within ${this.config.startTimeoutMs} ms`),
        Math.max(0, deadline - Date.now()),
      );
      check();
    });
    const agent = new AgentClient(`http://${hostOf(pod.podIP)}:${AGENT_CONTROL_PORT}`, agentToken, 3000);
    for (;;) {
      try {
        const health = await agent.health();
        return { pod, display: health.display };
      } catch (error) {
        // The pod may fail after it was ready (an OOM kill right after start): its reason, not the agent's
        // silence until the deadline.
        const view = this.pods.get(podName);
        const failure = view
          ? podFailure(view, resources.memoryMiB)
          : 'the desktop pod was deleted while it started';
        if (failure) throw new RuntimeStartError(`${failure}${await this.lastWarning(podName)}`);
        if (!(error instanceof AgentRequestError && error.status === 0) || Date.now() > deadline) {
          throw new RuntimeStartError(`the session agent did not answer: ${(error as Error).message}`);
        }
        await delay(100);
      }
    }
  }

  /** The pod's most recent Warning event (the scheduler's or the kubelet's words), for the failure reason. */
  private async lastWarning(podName: string): Promise<string> {
    try {
      const events = await this.core.listNamespacedEvent({
        namespace: this.config.namespace,
        fieldSelector: `involvedObject.name=${podName}`,
      });
      const warning = events.items.filter((e) => e.type === 'Warning').at(-1);
      return warning ? ` — last event: ${warning.reason}: ${warning.message}` : '';
    } catch {
      return '';
    }
  }

  /** Deletes a session's objects; what is already gone is fine. The PVC is kept when `keepVolume`. */
  private async release(made: SessionObjects, keepVolume = false): Promise<void> {
    const namespace = this.config.namespace;
    const ignoreMissing = (error: unknown): void => {
      if (!isNotFound(error)) throw error;
    };
    if (made.pod) {
      await this.core
        .deleteNamespacedPod({ name: made.pod, namespace, gracePeriodSeconds: 5 })
        .catch(ignoreMissing);
    }
    if (!keepVolume) {
      await this.core
        .deleteNamespacedPersistentVolumeClaim({ name: made.base, namespace })
        .catch(ignoreMissing);
    }
    // The owner: the garbage collector also removes anything of the session that the calls above missed.
    await this.core
      .deleteNamespacedSecret({ name: made.base, namespace, propagationPolicy: 'Background' })
      .catch(ignoreMissing);
  }

  // ── warm pool ───────────────────────────────────────────────────────────────────────────────────────────

  /** Tiers with a warm pool: the fixed size (WARM_POOL) as the floor, WARM_POOL_MAX as the ceiling. */
  private poolBounds(): Partial<Record<TierId, WarmPoolBounds>> {
    const out: Partial<Record<TierId, WarmPoolBounds>> = {};
    const floors = this.config.warmPool;
    const ceilings = this.config.warmPoolMax ?? {};
    for (const tier of new Set([...Object.keys(floors), ...Object.keys(ceilings)]) as Set<TierId>) {
      const floor = floors[tier] ?? 0;
      const ceiling = Math.max(floor, ceilings[tier] ?? floor);
      if (ceiling > 0) out[tier] = { floor, ceiling };
    }
    return out;
  }

  private targetOf(tier: TierId): number {
    return this.targets.get(tier) ?? this.poolBounds()[tier]?.floor ?? 0;
  }

  private startPool(): void {
    if (Object.keys(this.poolBounds()).length === 0) return;
    this.pods.on(() => this.refill());
    // Another replica's new desktop shows first as its home volume: counted as on its way.
    this.pvcs.on((_type, pvc) => {
      if (pvc.labels[LABELS.pool] === 'warm') this.refill();
    });
    this.poolTimer = setInterval(() => this.refill(), 10_000);
    this.poolTimer.unref();
    this.refill();
  }

  private warmPods(tier: TierId): PodView[] {
    return this.pods
      .list()
      .filter(
        (p) =>
          p.labels[LABELS.pool] === 'warm' &&
          p.labels[LABELS.tier] === tier &&
          !p.deleting &&
          !this.claiming.has(p.name) &&
          !this.retiring.has(baseOf(p)),
      );
  }

  /**
   * The tier's warm desktops in the cluster, whichever replica made them: warm pods from the informer
   * (healthy or broken), and those on their way — a young warm home volume whose pod is not there yet, and
   * names this replica is creating, or found taken by another replica (409), that the informers do not show yet.
   */
  private warmSupply(tier: TierId): { healthy: PodView[]; broken: PodView[]; onTheWay: number } {
    const now = Date.now();
    const withPod = new Set(this.pods.list().map(baseOf));
    const volumes = this.pvcs.list();
    const starting = volumes.filter(
      (v) =>
        v.labels[LABELS.pool] === 'warm' &&
        v.labels[LABELS.tier] === tier &&
        !v.deleting &&
        !withPod.has(v.name) &&
        !this.retiring.has(v.name) &&
        now - Date.parse(v.createdAt) < this.config.startTimeoutMs,
    );
    this.slots.observe(tier, withPod);
    this.slots.observe(
      tier,
      volumes.map((v) => v.name),
    );
    const visible = new Set([...withPod, ...starting.map((v) => v.name)]);
    const pending = this.slots.onTheWay(tier, visible, (base) => void this.dropUnfilled(base), now);
    const pods = this.warmPods(tier);
    return {
      healthy: pods.filter((p) => podFailure(p, 0) === undefined),
      broken: pods.filter((p) => podFailure(p, 0) !== undefined),
      onTheWay: starting.length + pending,
    };
  }

  /**
   * Tops every tier's pool up to its target (the floor, or what the predictions ask for) — a figure for the
   * whole cluster, not per replica; broken warm desktops are replaced; failures back off. Above the target,
   * the surplus goes: still-starting desktops first, then the newest.
   */
  private refill(): void {
    if (this.closed || !this.syncedAll) return;
    const bases = new Set(this.pods.list().map(baseOf));
    for (const base of this.retiring)
      if (!bases.has(base) && !this.pvcs.get(base)) this.retiring.delete(base);
    for (const tier of Object.keys(this.poolBounds()) as TierId[]) {
      if (this.filling.has(tier)) continue;
      const size = this.targetOf(tier);
      const { healthy, broken, onTheWay } = this.warmSupply(tier);
      if (healthy.length > size) {
        // Replicas sort alike, so replicas shrinking at once pick the same desktops.
        const surplus = healthy
          .sort(
            (a, b) =>
              Number(a.ready) - Number(b.ready) ||
              b.createdAt.localeCompare(a.createdAt) ||
              b.name.localeCompare(a.name),
          )
          .slice(0, healthy.length - size);
        this.filling.add(tier);
        void this.shrink(surplus).finally(() => this.filling.delete(tier));
        continue;
      }
      const backoff = this.fillBackoffUntil.get(tier);
      if (backoff && Date.now() < backoff.until) continue;
      const missing = size - healthy.length - onTheWay;
      if (missing <= 0 && broken.length === 0) continue;
      this.filling.add(tier);
      const slowDown = (why: string): void => {
        const ms = Math.min((backoff?.ms ?? 500) * 2, 60_000);
        this.fillBackoffUntil.set(tier, { until: Date.now() + ms, ms });
        this.logger.warn({ tier, err: why, retryInMs: ms }, 'warm pool refill failed');
      };
      void this.fill(tier, broken, Math.max(0, missing))
        .then(() => {
          // Warm desktops that broke (image pull, OOM) would break again at once: replace them ever more slowly.
          if (broken.length > 0) slowDown(podFailure(broken[0] as PodView, 0) ?? 'a warm desktop failed');
          else this.fillBackoffUntil.delete(tier);
        })
        .catch((error: unknown) => slowDown((error as Error).message))
        .finally(() => this.filling.delete(tier));
    }
  }

  /** Deletes surplus warm desktops (the informer may list them a moment longer: they are not counted). */
  private async shrink(surplus: PodView[]): Promise<void> {
    for (const pod of surplus) {
      const base = baseOf(pod);
      this.retiring.add(base);
      await this.release({ base, pod: pod.name }).catch((error: unknown) => {
        this.retiring.delete(base);
        this.logger.warn(
          { pod: pod.name, err: describeApiError(error, 'shrinking the warm pool') },
          'warm pool shrink failed',
        );
      });
    }
  }

  /**
   * Replaces broken desktops and creates `missing` new ones under the next warm names. A name whose Secret
   * already exists is being created by another replica: it counts as on its way, and no other is made instead.
   */
  private async fill(tier: TierId, broken: PodView[], missing: number): Promise<void> {
    for (const pod of broken) {
      this.retiring.add(baseOf(pod));
      await this.release({ base: baseOf(pod), pod: pod.name });
    }
    const resources = findTier(tier)?.resources;
    if (!resources) return;
    const namespace = this.config.namespace;
    for (const base of this.slots.next(tier, missing)) {
      const who: SessionIdentity = { tier };
      this.slots.begin(tier, base, 'ours');
      let secret: V1Secret;
      try {
        secret = await this.core.createNamespacedSecret({
          namespace,
          body: secretFor(
            base,
            who,
            {
              agentToken: randomBytes(32).toString('base64url'),
              vncPassword: randomBytes(6).toString('base64url'),
            },
            this.objects,
          ),
        });
      } catch (error) {
        if (isConflict(error)) {
          this.slots.begin(tier, base, 'taken');
          continue;
        }
        this.slots.abandon(base);
        throw new Error(describeApiError(error, 'filling the warm pool'));
      }
      const owner = { name: base, uid: secret.metadata?.uid ?? '' };
      let volumeMade = false;
      try {
        await this.core.createNamespacedPersistentVolumeClaim({
          namespace,
          body: pvcFor(base, who, resources, owner, this.objects),
        });
        volumeMade = true;
        await this.createPod(base, who, resources, owner);
      } catch (error) {
        this.slots.abandon(base);
        // Only what this replica made goes (a volume of that name it did not make is not its to delete).
        await this.release({ base }, !volumeMade).catch(() => undefined);
        throw new Error(describeApiError(error, 'filling the warm pool'));
      }
    }
  }

  /**
   * A warm name another replica took (409) but never filled — it stopped between its Secret and its volume:
   * the Secret is deleted, unless a volume or pod of it has appeared or it is no longer a warm desktop's.
   */
  private async dropUnfilled(base: string): Promise<void> {
    if (this.pvcs.get(base) || this.pods.list().some((p) => baseOf(p) === base)) return;
    const namespace = this.config.namespace;
    try {
      const secret = await this.core.readNamespacedSecret({ name: base, namespace });
      if (secret.metadata?.labels?.[LABELS.pool] !== 'warm') return;
      await this.core.deleteNamespacedSecret({ name: base, namespace, propagationPolicy: 'Background' });
      this.logger.warn({ secret: base }, 'deleted a warm desktop’s Secret that no replica finished');
    } catch (error) {
      if (!isNotFound(error))
        this.logger.warn({ secret: base, err: describeApiError(error, 'reading a warm Secret') }, 'skipped');
    }
  }

  /**
   * Takes a warm desktop of the tier for a session: relabels its pod with a JSON patch whose `test` requires
   * it to be still warm, so of two replicas claiming the same desktop exactly one succeeds (the other gets 422
   * and tries the next, or launches cold) — and a status update of the pod in between makes no claim fail.
   * Then waits for the desktop if it is still starting. Undefined when the pool has none; a claimed desktop
   * that turns out broken is deleted and the launch goes cold.
   */
  private async claimWarm(
    tier: TierId,
    who: SessionIdentity,
    resources: AllocatedResources,
    deadline: number,
  ): Promise<KubernetesRuntimeHandle | undefined> {
    const candidates = this.warmPods(tier)
      .filter((p) => podFailure(p, resources.memoryMiB) === undefined)
      .sort((a, b) => Number(b.ready) - Number(a.ready) || a.createdAt.localeCompare(b.createdAt));
    const namespace = this.config.namespace;
    for (const pod of candidates) {
      const base = pod.annotations[ANNOTATIONS.objects];
      if (!base || this.claiming.has(pod.name)) continue;
      this.claiming.add(pod.name);
      try {
        const labels = sessionLabels(who);
        try {
          await this.core.patchNamespacedPod(
            {
              name: pod.name,
              namespace,
              body: [
                { op: 'test', path: at('labels', LABELS.pool), value: 'warm' },
                ...Object.entries(labels).map(([key, value]) => ({
                  op: 'add',
                  path: at('labels', key),
                  value,
                })),
                ...(who.userId
                  ? [{ op: 'add', path: at('annotations', ANNOTATIONS.user), value: who.userId }]
                  : []),
              ],
            },
            JSON_PATCH,
          );
        } catch (error) {
          // The test failed (422): another replica took it first; or it is gone.
          if (isUnprocessable(error) || isConflict(error) || isNotFound(error)) continue;
          throw error;
        }
        const made: SessionObjects = { base, pod: pod.name };
        try {
          await this.core.patchNamespacedSecret(
            { name: base, namespace, body: { metadata: { labels } } },
            MERGE_PATCH,
          );
          await this.core.patchNamespacedPersistentVolumeClaim(
            { name: base, namespace, body: { metadata: { labels } } },
            MERGE_PATCH,
          );
          const secret = await this.core.readNamespacedSecret({ name: base, namespace });
          const decode = (key: string) => Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8');
          const secrets = {
            agentToken: decode(SECRET_KEYS.agentToken),
            vncPassword: decode(SECRET_KEYS.vncPassword),
          };
          const ready = await this.waitUntilReady(pod.name, resources, deadline, secrets.agentToken);
          this.logger.info({ sessionId: who.sessionId, pod: pod.name, tier }, 'claimed a warm desktop');
          return this.handleFor(pod.name, base, tier, secrets, ready);
        } catch (error) {
          this.logger.warn(
            { sessionId: who.sessionId, pod: pod.name, err: (error as Error).message },
            'a claimed warm desktop failed; starting a new one',
          );
          await this.release(made).catch(() => undefined);
          return undefined;
        }
      } finally {
        this.claiming.delete(pod.name);
        this.refill();
      }
    }
    return undefined;
  }

  // ── pause, hibernate, resume, stop ──────────────────────────────────────────────────────────────────────

  private agent(handle: KubernetesRuntimeHandle): AgentClient {
    if (!handle.agentUrl || !handle.agentToken || !handle.podName || handle.hibernated) {
      throw new RuntimeStartError('the desktop is hibernated: it has no running processes');
    }
    return new AgentClient(handle.agentUrl, handle.agentToken);
  }

  private async throughAgent<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof RuntimeStartError) throw error;
      if (error instanceof AgentRequestError && error.status === 410)
        throw new RuntimeStartError('the desktop is no longer running');
      throw new RuntimeStartError(error instanceof Error ? error.message : String(error));
    }
  }

  private async annotatePaused(podName: string, pausedAt: string | null): Promise<void> {
    await this.core
      .patchNamespacedPod(
        {
          name: podName,
          namespace: this.config.namespace,
          body: { metadata: { annotations: { [ANNOTATIONS.pausedAt]: pausedAt } } },
        },
        MERGE_PATCH,
      )
      .catch((error: unknown) => {
        // The desktop is frozen either way; the annotation only lets status() tell without asking the agent.
        this.logger.warn(
          { pod: podName, err: describeApiError(error, 'annotating the pod') },
          'annotation failed',
        );
      });
  }

  async pause(handle: RuntimeHandle): Promise<void> {
    const h = asKubernetes(handle);
    await this.throughAgent(() => this.agent(h).pause());
    await this.annotatePaused(h.podName ?? '', new Date().toISOString());
  }

  async resume(handle: RuntimeHandle): Promise<void> {
    const h = asKubernetes(handle);
    await this.throughAgent(() => this.agent(h).resume());
    await this.annotatePaused(h.podName ?? '', null);
  }

  /** Ends the pod (memory lost) and keeps the home volume; `resume` brings it back. Idempotent. */
  async hibernate(handle: RuntimeHandle): Promise<KubernetesRuntimeHandle> {
    const h = asKubernetes(handle);
    if (h.podName) {
      const name = h.podName;
      await this.core
        .deleteNamespacedPod({ name, namespace: this.config.namespace, gracePeriodSeconds: 5 })
        .catch((error: unknown) => {
          if (!isNotFound(error)) throw new RuntimeStartError(describeApiError(error, 'deleting the pod'));
        });
      await this.podGone(name, 15_000);
    }
    return { ...h, podName: null, host: '', agentUrl: undefined, hibernated: true };
  }

  /** Resolves once the informer no longer has the pod (or after `timeoutMs`). */
  private podGone(name: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (!this.pods.get(name)) return resolve();
      const timer = setTimeout(done, timeoutMs);
      const off = this.pods.on((type, view) => {
        if (type === 'DELETED' && view.name === name) done();
      });
      function done(): void {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  }

  /** A new pod on the session's kept Secret and home volume. */
  async wake(handle: RuntimeHandle): Promise<KubernetesRuntimeHandle> {
    const h = asKubernetes(handle);
    await this.requireSync();
    const resources = findTier(h.tier)?.resources;
    if (!resources) throw new RuntimeStartError(`unknown tier ${h.tier}`);
    if (!this.pvcs.get(h.pvcName)) throw new RuntimeStartError('the session’s home volume is gone');
    const deadline = Date.now() + this.config.startTimeoutMs;
    const made: SessionObjects = { base: h.secretName };
    let step = 'reading the session secret';
    try {
      const secret = await this.core.readNamespacedSecret({
        name: h.secretName,
        namespace: this.config.namespace,
      });
      const labels = secret.metadata?.labels ?? {};
      const who: SessionIdentity = {
        sessionId: labels[LABELS.session],
        tenantId: labels[LABELS.tenant],
        tier: h.tier,
      };
      step = 'creating the desktop pod';
      made.pod = await this.createPod(h.secretName, who, resources, {
        name: h.secretName,
        uid: secret.metadata?.uid ?? '',
      });
      step = 'starting the desktop';
      const ready = await this.waitUntilReady(made.pod, resources, deadline, h.agentToken ?? '');
      return this.handleFor(
        made.pod,
        h.secretName,
        h.tier,
        { agentToken: h.agentToken ?? '', vncPassword: h.password },
        ready,
      );
    } catch (error) {
      // Only the new pod goes: the disk and the secret stay, so the session stays resumable.
      if (made.pod) await this.release(made, true).catch(() => undefined);
      if (error instanceof RuntimeStartError) throw error;
      throw new RuntimeStartError(describeApiError(error, step));
    }
  }

  /** The agent's health check through the pod's IP, with a short deadline; a hibernated desktop has none. */
  async liveness(handle: RuntimeHandle): Promise<DesktopLiveness> {
    const h = asKubernetes(handle);
    if (h.hibernated || !h.podName || !h.agentUrl || !h.agentToken) return { ok: true };
    const pod = this.pods.get(h.podName);
    if (!pod || pod.deleting) return { ok: false, reason: 'the desktop pod is gone' };
    try {
      const health = await new AgentClient(h.agentUrl, h.agentToken, 4000).health();
      if (health.state === 'exited') return { ok: false, reason: 'the desktop has ended' };
      if (health.desktopAnswers === false)
        return { ok: false, reason: 'the desktop is hung (its display server does not answer)' };
      return { ok: true };
    } catch (error) {
      return { ok: false, reason: error instanceof Error ? error.message : String(error) };
    }
  }

  /** A stuck desktop: its pod is deleted and a new one starts on the same Secret and home volume (as a wake). */
  async restart(_sessionId: string, handle: RuntimeHandle): Promise<KubernetesRuntimeHandle> {
    const h = asKubernetes(handle);
    return this.wake(await this.hibernate(h));
  }

  /**
   * A tier change: the pod ends and a new one starts with `tier`'s requests and limits on the session's kept
   * Secret and home volume (like hibernate then wake; a running pod's resources are not patched in place).
   */
  async resize(handle: RuntimeHandle, tier: TierId): Promise<KubernetesRuntimeHandle> {
    const hibernated = await this.hibernate(handle);
    return this.wake({ ...hibernated, tier });
  }

  async stop(handle: RuntimeHandle): Promise<void> {
    const h = asKubernetes(handle);
    const namespace = this.config.namespace;
    const keepVolume = this.config.pvcRetention === 'retain';
    if (keepVolume) {
      // Cut the volume loose from its owner, so deleting the Secret does not take it along.
      await this.core
        .patchNamespacedPersistentVolumeClaim(
          {
            name: h.pvcName,
            namespace,
            body: { metadata: { ownerReferences: null, labels: { [LABELS.retained]: 'true' } } },
          },
          MERGE_PATCH,
        )
        .catch((error: unknown) => {
          if (!isNotFound(error))
            throw new RuntimeStartError(describeApiError(error, 'retaining the home volume'));
        });
    }
    try {
      await this.release({ base: h.secretName, pod: h.podName ?? undefined }, keepVolume);
    } catch (error) {
      throw new RuntimeStartError(describeApiError(error, 'deleting the session'));
    }
  }

  /** The 55 "Kubernetes health checks": the informers have synced and are watching. */
  async health(): Promise<{ ok: boolean; evidence: string }> {
    const ok = this.syncedAll;
    const stats = (r: { stats: { watches: number; errors: number; expired: number } }) =>
      `${r.stats.watches} watches, ${r.stats.errors} errors, ${r.stats.expired} relists after 410`;
    return {
      ok,
      evidence: ok
        ? `informers synced on namespace ${this.config.namespace}: ${this.pods.size} session pods (${stats(this.pods)}), ${this.pvcs.size} home volumes`
        : `the informers on namespace ${this.config.namespace} have not synced: the Kubernetes API does not answer`,
    };
  }

  // ── status, metrics, reconcile ──────────────────────────────────────────────────────────────────────────

  async status(handle: RuntimeHandle): Promise<DesktopStatus> {
    const h = asKubernetes(handle);
    await this.requireSync();
    const pvc = this.pvcs.get(h.pvcName);
    const disk: DesktopStatus = pvc && !pvc.deleting ? 'hibernated' : 'gone';
    if (h.hibernated || !h.podName) return disk;
    const pod = this.pods.get(h.podName);
    // A pod that vanished or ended (evicted, OOMKilled, node lost) took the memory; the disk may remain.
    if (!pod || pod.deleting || pod.phase === 'Failed' || pod.phase === 'Succeeded') return disk;
    return pod.annotations[ANNOTATIONS.pausedAt] ? 'stopped' : 'running';
  }

  async sample(handle: RuntimeHandle): Promise<DesktopSample | undefined> {
    const h = asKubernetes(handle);
    if (h.hibernated || !h.podName || !this.pods.get(h.podName)) return undefined;
    try {
      const m = await this.agent(h).metrics();
      return { cpuSeconds: m.cpuSeconds, memoryBytes: m.memoryBytes, gpuPercent: m.gpuPercent };
    } catch {
      return undefined;
    }
  }

  /**
   * Deletes pods, PVCs and Secrets labelled as sessions of ours that no live session accounts for. Objects
   * younger than twice the launch deadline are left alone: another orchestrator replica may be launching them.
   * Warm-pool desktops and retained volumes are not orphans; a warm desktop's Secret or volume that never got
   * its pod (the replica filling the pool died), past the same grace, is.
   */
  async reclaimOrphans(keep: ReadonlySet<string>): Promise<string[]> {
    if (!(await this.waitForSync(this.config.startTimeoutMs))) {
      this.logger.warn('orphan reclaim skipped: the Kubernetes informers have not synced');
      return [];
    }
    const namespace = this.config.namespace;
    const kept = new Set([...keep].map(labelValue));
    const graceMs = this.config.startTimeoutMs * 2;
    const orphan = (labels: Record<string, string>, createdAt: string): string | undefined => {
      const session = labels[LABELS.session];
      if (labels[LABELS.pool] === 'warm' || labels[LABELS.retained] === 'true' || !session) return undefined;
      if (kept.has(session) || Date.now() - Date.parse(createdAt) < graceMs) return undefined;
      return session;
    };
    const reclaimed = new Set<string>();
    const ignoreMissing = (error: unknown): void => {
      if (!isNotFound(error))
        this.logger.warn({ err: describeApiError(error, 'reclaiming') }, 'reclaim failed');
    };
    // A warm desktop whose fill stopped half-way (its replica died after the Secret or the volume, before the
    // pod): with no pod nothing claims or counts it, so it would hold its volume for good.
    const withPod = new Set(this.pods.list().map(baseOf));
    const abandonedFills = new Set<string>();
    const abandonedFill = (name: string, labels: Record<string, string>, createdAt: string): boolean => {
      if (labels[LABELS.pool] !== 'warm' || withPod.has(name)) return false;
      const born = Date.parse(createdAt);
      if (!Number.isFinite(born) || Date.now() - born < graceMs) return false;
      abandonedFills.add(name);
      return true;
    };
    for (const pod of this.pods.list()) {
      const session = orphan(pod.labels, pod.createdAt);
      if (!session || pod.deleting) continue;
      reclaimed.add(session);
      await this.core
        .deleteNamespacedPod({ name: pod.name, namespace, gracePeriodSeconds: 5 })
        .catch(ignoreMissing);
    }
    for (const pvc of this.pvcs.list()) {
      if (!pvc.deleting && abandonedFill(pvc.name, pvc.labels, pvc.createdAt)) {
        await this.core
          .deleteNamespacedPersistentVolumeClaim({ name: pvc.name, namespace })
          .catch(ignoreMissing);
        continue;
      }
      const session = orphan(pvc.labels, pvc.createdAt);
      if (!session || pvc.deleting) continue;
      reclaimed.add(session);
      await this.core
        .deleteNamespacedPersistentVolumeClaim({ name: pvc.name, namespace })
        .catch(ignoreMissing);
    }
    const secrets = await this.core
      .listNamespacedSecret({ namespace, labelSelector: SESSION_SELECTOR })
      .catch(() => ({ items: [] }));
    for (const secret of secrets.items) {
      const created = secret.metadata?.creationTimestamp;
      const createdAt = created ? new Date(created).toISOString() : '';
      const labels = secret.metadata?.labels ?? {};
      const name = secret.metadata?.name;
      if (name && abandonedFill(name, labels, createdAt)) {
        await this.core
          .deleteNamespacedSecret({ name, namespace, propagationPolicy: 'Background' })
          .catch(ignoreMissing);
        continue;
      }
      const session = orphan(labels, createdAt);
      if (!session || !secret.metadata?.name) continue;
      reclaimed.add(session);
      await this.core
        .deleteNamespacedSecret({ name: secret.metadata.name, namespace, propagationPolicy: 'Background' })
        .catch(ignoreMissing);
    }
    if (abandonedFills.size > 0)
      this.logger.warn({ desktops: [...abandonedFills] }, 'deleted warm desktops whose fill never finished');
    return [...reclaimed];
  }
}
