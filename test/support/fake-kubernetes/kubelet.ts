// The simulated scheduler and kubelet of the FAKE cluster: binds PVCs to a local directory, schedules pods on
// one node of a given capacity (Unschedulable with the scheduler's message when they do not fit), "pulls" only
// the images it is told exist (ErrImagePull, then ImagePullBackOff), and runs a pod's container as a LOCAL
// process: the session agent, with the pod's environment (secretKeyRef resolved), its volume mounts mapped to
// directories, and its own loopback address as pod IP (127.64–191.x.y), so Xvnc and the control endpoint listen on
// the ports the pod spec declares. It reports phases, conditions and container states as a kubelet does, runs
// the readiness probe (tcpSocket), and OOM-kills on demand. When a pod's container ends or the pod goes, every
// process of the pod ends with it, as a real kubelet kills the pod's cgroup (see pod-processes.ts for how they
// are found without one). What it leaves out: image pulls (nothing is downloaded), real scheduling and
// networking, cgroups and resource limits.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, closeSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { POD_MARKER, killPodProcesses } from './pod-processes.ts';
import { parseQuantity } from './quantity.ts';
import type { FakeStore, KubeObject, StoredEvent } from './store.ts';

export interface FakeNode {
  name: string;
  cpuMillicores: number;
  memoryMiB: number;
  gpus: number;
  maxPods: number;
}

export interface FakeKubeletOptions {
  store: FakeStore;
  /** The session agent's entry point the "image" runs (session-agent/main.ts through tsx). */
  agentEntry: string;
  /** Images this node can pull; any other fails with ErrImagePull / ImagePullBackOff. */
  images: readonly string[];
  node?: Partial<FakeNode>;
  /** Volumes, emptyDirs and container logs live here. */
  dataDir: string;
  /** How often the readiness probe runs until the pod is ready (a real kubelet: periodSeconds). */
  probeIntervalMs?: number;
}

interface Container {
  child: ChildProcess;
  /** The pod's uid: every process of the container carries it in its environment (POD_MARKER). */
  uid: string;
  /** Process groups of the container: the agent's and, once it said so, the desktop's. */
  groups: Set<number>;
  ip: string;
  oomKilled: boolean;
  probe?: NodeJS.Timeout;
  startedAt: string;
  exited: Promise<void>;
  /** Set once the pod's processes are being killed (it ends them all, again until none is left). */
  killing?: Promise<void>;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    fieldRef?: { fieldPath: string };
  };
}

interface ContainerSpec {
  name: string;
  image: string;
  workingDir?: string;
  env?: EnvVar[];
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  readinessProbe?: { tcpSocket?: { port: number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

interface PodSpec {
  nodeName?: string;
  restartPolicy?: string;
  terminationGracePeriodSeconds?: number;
  containers: ContainerSpec[];
  volumes?: Array<{ name: string; persistentVolumeClaim?: { claimName: string }; emptyDir?: object }>;
}

interface PodStatus {
  phase?: string;
  podIP?: string;
  conditions?: Array<{
    type: string;
    status: string;
    reason?: string;
    message?: string;
    lastTransitionTime?: string;
  }>;
  containerStatuses?: Array<Record<string, unknown>>;
  [k: string]: unknown;
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const spec = (pod: KubeObject) => pod.spec as PodSpec;
const statusOf = (pod: KubeObject) => (pod.status ?? {}) as PodStatus;

function setCondition(
  status: PodStatus,
  type: string,
  value: boolean,
  reason?: string,
  message?: string,
): void {
  const conditions = (status.conditions ??= []);
  const existing = conditions.find((c) => c.type === type);
  const next = {
    type,
    status: value ? 'True' : 'False',
    lastTransitionTime: now(),
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  };
  if (existing && existing.status === next.status && existing.reason === next.reason) return;
  if (existing) Object.assign(existing, next);
  else conditions.push(next);
}

/** Initialized, but the container is not ready: what the kubelet reports while a pod starts or waits. */
function setUnready(status: PodStatus, containerName: string): void {
  const message = `containers with unready status: [${containerName}]`;
  setCondition(status, 'Initialized', true);
  setCondition(status, 'ContainersReady', false, 'ContainersNotReady', message);
  setCondition(status, 'Ready', false, 'ContainersNotReady', message);
}

export class FakeKubelet {
  private readonly store: FakeStore;
  readonly node: FakeNode;
  private readonly containers = new Map<string, Container>();
  private readonly unscheduled = new Set<string>();
  private nextIp = 2;
  private readonly ipBlock = ((64 + Math.floor(Math.random() * 128)) << 8) | Math.floor(Math.random() * 256);
  private off: (() => void) | undefined;
  private closed = false;
  /** The next container that starts is OOM-killed right away (a desktop that blows its memory limit). */
  oomKillNextStart = false;
  /**
   * The next container to pass its readiness probe is OOM-killed as it does: its main process is killed before
   * the pod is reported ready, so whoever sees it ready finds its agent gone.
   */
  oomKillWhenReady = false;
  /** Pods this kubelet has started a container for. */
  started = 0;

  constructor(private readonly options: FakeKubeletOptions) {
    this.store = options.store;
    this.node = {
      name: 'fake-node-1',
      cpuMillicores: 64_000,
      memoryMiB: 256 * 1024,
      gpus: 0,
      maxPods: 110,
      ...options.node,
    };
    mkdirSync(options.dataDir, { recursive: true });
  }

  start(): void {
    this.off = this.store.onChange((e) => setImmediate(() => this.onChange(e)));
  }

  private key(pod: KubeObject): string {
    return `${pod.metadata.namespace}/${pod.metadata.name}`;
  }

  private onChange(e: StoredEvent): void {
    if (this.closed) return;
    const { namespace = '', name = '' } = e.object.metadata;
    if (e.resource === 'persistentvolumeclaims' && e.type === 'ADDED') this.bind(namespace, name);
    if (e.resource === 'persistentvolumeclaims' && e.type === 'DELETED') {
      rmSync(this.volumeDir(e.object), { recursive: true, force: true });
    }
    if (e.resource !== 'pods') return;
    const current = this.store.peek('pods', namespace, name);
    if (e.type === 'ADDED' && current && !spec(current).nodeName) this.schedule(current);
    if (e.type === 'MODIFIED' && current?.metadata.deletionTimestamp) void this.terminate(current);
    if (e.type === 'DELETED') {
      this.unscheduled.delete(`${namespace}/${name}`);
      const c = this.containers.get(`${namespace}/${name}`);
      if (c) void this.killAll(c);
      // Freed capacity may fit a pod that did not fit before.
      for (const key of [...this.unscheduled]) {
        const [ns = '', n = ''] = key.split('/');
        const pending = this.store.peek('pods', ns, n);
        if (pending) this.schedule(pending);
      }
    }
  }

  private volumeDir(pvc: KubeObject): string {
    return join(
      this.options.dataDir,
      'volumes',
      `${pvc.metadata.namespace}-${pvc.metadata.name}-${pvc.metadata.uid}`,
    );
  }

  private bind(namespace: string, name: string): void {
    const pvc = this.store.peek('persistentvolumeclaims', namespace, name);
    if (!pvc) return;
    mkdirSync(this.volumeDir(pvc), { recursive: true });
    this.store.update('persistentvolumeclaims', namespace, name, (o) => {
      (o.spec as Record<string, unknown>).volumeName = `pvc-${o.metadata.uid}`;
      const storage = (o.spec as { resources?: { requests?: { storage?: string } } }).resources?.requests
        ?.storage;
      o.status = { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage } };
    });
  }

  event(
    pod: KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    component = 'kubelet',
  ): void {
    const { namespace = '', name = '', uid } = pod.metadata;
    try {
      this.store.create('events', namespace, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace, name, uid },
        reason,
        message,
        type,
        source: { component, ...(component === 'kubelet' ? { host: this.node.name } : {}) },
        firstTimestamp: now(),
        lastTimestamp: now(),
        count: 1,
      });
    } catch {
      // events are best effort, as in a real cluster
    }
  }

  private requests(pod: KubeObject): { cpu: number; memoryMiB: number; gpus: number } {
    let cpu = 0;
    let memory = 0;
    let gpus = 0;
    for (const c of spec(pod).containers) {
      const r = c.resources?.requests ?? {};
      const l = c.resources?.limits ?? {};
      cpu += (parseQuantity(r.cpu ?? l.cpu) ?? 0) * 1000;
      memory += (parseQuantity(r.memory ?? l.memory) ?? 0) / 2 ** 20;
      gpus += parseQuantity(l['nvidia.com/gpu'] ?? r['nvidia.com/gpu']) ?? 0;
    }
    return { cpu, memoryMiB: memory, gpus };
  }

  private schedule(pod: KubeObject): void {
    const want = this.requests(pod);
    const others = this.store
      .list('pods', undefined)
      .filter(
        (p) =>
          spec(p).nodeName === this.node.name && !['Failed', 'Succeeded'].includes(statusOf(p).phase ?? ''),
      );
    const used = others
      .map((p) => this.requests(p))
      .reduce(
        (a, b) => ({ cpu: a.cpu + b.cpu, memoryMiB: a.memoryMiB + b.memoryMiB, gpus: a.gpus + b.gpus }),
        { cpu: 0, memoryMiB: 0, gpus: 0 },
      );
    const insufficient: string[] = [];
    if (used.cpu + want.cpu > this.node.cpuMillicores) insufficient.push('Insufficient cpu');
    if (used.memoryMiB + want.memoryMiB > this.node.memoryMiB) insufficient.push('Insufficient memory');
    if (used.gpus + want.gpus > this.node.gpus) insufficient.push('Insufficient nvidia.com/gpu');
    if (others.length + 1 > this.node.maxPods) insufficient.push('Too many pods');
    const { namespace = '', name = '' } = pod.metadata;
    if (insufficient.length > 0) {
      const message = `0/1 nodes are available: ${insufficient.map((i) => `1 ${i}`).join(', ')}. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.`;
      const first = !this.unscheduled.has(this.key(pod));
      this.unscheduled.add(this.key(pod));
      this.store.update('pods', namespace, name, (o) => {
        const status = statusOf(o);
        status.phase = 'Pending';
        setCondition(status, 'PodScheduled', false, 'Unschedulable', message);
        o.status = status;
      });
      if (first) this.event(pod, 'Warning', 'FailedScheduling', message, 'default-scheduler');
      return;
    }
    this.unscheduled.delete(this.key(pod));
    this.store.update('pods', namespace, name, (o) => {
      spec(o).nodeName = this.node.name;
      const status = statusOf(o);
      setCondition(status, 'PodScheduled', true);
      o.status = status;
    });
    this.event(
      pod,
      'Normal',
      'Scheduled',
      `Successfully assigned ${namespace}/${name} to ${this.node.name}`,
      'default-scheduler',
    );
    void this.run(namespace, name);
  }

  private waiting(
    namespace: string,
    name: string,
    container: ContainerSpec,
    reason: string,
    message: string,
  ): void {
    this.store.update('pods', namespace, name, (o) => {
      const status = statusOf(o);
      status.phase = 'Pending';
      setUnready(status, container.name);
      status.containerStatuses = [
        {
          name: container.name,
          image: container.image,
          imageID: '',
          ready: false,
          restartCount: 0,
          started: false,
          state: { waiting: { reason, message } },
        },
      ];
      o.status = status;
    });
  }

  /**
   * The next pod IP: a loopback address in a block picked at random per kubelet, so fake clusters of test runs
   * that happen at the same time on one machine do not hand out the same address (and ports 5900/8090 on it).
   */
  private allocateIp(): string {
    const n = this.nextIp++;
    return `127.${this.ipBlock >> 8}.${(this.ipBlock & 255) ^ ((n >> 8) & 255)}.${n & 255 || 1}`;
  }

  private async run(namespace: string, name: string): Promise<void> {
    const pod = this.store.peek('pods', namespace, name);
    if (!pod) return;
    const container = spec(pod).containers[0];
    if (!container) return;
    if (!this.options.images.includes(container.image)) {
      const message = `failed to pull and unpack image "${container.image}": failed to resolve reference "${container.image}": not found`;
      this.event(pod, 'Normal', 'Pulling', `Pulling image "${container.image}"`);
      this.waiting(namespace, name, container, 'ErrImagePull', message);
      this.event(
        pod,
        'Warning',
        'Failed',
        `Failed to pull image "${container.image}": rpc error: code = NotFound desc = ${message}`,
      );
      setTimeout(() => {
        if (!this.store.peek('pods', namespace, name) || this.closed) return;
        this.waiting(
          namespace,
          name,
          container,
          'ImagePullBackOff',
          `Back-off pulling image "${container.image}"`,
        );
        this.event(pod, 'Warning', 'Failed', 'Error: ImagePullBackOff');
      }, 150);
      return;
    }
    this.event(pod, 'Normal', 'Pulled', `Container image "${container.image}" already present on machine`);

    const ip = this.allocateIp();
    const podDir = join(this.options.dataDir, 'pods', pod.metadata.uid ?? name);
    const mounts = new Map<string, string>();
    for (const m of container.volumeMounts ?? []) {
      const volume = spec(pod).volumes?.find((v) => v.name === m.name);
      let host: string | undefined;
      if (volume?.persistentVolumeClaim) {
        const pvc = this.store.peek(
          'persistentvolumeclaims',
          namespace,
          volume.persistentVolumeClaim.claimName,
        );
        if (pvc) host = this.volumeDir(pvc);
      } else if (volume?.emptyDir) {
        host = join(podDir, 'volumes', m.name);
      }
      if (!host) {
        const message = `persistentvolumeclaim "${volume?.persistentVolumeClaim?.claimName ?? m.name}" not found`;
        this.waiting(namespace, name, container, 'CreateContainerConfigError', message);
        this.event(pod, 'Warning', 'FailedMount', message);
        return;
      }
      mkdirSync(host, { recursive: true });
      mounts.set(m.mountPath, host);
    }
    // Paths inside the "container" are mapped onto the directories mounted there (longest mount first).
    const translate = (path: string): string => {
      const mount = [...mounts.keys()]
        .sort((a, b) => b.length - a.length)
        .find((p) => path === p || path.startsWith(`${p}/`));
      return mount ? (mounts.get(mount) ?? path) + path.slice(mount.length) : path;
    };
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LANG: 'C.UTF-8',
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
    };
    for (const v of container.env ?? []) {
      if (v.value !== undefined) env[v.name] = v.value.startsWith('/') ? translate(v.value) : v.value;
      else if (v.valueFrom?.secretKeyRef) {
        const ref = v.valueFrom.secretKeyRef;
        const secret = this.store.peek('secrets', namespace, ref.name);
        const data = (secret?.data as Record<string, string> | undefined)?.[ref.key];
        if (data === undefined) {
          const message = secret
            ? `couldn't find key ${ref.key} in Secret ${namespace}/${ref.name}`
            : `secret "${ref.name}" not found`;
          this.waiting(namespace, name, container, 'CreateContainerConfigError', message);
          this.event(pod, 'Warning', 'Failed', `Error: ${message}`);
          return;
        }
        env[v.name] = Buffer.from(data, 'base64').toString('utf8');
      } else if (v.valueFrom?.fieldRef?.fieldPath === 'status.podIP') env[v.name] = ip;
      else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[v.name] = name;
    }
    // The one thing a real node gives a pod that this one must say: its own address to listen on.
    env.AGENT_BIND_ADDRESS = ip;
    // What a cgroup would do: mark every process of the pod, so that all of them can be ended with it.
    env[POD_MARKER] = pod.metadata.uid ?? name;
    const cwd = container.workingDir ? translate(container.workingDir) : join(podDir, 'rootfs');
    mkdirSync(cwd, { recursive: true });
    const logFile = join(podDir, `${container.name}.log`);
    mkdirSync(podDir, { recursive: true });
    const logFd = openSync(logFile, 'a');
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), this.options.agentEntry], {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', logFd],
    });
    closeSync(logFd);
    if (child.pid === undefined) {
      this.waiting(
        namespace,
        name,
        container,
        'RunContainerError',
        'the container process could not be started',
      );
      return;
    }
    this.started++;
    const c: Container = {
      child,
      uid: pod.metadata.uid ?? name,
      groups: new Set([child.pid]),
      ip,
      oomKilled: false,
      startedAt: now(),
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    };
    this.containers.set(`${namespace}/${name}`, c);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"desktopPgid":(\d+)/.exec(out);
      if (m) c.groups.add(Number(m[1]));
    });
    child.once('exit', (code, signal) => this.exited(namespace, name, container, c, code, signal));
    this.store.update('pods', namespace, name, (o) => {
      const status = statusOf(o);
      status.phase = 'Running';
      status.podIP = ip;
      status.podIPs = [{ ip }];
      status.hostIP = '127.0.0.1';
      status.startTime = c.startedAt;
      setUnready(status, container.name);
      status.containerStatuses = [
        {
          name: container.name,
          image: container.image,
          imageID: `fake://${container.image}`,
          containerID: `fake://${child.pid}`,
          ready: false,
          restartCount: 0,
          started: true,
          state: { running: { startedAt: c.startedAt } },
        },
      ];
      o.status = status;
    });
    this.event(pod, 'Normal', 'Created', `Created container ${container.name}`);
    this.event(pod, 'Normal', 'Started', `Started container ${container.name}`);
    if (this.oomKillNextStart) {
      this.oomKillNextStart = false;
      setTimeout(() => this.oomKill(namespace, name), 100);
    }
    const port = container.readinessProbe?.tcpSocket?.port;
    if (port) this.probe(namespace, name, container, c, port);
    else this.setReady(namespace, name, container.name, true);
  }

  private probe(namespace: string, name: string, container: ContainerSpec, c: Container, port: number): void {
    let ready = false;
    const tick = (): void => {
      const socket = connect({ host: c.ip, port });
      const done = (ok: boolean): void => {
        socket.destroy();
        if (this.closed || !this.containers.has(`${namespace}/${name}`)) return;
        if (ok !== ready) {
          ready = ok;
          if (ok && this.oomKillWhenReady) {
            this.oomKillWhenReady = false;
            c.oomKilled = true;
            c.child.kill('SIGKILL');
            this.setReady(namespace, name, container.name, true);
            this.oomKill(namespace, name);
            return;
          }
          this.setReady(namespace, name, container.name, ok);
        }
        c.probe = setTimeout(tick, ready ? 1000 : (this.options.probeIntervalMs ?? 100));
      };
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
      socket.setTimeout(1000, () => done(false));
    };
    tick();
  }

  private setReady(namespace: string, name: string, containerName: string, ready: boolean): void {
    this.store.update('pods', namespace, name, (o) => {
      const status = statusOf(o);
      if (status.phase !== 'Running') return;
      const why = ready ? undefined : 'ContainersNotReady';
      const message = ready ? undefined : `containers with unready status: [${containerName}]`;
      setCondition(status, 'ContainersReady', ready, why, message);
      setCondition(status, 'Ready', ready, why, message);
      for (const cs of status.containerStatuses ?? []) cs.ready = ready;
      o.status = status;
    });
  }

  /** Ends every process of the pod's container, whichever group or session it is in. */
  private killAll(c: Container): Promise<void> {
    c.killing ??= killPodProcesses(c.uid, c.groups).then(
      () => undefined,
      () => undefined,
    );
    return c.killing;
  }

  private exited(
    namespace: string,
    name: string,
    container: ContainerSpec,
    c: Container,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    clearTimeout(c.probe);
    void this.killAll(c); // the container's other processes end with its first one
    this.containers.delete(`${namespace}/${name}`);
    const pod = this.store.peek('pods', namespace, name);
    if (!pod || this.closed) return;
    const exitCode = c.oomKilled ? 137 : (code ?? (signal === 'SIGKILL' ? 137 : 143));
    const reason = c.oomKilled ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
    this.store.update('pods', namespace, name, (o) => {
      const status = statusOf(o);
      status.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
      setCondition(status, 'ContainersReady', false, 'PodCompleted');
      setCondition(status, 'Ready', false, 'PodCompleted');
      status.containerStatuses = [
        {
          name: container.name,
          image: container.image,
          imageID: `fake://${container.image}`,
          ready: false,
          restartCount: 0,
          started: false,
          state: { terminated: { exitCode, reason, startedAt: c.startedAt, finishedAt: now() } },
        },
      ];
      o.status = status;
    });
    if (pod.metadata.deletionTimestamp) {
      try {
        this.store.remove('pods', namespace, name);
      } catch {
        // already removed
      }
    }
  }

  /** A graceful stop for a pod being deleted: SIGTERM, then SIGKILL after the grace period; then it is removed. */
  private async terminate(pod: KubeObject): Promise<void> {
    const { namespace = '', name = '' } = pod.metadata;
    const c = this.containers.get(`${namespace}/${name}`);
    if (!c) {
      if (this.store.peek('pods', namespace, name)) this.store.remove('pods', namespace, name);
      return;
    }
    if (c.child.exitCode !== null || c.child.signalCode !== null) return;
    this.event(pod, 'Normal', 'Killing', `Stopping container ${spec(pod).containers[0]?.name ?? ''}`);
    c.child.kill('SIGTERM');
    const grace = (pod.metadata.deletionGracePeriodSeconds ?? 30) * 1000;
    const timer = setTimeout(() => void this.killAll(c), grace);
    await c.exited;
    clearTimeout(timer);
  }

  /** Kills the pod's container as the kernel's OOM killer would: SIGKILL, reason OOMKilled, exit code 137. */
  oomKill(namespace: string, name: string): boolean {
    const c = this.containers.get(`${namespace}/${name}`);
    if (!c) return false;
    c.oomKilled = true;
    const pod = this.store.peek('pods', namespace, name);
    if (pod)
      this.event(
        pod,
        'Warning',
        'OOMKilling',
        `Memory cgroup out of memory: Killed process ${c.child.pid} (node)`,
      );
    void this.killAll(c);
    return true;
  }

  /** The local process running a pod's container (for tests that look at it). */
  containerPid(namespace: string, name: string): number | undefined {
    return this.containers.get(`${namespace}/${name}`)?.child.pid;
  }

  /** Ends every container (SIGKILL) and stops following the store. */
  async close(): Promise<void> {
    this.closed = true;
    this.off?.();
    const all = [...this.containers.values()];
    for (const c of all) clearTimeout(c.probe);
    await Promise.all(all.map((c) => this.killAll(c)));
    await Promise.all(all.map((c) => c.exited));
    this.containers.clear();
  }
}
