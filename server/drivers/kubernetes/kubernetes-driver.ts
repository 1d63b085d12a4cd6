/**
 * Kubernetes driver: one pod per lab in one namespace, created from its template (warm), claimed
 * for a learner by labels, a Secret and files written through exec; terminals and checks through
 * the API server's exec (v5.channel.k8s.io), services through their pod's Service.
 *
 * One shared list+watch (informer) per kind for every lab of the deployment: pods (selected by the
 * deployment's labels) and the namespace's pod events (progress, as KubeSpawner's progress()).
 * Provisioning waits on the pod informer, never by polling; list() and culling read its cache.
 *
 * Expiry: a pod's `activeDeadlineSeconds` can only be lowered once set, so it is the backstop
 * (the kubelet ends the pod even when no lab server runs): set at provision to the longest warm
 * wait plus the longest lab lifetime, lowered at claim to claim time plus that lifetime. The
 * lab's real expiry is its `atelier.dev/expires` label (epoch seconds), which claim and update()
 * patch and which every replica's culling acts on: deleting an already deleted pod is fine, and
 * a delete carries the uid and resourceVersion the cull decided on, so a pod extended meanwhile
 * by another replica is not deleted. A warm pod's expiry is a lease that the replica holding it
 * renews: the warm pods of a replica that died are culled once their lease passes.
 */
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  ListWatch,
  NetworkingV1Api,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type CoreV1Event,
  type KubernetesObject,
  type V1Pod,
} from '@kubernetes/client-node';
// The exec WebSocket's own framing (channels), which the package's index does not export.
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js';
import type {
  Driver,
  EnforcedLimits,
  ExecResult,
  LabClaim,
  LabHandle,
  LabTemplate,
  LabTerminal,
  LabUsage,
  ProgressEvent,
  ServiceSpec,
  ServiceState,
  Subscription,
  TerminalSize,
} from '../driver.ts';
import {
  CLAIM_SCRIPT,
  CONTAINER,
  SERVICE_ALIVE_SCRIPT,
  SERVICE_LAUNCHER,
  SERVICE_STOP_SCRIPT,
  servicePidFile,
  WRITE_DEFAULT_SCRIPT,
  base64Line,
  LABEL,
  SERVICE_PORTS,
  checkDeployment,
  claimLabels,
  claimPayload,
  envFile,
  envSecret,
  execArgv,
  labPod,
  labSelector,
  labService,
  labsNetworkPolicy,
  parseQuantity,
  podName,
  selectorString,
  shellArgv,
  toolsConfigMap,
  type NetworkPolicyOptions,
} from './manifests.ts';

export class KubernetesDriverError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'KubernetesDriverError';
  }
}

export interface KubernetesDriverOptions {
  /** Where labs run (ATELIER_KUBE_NAMESPACE). */
  namespace: string;
  /** The labs' image unless a template names its own (ATELIER_LAB_IMAGE). */
  image: string;
  /** This installation's name: its labs' label; list() and culling see no other (ATELIER_DEPLOYMENT). */
  deployment: string;
  /** Defaults to the in-cluster service account, else $KUBECONFIG or ~/.kube/config. */
  kubeConfig?: KubeConfig;
  /** How labs reach the lab server's forge and S3: its Service's host name and port. */
  gateway?: { host: string; port?: number };
  /**
   * The labs' NetworkPolicy, made at the first provision (the lab server's pods, DNS, extra
   * ranges). Without it the driver makes none (the chart may ship its own).
   */
  networkPolicy?: Omit<NetworkPolicyOptions, 'namespace' | 'deployment'>;
  /** Longest lab lifetime, extensions included (ATELIER_MAX_LIFETIME): the claimed pod's deadline. */
  maxLifetimeMs?: number;
  /**
   * A warm pod's expiry is a lease its replica renews while it keeps the pod for a learner: once
   * that replica is gone, culling takes the pod after this long (default 15 min).
   */
  warmLeaseMs?: number;
  /** The longest a warm pod waits for its learner (its deadline before a claim; default 7 days). */
  warmMaxAgeMs?: number;
  /** Longest wait for a pod to run (default 5 min: a first image pull on a node takes long). */
  startTimeoutMs?: number;
  /** Default exec timeout (default 30 s). */
  execTimeoutMs?: number;
  /** How often expired labs are culled (default 30 s; 0: never, cull() only). */
  cullIntervalMs?: number;
  readOnlyRootFilesystem?: boolean;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  nodeSelector?: Record<string, string>;
  /** The labs' service account (ATELIER_LAB_SERVICE_ACCOUNT), for its image pull secrets. */
  serviceAccountName?: string;
}

/** What a handle carries (LabHandle.state): enough for any replica to find the pod. */
interface PodState {
  namespace: string;
  pod: string;
  uid: string;
  workspace: string;
  cpu: number;
  memory: number;
}

/** The backend's own progress steps (i18n keys under `progress.`). */
const STEP = { pending: 5, scheduled: 25, pulling: 45, started: 85, waiting: -1, ready: 100 } as const;
type Step = keyof typeof STEP;

/** Event reasons (kubelet, scheduler) → step. Warnings not listed here report `waiting`. */
const EVENT_STEPS: Record<string, Step> = { Scheduled: 'scheduled', Pulling: 'pulling', Pulled: 'pulling', Created: 'started', Started: 'started' };

const OUTPUT_CAP = 64 * 1024;
const LIMITS: EnforcedLimits = { memory: true, cpu: true, disk: true, pids: false, mechanisms: ['kubernetes'] };
const ANNOTATION = { labId: 'atelier.dev/lab-id', sessionId: 'atelier.dev/session-id' } as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const statusCode = (e: unknown): number | undefined => (e as { code?: unknown }).code as number | undefined;
const ignore = (...codes: number[]) => (e: unknown) => {
  if (!codes.includes(statusCode(e) ?? 0)) throw e;
};

function stateOf(handle: LabHandle): PodState {
  const s = handle.state as Partial<PodState> | null;
  if (!s || typeof s !== 'object' || typeof s.pod !== 'string' || typeof s.namespace !== 'string' || typeof s.uid !== 'string') {
    throw new KubernetesDriverError('bad_handle', 'not a Kubernetes lab handle');
  }
  return s as PodState;
}

/** A shared list+watch that starts on first use and restarts after errors until closed. */
class SharedInformer<T extends KubernetesObject> {
  readonly cache: ListWatch<T>;
  #started: Promise<void> | undefined;
  #closed = false;
  constructor(cache: ListWatch<T>) {
    this.cache = cache;
    cache.on('error', () => {
      if (this.#closed) return;
      setTimeout(() => {
        if (!this.#closed) void cache.start().catch(() => {});
      }, 1000).unref();
    });
  }
  start(): Promise<void> {
    // A first list that failed (the API server unreachable) is tried again by the next caller.
    this.#started ??= this.cache.start().catch((error: unknown) => {
      this.#started = undefined;
      throw error;
    });
    return this.#started;
  }
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#started) await this.cache.stop();
  }
}

type WebSocket = Awaited<ReturnType<WebSocketHandler['connect']>>;

interface Exchange {
  ws: WebSocket;
  /** Resolves with the exit code once the command ends (null: the stream ended without a status). */
  exit: Promise<number | null>;
}

export class KubernetesDriver implements Driver {
  readonly name = 'kubernetes';
  readonly #o: Required<Omit<KubernetesDriverOptions, 'kubeConfig' | 'gateway' | 'networkPolicy' | 'nodeSelector' | 'serviceAccountName'>> &
    Pick<KubernetesDriverOptions, 'gateway' | 'networkPolicy' | 'nodeSelector' | 'serviceAccountName'>;
  readonly #kc: KubeConfig;
  readonly #core: CoreV1Api;
  readonly #pods: SharedInformer<V1Pod>;
  readonly #events: SharedInformer<CoreV1Event>;
  readonly #ensured = new Map<string, Promise<void>>();
  #cullTimer: NodeJS.Timeout | undefined;
  /** Warm pods this process provisioned and has not handed out: their leases are renewed here. */
  readonly #leases = new Map<string, PodState>();

  constructor(options: KubernetesDriverOptions) {
    this.#o = {
      namespace: options.namespace,
      image: options.image,
      deployment: checkDeployment(options.deployment),
      maxLifetimeMs: options.maxLifetimeMs ?? 8 * 3600_000,
      warmLeaseMs: options.warmLeaseMs ?? 15 * 60_000,
      warmMaxAgeMs: options.warmMaxAgeMs ?? 7 * 24 * 3600_000,
      startTimeoutMs: options.startTimeoutMs ?? 300_000,
      execTimeoutMs: options.execTimeoutMs ?? 30_000,
      cullIntervalMs: options.cullIntervalMs ?? 30_000,
      readOnlyRootFilesystem: options.readOnlyRootFilesystem ?? true,
      imagePullPolicy: options.imagePullPolicy ?? 'IfNotPresent',
      gateway: options.gateway,
      networkPolicy: options.networkPolicy,
      nodeSelector: options.nodeSelector,
      serviceAccountName: options.serviceAccountName,
    };
    this.#kc = options.kubeConfig ?? (() => {
      const kc = new KubeConfig();
      kc.loadFromDefault();
      return kc;
    })();
    this.#core = this.#kc.makeApiClient(CoreV1Api);
    const ns = this.#o.namespace;
    const selector = selectorString(labSelector(this.#o.deployment));
    const watch = new Watch(this.#kc);
    this.#pods = new SharedInformer(
      new ListWatch<V1Pod>(`/api/v1/namespaces/${ns}/pods`, watch, () => this.#core.listNamespacedPod({ namespace: ns, labelSelector: selector }), false, selector),
    );
    const podEvents = 'involvedObject.kind=Pod';
    this.#events = new SharedInformer(
      new ListWatch<CoreV1Event>(`/api/v1/namespaces/${ns}/events`, watch, () => this.#core.listNamespacedEvent({ namespace: ns, fieldSelector: podEvents }), false, undefined, podEvents),
    );
  }

  /** The informers' first list, and the culling timer: once, on first use. */
  async #ready(): Promise<void> {
    await Promise.all([this.#pods.start(), this.#events.start()]);
    if (this.#o.cullIntervalMs > 0 && !this.#cullTimer) {
      this.#cullTimer = setInterval(() => void this.renewLeases().then(() => this.cull()).catch(() => {}), this.#o.cullIntervalMs);
      this.#cullTimer.unref();
    }
  }

  /** Creates an object once per process; one that already exists is fine. */
  #ensure(key: string, create: () => Promise<unknown>): Promise<void> {
    let done = this.#ensured.get(key);
    if (!done) {
      done = create().then(() => undefined, ignore(409));
      done.catch(() => this.#ensured.delete(key));
      this.#ensured.set(key, done);
    }
    return done;
  }

  gatewayOrigin(serverPort: number): string {
    if (!this.#o.gateway) throw new KubernetesDriverError('no_gateway', 'the Kubernetes driver needs the lab server\'s Service host (gateway)');
    return `http://${this.#o.gateway.host}:${this.#o.gateway.port ?? serverPort}`;
  }

  async provision(template: LabTemplate, onProgress: (event: ProgressEvent) => void = () => {}): Promise<LabHandle> {
    await this.#ready();
    const ns = this.#o.namespace;
    const { deployment } = this.#o;
    const policy = this.#o.networkPolicy;
    if (policy) {
      const body = labsNetworkPolicy({ ...policy, namespace: ns, deployment });
      const api = this.#kc.makeApiClient(NetworkingV1Api);
      // Replaced when it exists: a new configuration (another server port, ranges) takes effect.
      await this.#ensure(`policy/${JSON.stringify(body)}`, () =>
        api.createNamespacedNetworkPolicy({ namespace: ns, body }).catch(async (e: unknown) => {
          if (statusCode(e) !== 409) throw e;
          await api.replaceNamespacedNetworkPolicy({ name: body.metadata!.name!, namespace: ns, body });
        }),
      );
    }
    let toolsName: string | undefined;
    if (template.tools && Object.keys(template.tools).length) {
      const body = toolsConfigMap(template.tools, { namespace: ns, deployment });
      toolsName = body.metadata!.name!;
      await this.#ensure(`tools/${toolsName}`, () => this.#core.createNamespacedConfigMap({ namespace: ns, body }));
    }
    const name = podName(template.labId);
    const now = Date.now();
    const body = labPod(template, {
      name,
      namespace: ns,
      deployment,
      image: template.image ?? this.#o.image,
      expiresAt: Math.ceil((now + this.#o.warmLeaseMs) / 1000),
      activeDeadlineSeconds: Math.ceil((this.#o.warmMaxAgeMs + this.#o.maxLifetimeMs) / 1000),
      readOnlyRootFilesystem: this.#o.readOnlyRootFilesystem,
      imagePullPolicy: this.#o.imagePullPolicy,
      ...(toolsName ? { toolsConfigMap: toolsName } : {}),
      ...(this.#o.nodeSelector ? { nodeSelector: this.#o.nodeSelector } : {}),
      ...(this.#o.serviceAccountName ? { serviceAccountName: this.#o.serviceAccountName } : {}),
    });
    body.metadata!.annotations = { [ANNOTATION.labId]: template.labId };
    let created: V1Pod;
    try {
      created = await this.#core.createNamespacedPod({ namespace: ns, body });
    } catch (e) {
      throw new KubernetesDriverError('start_failed', `the cluster refused the lab's pod: ${apiMessage(e)}`);
    }
    const uid = created.metadata!.uid!;
    onProgress({ step: 'pending', percent: STEP.pending });
    try {
      await this.#waitRunning(name, uid, onProgress);
    } catch (e) {
      await this.#delete(name, { uid }).catch(() => {});
      throw e;
    }
    onProgress({ step: 'ready', percent: STEP.ready });
    const state: PodState = {
      namespace: ns,
      pod: name,
      uid,
      workspace: template.workspace,
      cpu: template.resources.cpu,
      memory: template.resources.memory,
    };
    this.#leases.set(name, state);
    return { id: name, labId: template.labId, limits: LIMITS, state: { ...state } };
  }

  /**
   * Moves the expiry of the warm pods this process holds to a lease from now, once half of their
   * lease has passed (run with culling; a pod claimed meanwhile by another replica is left alone).
   */
  async renewLeases(now: number = Date.now()): Promise<void> {
    const until = String(Math.ceil((now + this.#o.warmLeaseMs) / 1000));
    for (const [name, s] of this.#leases) {
      const pod = this.#pods.cache.get(name, s.namespace);
      if (!pod || pod.metadata?.uid !== s.uid) {
        this.#leases.delete(name);
        continue;
      }
      if (Number(pod.metadata?.labels?.[LABEL.expires]) * 1000 > now + this.#o.warmLeaseMs / 2) continue;
      const patch = [
        { op: 'test', path: '/metadata/uid', value: s.uid },
        { op: 'test', path: `/metadata/labels/${escapePointer(LABEL.pool)}`, value: 'warm' },
        { op: 'replace', path: `/metadata/labels/${escapePointer(LABEL.expires)}`, value: until },
      ];
      await this.#core
        .patchNamespacedPod({ name, namespace: s.namespace, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch))
        .catch(() => this.#leases.delete(name));
    }
  }

  /** Resolves once the pod runs; reports its conditions and events as progress on the way. */
  #waitRunning(name: string, uid: string, onProgress: (event: ProgressEvent) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      let percent: number = STEP.pending;
      let lastKey = 'pending';
      const seenEvents = new Set<string>();
      const report = (step: Step, message?: string) => {
        const key = `${step}\0${message ?? ''}`;
        if (key === lastKey) return;
        lastKey = key;
        if (STEP[step] > percent) percent = STEP[step];
        onProgress({ step, percent, ...(message ? { message } : {}) });
      };
      const onEvent = (event: CoreV1Event) => {
        if (event.involvedObject?.uid !== uid || seenEvents.has(event.metadata?.uid ?? '')) return;
        seenEvents.add(event.metadata?.uid ?? '');
        const reason = event.reason ?? '';
        const step = EVENT_STEPS[reason] ?? (event.type === 'Warning' ? 'waiting' : undefined);
        if (step) report(step, event.message);
      };
      const onPod = (pod: V1Pod) => {
        if (pod.metadata?.uid !== uid) return;
        const phase = pod.status?.phase;
        const container = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
        if (pod.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'True')) report('scheduled');
        const waiting = container?.state?.waiting;
        if (waiting?.reason && waiting.reason !== 'ContainerCreating') report('waiting', `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`);
        if (phase === 'Running' && container?.state?.running) finish();
        else if (phase === 'Failed' || phase === 'Succeeded' || container?.state?.terminated) {
          const t = container?.state?.terminated;
          finish(new KubernetesDriverError('start_failed', `the lab's pod ended before it ran: ${t?.reason ?? pod.status?.reason ?? phase}${t?.message ? `: ${t.message}` : ''}`));
        }
      };
      const onDelete = (pod: V1Pod) => {
        if (pod.metadata?.uid === uid) finish(new KubernetesDriverError('start_failed', 'the lab\'s pod was deleted while it started'));
      };
      const timer = setTimeout(() => {
        finish(new KubernetesDriverError('start_timeout', `the lab's pod did not run within ${this.#o.startTimeoutMs} ms${lastKey.includes('\0') ? ` (${lastKey.replace('\0', ': ')})` : ''}`));
      }, this.#o.startTimeoutMs);
      let finished = false;
      const finish = (error?: Error) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.#pods.cache.off('add', onPod);
        this.#pods.cache.off('update', onPod);
        this.#pods.cache.off('delete', onDelete);
        this.#events.cache.off('add', onEvent);
        this.#events.cache.off('update', onEvent);
        if (error) reject(error);
        else resolve();
      };
      this.#pods.cache.on('add', onPod);
      this.#pods.cache.on('update', onPod);
      this.#pods.cache.on('delete', onDelete);
      this.#events.cache.on('add', onEvent);
      this.#events.cache.on('update', onEvent);
      // What the informers saw before these listeners.
      for (const event of this.#events.cache.list(this.#o.namespace)) onEvent(event);
      const current = this.#pods.cache.get(name, this.#o.namespace);
      if (current) onPod(current);
    });
  }

  async claim(handle: LabHandle, claim: LabClaim): Promise<LabHandle> {
    const s = stateOf(handle);
    const pod = this.#pods.cache.get(s.pod, s.namespace) ?? (await this.#core.readNamespacedPod({ name: s.pod, namespace: s.namespace }));
    if (pod.metadata?.uid !== s.uid) throw new KubernetesDriverError('not_running', 'the lab\'s pod is gone');
    // The deadline counts from the pod's start and may only go down: the claim's lifetime cap.
    const started = Date.parse(String(pod.status?.startTime ?? '')) || Date.now();
    const deadline = Math.ceil((Date.now() - started + this.#o.maxLifetimeMs) / 1000);
    const labels = claimLabels(claim);
    const escape = escapePointer;
    // One JSON patch, atomic on the API server: it fails unless the pod is still warm, so two
    // replicas never hand the same pod to two learners.
    const patch = [
      { op: 'test', path: `/metadata/uid`, value: s.uid },
      { op: 'test', path: `/metadata/labels/${escape(LABEL.pool)}`, value: 'warm' },
      ...Object.entries(labels).map(([k, v]) => ({ op: 'add', path: `/metadata/labels/${escape(k)}`, value: v })),
      { op: 'add', path: `/metadata/annotations/${escape(ANNOTATION.sessionId)}`, value: claim.sessionId },
      ...(deadline < (pod.spec?.activeDeadlineSeconds ?? Infinity) ? [{ op: 'replace', path: '/spec/activeDeadlineSeconds', value: deadline }] : []),
    ];
    try {
      await this.#core.patchNamespacedPod({ name: s.pod, namespace: s.namespace, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
    } catch (e) {
      this.#leases.delete(s.pod);
      if (statusCode(e) === 422 || statusCode(e) === 404) throw new KubernetesDriverError('claim_failed', `the lab's pod cannot be claimed (already claimed or gone): ${apiMessage(e)}`);
      throw e;
    }
    this.#leases.delete(s.pod);
    // The pod is this claim's now: its Secret and its files at once.
    const [, written] = await Promise.all([
      this.#core.createNamespacedSecret({
        namespace: s.namespace,
        body: envSecret(claim.env, { pod: { name: s.pod, uid: s.uid }, namespace: s.namespace, deployment: this.#o.deployment }),
      }),
      // Run in the container's working directory, the home, where the script's paths are.
      this.#run(s, timed(['/bin/sh', '-c', CLAIM_SCRIPT], this.#o.execTimeoutMs), {
        stdin: claimPayload(claim.env, claim.homeFiles),
        timeoutMs: this.#o.execTimeoutMs,
      }),
    ]);
    if (written.code !== 0) throw new KubernetesDriverError('claim_failed', `cannot write the learner's files in the lab: ${written.stderr.trim().slice(0, 500)}`);
    return { id: handle.id, labId: handle.labId, sessionId: claim.sessionId, limits: handle.limits, state: { ...s } };
  }

  async update(handle: LabHandle, change: { expiresAt: number }): Promise<void> {
    const s = stateOf(handle);
    await this.#core.patchNamespacedPod(
      { name: s.pod, namespace: s.namespace, body: { metadata: { labels: { [LABEL.expires]: String(Math.ceil(change.expiresAt / 1000)) } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  /** Deletes a pod; one already gone, or replaced by another of the same name, is fine. */
  async #delete(name: string, preconditions: { uid: string; resourceVersion?: string }): Promise<void> {
    await this.#core
      .deleteNamespacedPod({ name, namespace: this.#o.namespace, body: { preconditions, propagationPolicy: 'Background' } })
      .then(() => undefined, ignore(404, 409));
  }

  async stop(handle: LabHandle): Promise<void> {
    const s = stateOf(handle);
    this.#leases.delete(s.pod);
    await this.#ready();
    const gone = this.#gone(s.pod, s.uid, 30_000);
    await this.#delete(s.pod, { uid: s.uid });
    await gone;
  }

  /** Resolves once the informer no longer has the pod (or after timeoutMs: the kubelet finishes it). */
  #gone(name: string, uid: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const current = () => this.#pods.cache.get(name, this.#o.namespace);
      if (current()?.metadata?.uid !== uid) return resolve();
      const onDelete = (pod: V1Pod) => {
        if (pod.metadata?.uid === uid) done();
      };
      const timer = setTimeout(() => done(), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#pods.cache.off('delete', onDelete);
        resolve();
      };
      this.#pods.cache.on('delete', onDelete);
    });
  }

  async poll(handle: LabHandle): Promise<boolean> {
    await this.#ready();
    const s = stateOf(handle);
    const pod = this.#pods.cache.get(s.pod, s.namespace);
    return pod?.metadata?.uid === s.uid && !pod.metadata?.deletionTimestamp && (pod.status?.phase === 'Running' || pod.status?.phase === 'Pending');
  }

  async list(): Promise<LabHandle[]> {
    await this.#ready();
    return this.#pods.cache
      .list(this.#o.namespace)
      .filter((pod) => !pod.metadata?.deletionTimestamp && (pod.status?.phase === 'Running' || pod.status?.phase === 'Pending'))
      .map((pod) => this.#handleOf(pod));
  }

  #handleOf(pod: V1Pod): LabHandle {
    const container = pod.spec?.containers.find((c) => c.name === CONTAINER);
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? '']));
    const limits = container?.resources?.limits ?? {};
    const sessionId = pod.metadata?.annotations?.[ANNOTATION.sessionId];
    const state: PodState = {
      namespace: pod.metadata!.namespace!,
      pod: pod.metadata!.name!,
      uid: pod.metadata!.uid!,
      workspace: env.PWD ?? '',
      cpu: parseQuantity(String(limits.cpu ?? '0')),
      memory: parseQuantity(String(limits.memory ?? '0')),
    };
    return {
      id: state.pod,
      labId: pod.metadata?.annotations?.[ANNOTATION.labId] ?? pod.metadata?.labels?.[LABEL.lab] ?? 'unknown',
      ...(sessionId ? { sessionId } : {}),
      limits: LIMITS,
      state: { ...state },
    };
  }

  /**
   * Deletes this deployment's pods whose expiry label has passed (warm ones too) or that ended
   * (their deadline passed, or they failed), with the uid and resourceVersion seen: a pod another
   * replica extended meanwhile is kept. Returns how many it deleted. Any replica may run it at
   * any time.
   */
  async cull(now: number = Date.now()): Promise<number> {
    await this.#ready();
    const expired = this.#pods.cache.list(this.#o.namespace).filter((pod) => {
      const expires = Number(pod.metadata?.labels?.[LABEL.expires]);
      const ended = pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded';
      return !pod.metadata?.deletionTimestamp && (ended || (Number.isFinite(expires) && expires * 1000 <= now));
    });
    let deleted = 0;
    for (let i = 0; i < expired.length; i += 20) {
      await Promise.all(
        expired.slice(i, i + 20).map(async (pod) => {
          const m = pod.metadata!;
          try {
            await this.#core.deleteNamespacedPod({ name: m.name!, namespace: this.#o.namespace, body: { preconditions: { uid: m.uid!, resourceVersion: m.resourceVersion! } } });
            deleted++;
          } catch (e) {
            ignore(404, 409)(e);
          }
        }),
      );
    }
    return deleted;
  }

  async close(): Promise<void> {
    clearInterval(this.#cullTimer);
    this.#cullTimer = undefined;
    await Promise.all([this.#pods.close(), this.#events.close()]);
  }

  /** A WebSocket exec in the lab's container; frames are (channel, bytes) as in v5.channel.k8s.io. */
  async #connect(s: PodState, command: string[], o: { stdin: boolean; tty: boolean; onOutput: (channel: number, data: Buffer) => void }): Promise<Exchange> {
    const query = new URLSearchParams();
    for (const c of command) query.append('command', c);
    query.set('container', CONTAINER);
    query.set('stdin', String(o.stdin));
    query.set('stdout', 'true');
    query.set('stderr', String(!o.tty));
    query.set('tty', String(o.tty));
    // The handler's own stream handling is not used: each exchange has its own (unused) streams.
    const handler = new WebSocketHandler(this.#kc, undefined, { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() });
    let settle: (code: number | null) => void = () => {};
    const exit = new Promise<number | null>((resolve) => (settle = resolve));
    let status: number | null = null;
    let ws: WebSocket;
    try {
      ws = await handler.connect(`/api/v1/namespaces/${s.namespace}/pods/${s.pod}/exec?${query}`, null, (channel, data) => {
        if (channel === WebSocketHandler.StatusStream) status = exitCode(data);
        else if (channel === WebSocketHandler.StdoutStream || channel === WebSocketHandler.StderrStream) o.onOutput(channel, data);
        return true;
      });
    } catch (e) {
      throw new KubernetesDriverError('not_running', `cannot exec in the lab's pod: ${(e as Error).message}`);
    }
    ws.on('close', () => settle(status));
    ws.on('error', () => settle(status));
    return { ws, exit };
  }

  /** The command as given in the container (its working directory: the home); stdin, then its end. */
  async #run(s: PodState, command: string[], options: { timeoutMs: number; stdin?: string }): Promise<ExecResult> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    const exchange = await this.#connect(s, command, {
      stdin: options.stdin !== undefined,
      tty: false,
      onOutput: (channel, data) => {
        if (channel === WebSocketHandler.StdoutStream) {
          if (outLen < OUTPUT_CAP) out.push(data.subarray(0, OUTPUT_CAP - outLen));
          outLen += data.length;
        } else {
          if (errLen < OUTPUT_CAP) err.push(data.subarray(0, OUTPUT_CAP - errLen));
          errLen += data.length;
        }
      },
    });
    if (options.stdin !== undefined) {
      const data = Buffer.from(options.stdin, 'utf8');
      // 32 KiB frames: the API server relays each as one write to the container's stdin.
      for (let i = 0; i < data.length; i += 32768) exchange.ws.send(Buffer.concat([Buffer.from([WebSocketHandler.StdinStream]), data.subarray(i, i + 32768)]));
      // Only v5 (Kubernetes 1.30 and later) can end stdin alone; the driver's own scripts read
      // framed input and need no end.
      if (exchange.ws.protocol === 'v5.channel.k8s.io') exchange.ws.send(Buffer.from([WebSocketHandler.CloseStream, WebSocketHandler.StdinStream]));
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      exchange.ws.terminate();
    }, options.timeoutMs);
    const code = await exchange.exit;
    clearTimeout(timer);
    let stderr = Buffer.concat(err).toString('utf8');
    if (timedOut) stderr += `${stderr && !stderr.endsWith('\n') ? '\n' : ''}[atelier] timed out after ${options.timeoutMs} ms\n`;
    return { code: timedOut ? 124 : (code ?? 1), stdout: Buffer.concat(out).toString('utf8'), stderr, timedOut };
  }

  async exec(handle: LabHandle, argv: string[], options: { timeoutMs?: number; stdin?: string } = {}): Promise<ExecResult> {
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string' || a.includes('\0'))) {
      throw new KubernetesDriverError('bad_argv', 'argv must be a non-empty list of strings');
    }
    return this.#exec(stateOf(handle), argv, { timeoutMs: options.timeoutMs ?? this.#o.execTimeoutMs, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) });
  }

  /** argv in the lab's workspace with the claim's environment, killed in the pod after its timeout. */
  #exec(s: PodState, argv: string[], options: { timeoutMs: number; stdin?: string }): Promise<ExecResult> {
    return this.#run(s, execArgv(s.workspace, timed(argv, options.timeoutMs)), options);
  }

  async attach(handle: LabHandle, size: TerminalSize): Promise<LabTerminal> {
    const s = stateOf(handle);
    const decoder = new StringDecoder('utf8');
    const dataListeners = new Set<(data: string) => void>();
    const exitListeners = new Set<(exit: { code: number | null }) => void>();
    const subscribe = <T>(set: Set<T>, listener: T): Subscription => {
      set.add(listener);
      return { dispose: () => void set.delete(listener) };
    };
    const exchange = await this.#connect(s, shellArgv(s.workspace), {
      stdin: true,
      tty: true,
      onOutput: (_channel, data) => {
        const text = decoder.write(data);
        if (text) for (const l of dataListeners) l(text);
      },
    });
    const { ws } = exchange;
    const send = (channel: number, payload: Buffer | string) => {
      if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(payload)]));
    };
    const resize = (next: TerminalSize) =>
      send(WebSocketHandler.ResizeStream, JSON.stringify({ Width: Math.max(1, Math.floor(next.cols) || 80), Height: Math.max(1, Math.floor(next.rows) || 24) }));
    resize(size);
    let exited: { code: number | null } | undefined;
    void exchange.exit.then((code) => {
      exited = { code };
      for (const l of exitListeners) l(exited);
      exitListeners.clear();
      dataListeners.clear();
    });
    return {
      onData: (listener) => subscribe(dataListeners, listener),
      onExit: (listener) => {
        if (!exited) return subscribe(exitListeners, listener);
        listener(exited);
        return { dispose: () => {} };
      },
      write: (data) => send(WebSocketHandler.StdinStream, data),
      resize,
      // Backpressure all the way to the pod: the socket to the API server stops being read.
      pause: () => ws.pause(),
      resume: () => ws.resume(),
      close: () => ws.close(),
    };
  }

  /** The Service of the lab's services, made on the first service start. */
  #serviceHost(s: PodState): string {
    return `${s.pod}.${s.namespace}.svc`;
  }

  connectService(handle: LabHandle, name: string): net.Socket {
    const s = stateOf(handle);
    const port = SERVICE_PORTS[name];
    if (!port) throw new KubernetesDriverError('no_service', `the lab has no service ${name}`);
    return net.connect({ host: this.#serviceHost(s), port });
  }

  #probe(handle: LabHandle, name: string): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = this.connectService(handle, name);
      socket.setTimeout(2000, () => socket.destroy());
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.once('close', () => resolve(false));
    });
  }

  /** Whether the service's processes (service and forwarder) still run, from their pid file. */
  async #serviceAlive(s: PodState, name: string): Promise<boolean> {
    const r = await this.#exec(s, ['/bin/sh', '-c', SERVICE_ALIVE_SCRIPT, servicePidFile(name)], { timeoutMs: 5000 });
    return r.code === 0;
  }

  async serviceState(handle: LabHandle, name: string): Promise<ServiceState> {
    if (await this.#probe(handle, name)) return 'running';
    return (await this.#serviceAlive(stateOf(handle), name)) ? 'starting' : 'stopped';
  }

  async startService(handle: LabHandle, spec: ServiceSpec, options: { timeoutMs?: number } = {}): Promise<void> {
    const s = stateOf(handle);
    const port = SERVICE_PORTS[spec.name];
    if (!port) throw new KubernetesDriverError('bad_spec', `no port for a service named ${spec.name}`);
    await this.#ensure(`service/${s.uid}`, () =>
      this.#core.createNamespacedService({ namespace: s.namespace, body: labService({ pod: { name: s.pod, uid: s.uid }, namespace: s.namespace, deployment: this.#o.deployment }) }),
    );
    if (await this.#serviceAlive(s, spec.name)) return this.#waitService(handle, spec, options.timeoutMs ?? 30_000);
    for (const [file, content] of Object.entries(spec.defaults ?? {})) {
      const made = await this.#exec(s, ['/bin/sh', '-c', WRITE_DEFAULT_SCRIPT, file], { stdin: base64Line(content), timeoutMs: 5000 });
      if (made.code !== 0) throw new KubernetesDriverError('service_failed', `cannot write ${file} for ${spec.name}: ${made.stderr.trim().slice(0, 500)}`);
    }
    // The service's own environment (its password) comes on stdin, never in argv.
    const started = await this.#exec(s, ['/bin/sh', '-c', SERVICE_LAUNCHER, spec.socket, spec.log, String(port), servicePidFile(spec.name), ...spec.argv], {
      stdin: base64Line(envFile(spec.env ?? {})),
      timeoutMs: 10_000,
    });
    if (started.code !== 0) throw new KubernetesDriverError('service_failed', `the service ${spec.name} did not start: ${started.stderr.trim().slice(0, 500)}`);
    return this.#waitService(handle, spec, options.timeoutMs ?? 30_000);
  }

  async #waitService(handle: LabHandle, spec: ServiceSpec, timeoutMs: number): Promise<void> {
    const s = stateOf(handle);
    const deadline = Date.now() + timeoutMs;
    for (let n = 0; ; n++) {
      if (await this.#probe(handle, spec.name)) return;
      const alive = n % 8 === 7 ? await this.#serviceAlive(s, spec.name) : true;
      if (!alive || Date.now() > deadline) {
        if (alive) await this.stopService(handle, spec.name);
        const log = await this.#exec(s, ['tail', '-c', '2000', spec.log], { timeoutMs: 5000 }).catch(() => ({ stdout: '' }));
        const why = alive ? `did not listen within ${timeoutMs} ms` : 'exited';
        throw new KubernetesDriverError('service_failed', `the service ${spec.name} ${why}${log.stdout.trim() ? `: ${log.stdout.trim()}` : ''}`);
      }
      await sleep(250);
    }
  }

  async stopService(handle: LabHandle, name: string): Promise<void> {
    await this.#exec(stateOf(handle), ['/bin/sh', '-c', SERVICE_STOP_SCRIPT, servicePidFile(name)], { timeoutMs: 5000 });
  }

  /** From metrics.k8s.io (metrics-server), when the cluster has it and has measured the pod. */
  async usage(handle: LabHandle): Promise<LabUsage | undefined> {
    const s = stateOf(handle);
    let metrics: { containers?: Array<{ name: string; usage: Record<string, string> }>; timestamp?: string };
    try {
      metrics = await this.#kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', namespace: s.namespace, plural: 'pods', name: s.pod });
    } catch {
      return undefined;
    }
    const container = metrics.containers?.find((c) => c.name === CONTAINER);
    if (!container) return undefined;
    return {
      cpu: { used: parseQuantity(container.usage.cpu ?? '0'), limit: s.cpu },
      memory: { used: parseQuantity(container.usage.memory ?? '0'), limit: s.memory },
      at: Date.parse(metrics.timestamp ?? '') || Date.now(),
    };
  }
}

/** A label key in a JSON patch path (RFC 6901). */
const escapePointer = (key: string): string => key.replaceAll('~', '~0').replaceAll('/', '~1');

/** The pod kills the command a second after the caller's timeout, so it never outlives it. */
const timed = (argv: string[], timeoutMs: number): string[] => ['timeout', '-s', 'KILL', String(Math.ceil(timeoutMs / 1000) + 1), ...argv];

/**
 * The exit code in an exec's status frame (v1.Status): 0 on Success, else the kubelet's ExitCode
 * cause, else the code its message names as Go's os/exec says it (`exit status N`: KWOK's
 * simulated exec reports exits so), else 1.
 */
export function exitCode(data: Buffer): number {
  try {
    const status = JSON.parse(data.toString('utf8')) as { status?: string; message?: string; details?: { causes?: Array<{ reason?: string; message?: string }> } };
    if (status.status === 'Success') return 0;
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    if (cause) return Number(cause.message);
    const named = /\bexit status (\d+)$/.exec(status.message ?? '');
    return named ? Number(named[1]) : 1;
  } catch {
    return 1;
  }
}

function apiMessage(e: unknown): string {
  const body = (e as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body;
    }
  }
  return (e as Error).message;
}
