import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { GOSSIP_PROFILES, type GossipConfig, type GossipProfileName, KvStateMachine } from '@novacron/acp';
import {
  sealedPeerNetwork,
  tcpPeerNetwork,
  tlsPeerNetwork,
  type StreamPeerNetwork,
  UdpPeerNetwork,
} from '@novacron/amst';
import {
  type Clock,
  type ConsensusGroup,
  FileDurableLog,
  type LinkMode,
  type Logger,
  fromHex,
  loadOrCreateIdentity,
  type NodeIdentity,
  ModeDetector,
  type ModeChange,
  nodeFileIO,
  type PeerNetwork,
  seededRng,
  systemClock,
  type VmProvider,
} from '@novacron/core';
import { RemoteModel } from '@novacron/pba';
import { MemoryProvider, QemuProvider } from '@novacron/providers';
import { ClusterController } from './cluster/cluster-controller.js';
import { EventHub } from './cluster/event-hub.js';
import { GroupStrongStore } from './cluster/group-strong-store.js';
import { PlacementPlanner, type ProfileFactory } from './cluster/placement-planner.js';
import { StoreCapacityLedger } from './cluster/store-capacity-ledger.js';
import { EscrowPlacer } from './cluster/escrow-placer.js';
import { RemoteScoreModel } from './cluster/remote-score-model.js';
import { LeaderForwarding } from './cluster/leader-forwarding.js';
import { type NetworkFaults, withFaults } from './cluster/network-faults.js';
import { component, type NodeComponent } from './components/component.js';
import { ComponentGraph } from './components/component-graph.js';
import { TransferSettings, transferComponents } from './components/transfer-settings.js';
import { type ConsensusFactory, defaultConsensusFactory } from './consensus-factory.js';
import { NodeErrorCode, nodeError } from './errors.js';
import { type LoadNodeConfigOptions, loadNodeConfig } from './config/load-config.js';
import type { NodeConfig, NodeConfigInput } from './config/schema.js';
import type { Membership } from './membership/membership.js';
import { StaticMembership } from './membership/static-membership.js';
import { loadClusterKey } from './membership/cluster-key.js';
import { SwimMembership } from './membership/swim-membership.js';
import { pinoLogger } from './observability/pino-logger.js';
import { PromMetrics } from './observability/prom-metrics.js';
import { securityComponents } from './security/security-components.js';
import type { NodeSecurity, NodeTlsSettings } from './security/node-security.js';
import { migrationComponent } from './migration/migration-component.js';
import type { MigrationManager } from './migration/migration-manager.js';

/** Per-mode settings in force (from `mode.profiles.<mode>`), read by components and by migrations (#13). */
export type ModeSettings = NodeConfig['mode']['profiles']['datacenter'];

/** Options of {@link createNode} beyond the configuration. */
export interface CreateNodeOptions {
  /** Where the configuration comes from besides `config` (file, environment). */
  readonly sources?: Omit<LoadNodeConfigOptions, 'overrides'>;
  /** Logger (default: pino at `log.level`, JSON lines on stdout). */
  readonly logger?: Logger;
  /** Metrics registry (default: a new prom-client registry). */
  readonly metrics?: PromMetrics;
  /** A provider instead of the configured one (custom adapters). */
  readonly provider?: VmProvider;
  /** Builds consensus groups by trust (default: Raft; PBFT plugs in here). */
  readonly consensus?: ConsensusFactory;
  /** Builds the membership/discovery service (default: static members with RTT probes; SWIM plugs in here). */
  readonly membership?: (init: {
    network: StreamPeerNetwork;
    clock: Clock;
    config: NodeConfig;
    nodeId: string;
    onSample: StaticMembershipSample;
  }) => Membership;
  /** Extra placement profiles by name (usable as a mode's `placementPolicy`). */
  readonly placementProfiles?: Readonly<Record<string, ProfileFactory>>;
  /** Clock (default: the system clock). */
  readonly clock?: Clock;
  /**
   * Switchable faults on this node's peer traffic (control log, forwarding, gossip): partition tests and
   * chaos drills cut links with `faults.cut([...])` and restore them with `faults.heal()`.
   */
  readonly faults?: NetworkFaults;
  /** Extra components started with the node (e.g. the HTTP API, which `startNode` adds). */
  readonly components?: readonly ((node: NovacronNode) => NodeComponent)[];
}

/** SWIM timing by the mode a node starts in. */
const GOSSIP_PROFILE_BY_MODE = { datacenter: 'lan', hybrid: 'wan', internet: 'internet' } as const;

/** The configured overrides of a SWIM profile; a shorter probe interval also shortens the probe timeout to fit. */
function gossipTuning(g: NodeConfig['gossip'], profile: GossipProfileName): Partial<GossipConfig> {
  const base = GOSSIP_PROFILES[profile];
  const interval = g.probeIntervalMs ?? base.probeIntervalMs;
  const timeout = g.probeTimeoutMs ?? Math.min(base.probeTimeoutMs, Math.max(1, Math.floor(interval / 2)));
  return {
    probeIntervalMs: interval,
    probeTimeoutMs: timeout,
    // A graceful stop waits for the leave announcement to go out; two gossip rounds are plenty.
    leaveTimeoutMs: Math.min(base.leaveTimeoutMs, Math.max(500, 2 * base.gossipIntervalMs)),
    ...(g.suspicionMult ? { suspicionMult: g.suspicionMult } : {}),
  };
}

type StaticMembershipSample = ConstructorParameters<typeof StaticMembership>[0]['onSample'];

/** The node's current mode picture (GET /v1/mode). */
export interface ModeStatus {
  /** Effective mode. */
  readonly mode: LinkMode;
  /** What the probes measured (undefined before the first sample). */
  readonly measured?: LinkMode;
  /** Manual override in force. */
  readonly override?: LinkMode;
  /** Smoothed RTT in ms. */
  readonly rttMs?: number;
  /** Settings in force for the effective mode. */
  readonly settings: ModeSettings;
  /** Wall time the last reconfiguration took, in ms. */
  readonly lastReconfigureMs?: number;
}

/**
 * A NovaCron node: identity, peer network (amst TCP), membership with RTT
 * probes, the control log (Raft via acp over the peer network), cluster
 * state and the capacity ledger in its replicated KV, itp placement, one
 * VM provider, and the mode detector, wired as a {@link ComponentGraph}.
 * Build it with {@link createNode}; `start` boots it, `stop` shuts it down
 * in reverse.
 */
export class NovacronNode {
  /** Validated configuration. */
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly metrics: PromMetrics;
  readonly events = new EventHub();
  readonly graph: ComponentGraph;
  readonly planner = new PlacementPlanner();
  readonly clock: Clock;
  readonly detector: ModeDetector;
  /** hde codec, amst lanes and pba forecaster for the current mode (rebuilt by the `hde`, `amst` and `pba` components). */
  readonly transfer: TransferSettings;
  /** pba's model bridge behind itp's learned scorer (policy `learned`), when `pba.modelService` is set. */
  readonly learned: RemoteScoreModel | undefined;
  readonly #opts: CreateNodeOptions;
  #id: string | undefined;
  #identity: NodeIdentity | undefined;
  #security: NodeSecurity | undefined;
  #kv: KvStateMachine | undefined;
  #network: StreamPeerNetwork | undefined;
  #udp: UdpPeerNetwork | undefined;
  #gossipNetwork: PeerNetwork | undefined;
  #membership: Membership | undefined;
  #group: ConsensusGroup | undefined;
  #controller: ClusterController | undefined;
  #provider: VmProvider | undefined;
  #store: GroupStrongStore | undefined;
  #escrow: EscrowPlacer | undefined;
  #forwarding: LeaderForwarding | undefined;
  #bootMs: number | undefined;
  #lastReconfigureMs: number | undefined;
  #apiUrl: string | undefined;
  #migrations: MigrationManager | undefined;
  #started = false;
  #reconfiguring: Promise<void> = Promise.resolve();

  constructor(config: NodeConfig, options: CreateNodeOptions = {}) {
    this.config = config;
    this.#opts = options;
    this.clock = options.clock ?? systemClock();
    this.logger = options.logger ?? pinoLogger({ level: config.log.level, base: { cluster: config.cluster.name } });
    this.metrics = options.metrics ?? new PromMetrics();
    const service = config.pba.modelService;
    if (service) {
      this.learned = new RemoteScoreModel({
        bridge: new RemoteModel({ url: service.url, clock: this.clock, timeoutMs: service.timeoutMs }),
        model: service.model,
        logger: this.logger.child('learned'),
      });
      const learned = this.learned;
      this.planner.register('learned', () => learned.profile());
    }
    for (const [name, f] of Object.entries(options.placementProfiles ?? {})) this.planner.register(name, f);
    const unknown = Object.entries(config.mode.profiles).filter(
      ([, p]) => !this.planner.policies.includes(p.placementPolicy),
    );
    if (unknown.length > 0)
      throw nodeError(
        NodeErrorCode.CONFIG_INVALID,
        `invalid configuration:\n${unknown.map(([m, p]) => `  mode.profiles.${m}.placementPolicy = "${p.placementPolicy}": expected one of ${this.planner.policies.join(', ')}`).join('\n')}`,
        {
          issues: unknown.map(([m, p]) => ({
            path: `mode.profiles.${m}.placementPolicy`,
            value: p.placementPolicy,
            expected: `one of ${this.planner.policies.join(', ')}`,
            source: 'programmatic',
          })),
        },
      );
    this.detector = new ModeDetector({
      thresholds: config.mode.thresholds,
      window: config.mode.window,
      confirmSamples: config.mode.confirmSamples,
      defaultMode: config.preset ?? 'hybrid',
    });
    if (config.mode.override) this.detector.setOverride(config.mode.override);
    this.transfer = new TransferSettings(config.mode.profiles, this.detector.mode);
    this.graph = new ComponentGraph(this.#components(), { logger: this.logger.child('components') });
    for (const make of options.components ?? []) this.graph.add(make(this));
  }

  /** The node id (known once the identity component started). */
  get id(): string {
    if (this.#id === undefined) throw new Error('node id is known once the node has started');
    return this.#id;
  }
  /** The node's Ed25519 identity (after start). */
  get identity(): NodeIdentity {
    if (!this.#identity) throw new Error('node not started');
    return this.#identity;
  }
  /** Security state: TLS settings, API access, audit log, admission (after start; docs/security.md). */
  get security(): NodeSecurity {
    if (!this.#security) throw new Error('node not started');
    return this.#security;
  }
  /** Called once by the security component. */
  setSecurity(security: NodeSecurity | undefined): void {
    this.#security = security;
  }
  /**
   * TLS credentials and trust for any transport carrying cluster data
   * (`new TlsTransport({ ...node.tlsSettings() })`): the same certificate and
   * peers as the peer network. `undefined` with `security.insecure`.
   */
  tlsSettings(): NodeTlsSettings | undefined {
    return this.security.tls;
  }
  /** This node's replica of the control log's key-value state (after start; local reads, no barrier). */
  localState(key: string): Uint8Array | null {
    return this.#kv?.get(key) ?? null;
  }
  /** The control log's replicated key-value store (after start): strongly consistent reads and writes. */
  get strongStore(): GroupStrongStore {
    if (!this.#store) throw new Error('node not started');
    return this.#store;
  }
  /** The peer network (after start). */
  get peerNetwork(): StreamPeerNetwork {
    if (!this.#network) throw new Error('node not started');
    return this.#network;
  }
  /** Bound peer-network address. */
  get peerAddress(): string | undefined {
    return this.#network?.address;
  }
  /** Bound UDP gossip address (with `cluster.membership: gossip`). */
  get gossipAddress(): string | undefined {
    return this.#udp?.address;
  }
  /** The cluster controller (after start). */
  get cluster(): ClusterController {
    if (!this.#controller) throw new Error('node not started');
    return this.#controller;
  }
  /** Membership (after start). */
  get membership(): Membership {
    if (!this.#membership) throw new Error('node not started');
    return this.#membership;
  }
  /** The control log (after start). */
  get controlLog(): ConsensusGroup {
    if (!this.#group) throw new Error('node not started');
    return this.#group;
  }
  /** Injected network faults, if any (`createNode(..., { faults })`). */
  get faults(): NetworkFaults | undefined {
    return this.#opts.faults;
  }
  /** Escrow placement while the log is unreachable (with `cluster.escrow.fraction` > 0, after start). */
  get escrow(): EscrowPlacer | undefined {
    return this.#escrow;
  }
  /** The VM provider (after start). */
  get provider(): VmProvider {
    if (!this.#provider) throw new Error('node not started');
    return this.#provider;
  }
  /** Live migration (#13; after start). */
  get migrations(): MigrationManager {
    if (!this.#migrations) throw new Error('node not started');
    return this.#migrations;
  }
  /** Wall time `start` took, in ms. */
  get bootMs(): number | undefined {
    return this.#bootMs;
  }
  /** True between a successful start and stop. */
  get running(): boolean {
    return this.#started;
  }
  /** The HTTP API URL once the API component is up. */
  get apiUrl(): string | undefined {
    return this.#apiUrl;
  }
  /** Called by the API component once it listens (advertised to peers for forwarding). */
  setApiUrl(url: string): void {
    this.#apiUrl = url;
    this.#membership?.setLocalMeta('api', url);
  }

  /** Effective mode and the settings in force. */
  modeStatus(): ModeStatus {
    const d = this.detector;
    return {
      mode: d.mode,
      ...(d.measuredMode ? { measured: d.measuredMode } : {}),
      ...(d.override ? { override: d.override } : {}),
      ...(d.smoothedRttMs !== undefined ? { rttMs: d.smoothedRttMs } : {}),
      settings: this.modeSettings(),
      ...(this.#lastReconfigureMs !== undefined ? { lastReconfigureMs: this.#lastReconfigureMs } : {}),
    };
  }

  /** Settings of the effective mode. */
  modeSettings(): ModeSettings {
    return this.config.mode.profiles[this.detector.mode];
  }

  /** Sets (or with `undefined` clears) the manual mode override. */
  setModeOverride(mode: LinkMode | undefined): ModeStatus {
    if (mode === undefined) this.detector.clearOverride();
    else this.detector.setOverride(mode);
    return this.modeStatus();
  }

  /** Resolves once every mode change so far has been applied to every component. */
  reconfigured(): Promise<void> {
    return this.#reconfiguring;
  }

  /** Health of every component. */
  health() {
    return this.graph.health();
  }

  /** Boots every component; resolves when the node serves. */
  async start(): Promise<void> {
    const t0 = performance.now();
    await this.graph.start();
    this.#started = true;
    this.#bootMs = performance.now() - t0;
    this.logger.info('node started', {
      id: this.#id,
      bootMs: Math.round(this.#bootMs),
      api: this.#apiUrl,
      peer: this.peerAddress,
    });
  }

  /** Stops every component in reverse order. */
  async stop(): Promise<void> {
    this.#started = false;
    await this.graph.stop();
  }

  /** Runs every component's hook at once (synchronous hooks finish before this returns) and records how long it took. */
  #onModeChange(change: ModeChange): Promise<void> {
    const t0 = performance.now();
    const pending = this.graph.reconfigure(change.to);
    if (pending === undefined) {
      this.#reconfigureDone(change, performance.now() - t0);
      return Promise.resolve();
    }
    return pending.then(() => this.#reconfigureDone(change, performance.now() - t0));
  }

  #reconfigureDone(change: ModeChange, ms: number): void {
    this.#lastReconfigureMs = ms;
    this.metrics
      .histogram({
        name: 'novacron_node_reconfigure_seconds',
        help: 'Time from a mode change to every component reconfigured, in seconds',
        buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
      })
      .observe(this.#lastReconfigureMs / 1000);
    this.events.emit('mode.changed', {
      from: change.from,
      to: change.to,
      reason: change.reason,
      reconfigureMs: this.#lastReconfigureMs,
    });
    this.logger.info('mode changed', { from: change.from, to: change.to, reconfigureMs: this.#lastReconfigureMs });
  }

  #components(): NodeComponent[] {
    const c = this.config;
    const dataDir = c.node.dataDir;
    const io = nodeFileIO();
    const seeds = new Map(
      c.network.seeds.map((s) => {
        const at = s.indexOf('@');
        return [s.slice(0, at), s.slice(at + 1)] as const;
      }),
    );
    const boot = randomBytes(4).toString('hex');
    const faulty = (n: PeerNetwork): PeerNetwork => (this.#opts.faults ? withFaults(n, this.#opts.faults) : n);
    const controlTrust = c.cluster.groups.control?.trust ?? 'trusted';
    let kv: KvStateMachine | undefined;
    let ledger: StoreCapacityLedger | undefined;
    let unsubscribeMode: (() => void) | undefined;

    const identity = component('identity', {
      start: async () => {
        const id = await loadOrCreateIdentity(io, join(dataDir, 'identity.key'));
        this.#identity = id;
        this.#id = c.node.name ?? id.nodeId;
        // PBFT authenticates replicas by keys their ids derive from: a chosen name would not verify.
        if (controlTrust === 'untrusted' && this.#id !== id.nodeId)
          throw nodeError(
            NodeErrorCode.TRUST_CONFIG_INVALID,
            `group control is untrusted: node.name (${this.#id}) must be unset or equal the identity's id ${id.nodeId}`,
            { group: 'control', name: this.#id, identity: id.nodeId },
          );
      },
    });

    const network: NodeComponent = {
      name: 'peer-network',
      dependsOn: ['identity', 'security'],
      start: async () => {
        const peers = [...seeds].filter(([id]) => id !== this.#id);
        const tls = this.tlsSettings();
        // Encrypted and mutually authenticated unless `security.insecure` (docs/security.md, "Links").
        const options = {
          localId: this.id,
          listenAddress: c.network.listen,
          peers,
          maxMessageSize: c.network.maxMessageBytes,
          clock: this.clock,
          metrics: this.metrics,
          logger: this.logger.child('amst'),
        };
        this.#network = tls ? tlsPeerNetwork({ ...options, ...tls }) : tcpPeerNetwork(options);
        await this.#network.start();
      },
      stop: async () => {
        await this.#network?.stop();
      },
    };

    const gossipSeeds = c.gossip.seeds
      ? new Map(
          c.gossip.seeds.map((x) => {
            const at = x.indexOf('@');
            return [x.slice(0, at), x.slice(at + 1)] as const;
          }),
        )
      : seeds;
    // Gossip runs on UDP, sealed under the cluster key: SWIM's datagrams decide who is in the cluster,
    // so a forged "dead" or "alive" must not be accepted from outside it.
    const gossipNetwork: NodeComponent = {
      name: 'gossip-network',
      dependsOn: ['peer-network'],
      start: async () => {
        const listen = c.gossip.listen ?? this.#network!.address ?? c.network.listen;
        this.#udp = new UdpPeerNetwork({
          localId: this.id,
          listenAddress: listen,
          peers: [...gossipSeeds].filter(([id]) => id !== this.id),
          maxMessageSize: 1_400,
          logger: this.logger.child('udp'),
          metrics: this.metrics,
        });
        await this.#udp.start();
        this.#gossipNetwork = c.gossip.sealed
          ? sealedPeerNetwork({
              inner: faulty(this.#udp),
              // A keyring (`security.gossipKeyFile`: several keys, rotation without a flag day) wins over
              // the single cluster key (`gossip.keyFile`, `gossip.keyEnv`, or `<dataDir>/cluster.key`).
              keys: this.#security?.gossipKeys ?? [
                {
                  id: 1,
                  key: loadClusterKey({
                    ...(c.gossip.keyFile ? { keyFile: c.gossip.keyFile } : {}),
                    keyEnv: c.gossip.keyEnv,
                    dataDir,
                    mayCreate: [...gossipSeeds.keys()].every((id) => id === this.id),
                  }),
                },
              ],
              logger: this.logger.child('sealed'),
              metrics: this.metrics,
            })
          : faulty(this.#udp);
      },
      stop: async () => {
        await this.#udp?.stop();
      },
    };

    const membership: NodeComponent = {
      name: 'membership',
      dependsOn: c.cluster.membership === 'gossip' ? ['peer-network', 'gossip-network'] : ['peer-network'],
      start: () => {
        const onSample: StaticMembershipSample = (_peer, sample) => {
          try {
            this.transfer.observe(sample);
            this.detector.observe(sample);
          } catch (err) {
            this.logger.debug('sample rejected', { error: (err as Error).message });
          }
        };
        const gossipProfile = c.gossip.profile ?? GOSSIP_PROFILE_BY_MODE[c.mode.override ?? c.preset ?? 'hybrid'];
        const tuning = gossipTuning(c.gossip, gossipProfile);
        this.#membership =
          this.#opts.membership?.({
            network: this.#network!,
            clock: this.clock,
            config: c,
            nodeId: this.id,
            onSample,
          }) ??
          (c.cluster.membership === 'gossip'
            ? new SwimMembership({
                network: this.#gossipNetwork!,
                addressBook: this.#udp!,
                localAddress: c.gossip.advertise ?? this.#udp!.address ?? c.network.listen,
                seeds: gossipSeeds,
                clock: this.clock,
                rng: seededRng(`${this.id}-${boot}-gossip`),
                profile: gossipProfile,
                gossip: tuning,
                reconnectIntervalMs: 5 * (tuning.probeIntervalMs ?? 1000),
                probeIntervalMs: c.mode.probeIntervalMs,
                onSample,
                logger: this.logger.child('membership'),
                metrics: this.metrics,
              })
            : new StaticMembership({
                network: faulty(this.#network!),
                localAddress: c.network.advertise ?? this.#network!.address ?? c.network.listen,
                seeds,
                clock: this.clock,
                probeIntervalMs: c.mode.probeIntervalMs,
                failAfterMs: c.cluster.failoverAfterMs,
                onSample,
                logger: this.logger.child('membership'),
              }));
        if (this.#apiUrl) this.#membership.setLocalMeta('api', this.#apiUrl);
        return this.#membership.start();
      },
      stop: () => this.#membership?.stop(),
      health: () => {
        const ms = this.#membership!.members();
        const down = ms.filter((m) => m.status === 'down').map((m) => m.id);
        return down.length === 0 ? { status: 'ok' } : { status: 'degraded', detail: `down: ${down.join(', ')}` };
      },
    };

    const controlLog: NodeComponent = {
      name: 'control-log',
      dependsOn: ['peer-network'],
      start: async () => {
        kv = new KvStateMachine();
        this.#kv = kv;
        const controlNetwork = faulty(this.#network!);
        const pinned = c.cluster.groups.control?.replicas;
        const replicas = pinned
          ? Object.entries(pinned).map(([id, key]) => ({ id, publicKey: fromHex(key) }))
          : undefined;
        const voters = replicas ? replicas.map((r) => r.id).sort() : [...new Set([...seeds.keys(), this.id])].sort();
        const dir = join(dataDir, 'raft');
        const group = (this.#opts.consensus ?? defaultConsensusFactory)({
          name: 'control',
          trust: controlTrust,
          id: this.id,
          identity: this.#identity!,
          voters,
          ...(replicas ? { replicas } : {}),
          network: controlNetwork,
          log: new FileDurableLog({ io, dir: join(dir, 'log') }),
          dir,
          clock: this.clock,
          rng: seededRng(`${this.id}-${boot}`),
          stateMachine: kv,
          tickMs: c.cluster.raft.tickMs,
          electionTicks: c.cluster.raft.electionTicks,
          heartbeatTicks: c.cluster.raft.heartbeatTicks,
          snapshotEvery: c.cluster.raft.snapshotEvery,
          logger: this.logger.child('raft'),
        });
        this.#group = group;
        await group.start();
        // Any member may write through the store: a follower's proposals go to the leader over the peer network.
        this.#forwarding = new LeaderForwarding({ group, network: controlNetwork, clock: this.clock });
        this.#forwarding.start();
        this.#store = new GroupStrongStore({ group: this.#forwarding, store: kv, client: `${this.id}-${boot}` });
        ledger = new StoreCapacityLedger({ store: this.#store, idPrefix: `${this.id}-${boot}` });
      },
      stop: async () => {
        this.#forwarding?.stop();
        await this.#group?.stop();
      },
      health: () => {
        const s = this.#group!.status();
        return s.leader === null
          ? { status: 'degraded', detail: 'no leader' }
          : { status: 'ok', detail: `leader ${s.leader}, term ${s.term}` };
      },
    };

    const provider: NodeComponent = {
      name: 'provider',
      dependsOn: ['identity'],
      start: async () => {
        const hostId = c.node.hostId ?? this.id;
        const host = { id: hostId, capacity: c.node.capacity, labels: c.node.labels };
        this.#provider =
          this.#opts.provider ??
          (c.provider.kind === 'qemu'
            ? new QemuProvider({
                clock: this.clock,
                workDir: c.provider.qemu.workDir ?? join(dataDir, 'qemu'),
                binary: c.provider.qemu.binary,
                accel: c.provider.qemu.accel,
                host,
                logger: this.logger.child('qemu'),
              })
            : new MemoryProvider({ clock: this.clock, rng: seededRng(`${hostId}-${boot}`), hosts: [host] }));
        const p = this.#provider as Partial<{ start(): Promise<void> }>;
        await p.start?.();
        await this.#provider.probe();
      },
      stop: async () => {
        const p = this.#provider as (VmProvider & Partial<{ stop(): Promise<void> }>) | undefined;
        if (!p) return;
        // Leave nothing running: stop every VM this node runs, then the provider.
        for (const vm of await p.listVms().catch(() => [])) {
          if (vm.state === 'running' || vm.state === 'paused') await p.stopVm(vm.id).catch(() => undefined);
          await p.deleteVm(vm.id).catch(() => undefined);
        }
        await p.stop?.();
      },
    };

    let escrowTimer: { cancel(): void } | undefined;
    const escrow: NodeComponent = {
      name: 'escrow',
      dependsOn: ['control-log', 'provider'],
      start: async () => {
        if (c.cluster.escrow.fraction <= 0) return;
        this.#escrow = await EscrowPlacer.open({
          site: this.id,
          hostId: c.node.hostId ?? this.id,
          dir: join(dataDir, 'escrow'),
          io,
          store: this.#store!,
          ledger: ledger!,
          provider: this.#provider!,
          fraction: c.cluster.escrow.fraction,
          isLeader: () => this.#group?.status().leader === this.id,
          logger: this.logger.child('escrow'),
        });
        escrowTimer = this.clock.setInterval(
          () =>
            this.#escrow
              ?.tick()
              .catch((err) => this.logger.debug('escrow round failed', { error: (err as Error).message })),
          Math.max(100, Math.min(1000, c.mode.probeIntervalMs)),
        );
      },
      stop: async () => {
        escrowTimer?.cancel();
        await this.#escrow?.close();
      },
    };

    const mode: NodeComponent = {
      name: 'mode',
      dependsOn: ['membership'],
      start: () => {
        unsubscribeMode = this.detector.onChange((change) => {
          const done = this.#onModeChange(change).catch((err) =>
            this.logger.warn('reconfigure failed', { error: (err as Error).message }),
          );
          // `reconfigured()` (and PUT /v1/mode) wait for every change so far.
          this.#reconfiguring = Promise.all([this.#reconfiguring, done]).then(() => undefined);
        });
      },
      stop: () => unsubscribeMode?.(),
      health: () => ({ status: 'ok', detail: this.detector.mode }),
    };

    const cluster: NodeComponent = {
      name: 'cluster',
      dependsOn: ['control-log', 'membership', 'provider', 'mode', 'escrow'],
      start: () => {
        const hostId = c.node.hostId ?? this.id;
        this.#controller = new ClusterController({
          nodeId: this.id,
          host: {
            id: hostId,
            capacity: c.node.capacity,
            labels: c.node.labels,
            ...(c.node.zone ? { zone: c.node.zone } : {}),
            ...(c.node.region ? { region: c.node.region } : {}),
          },
          store: this.#store!,
          ledger: ledger!,
          group: this.#group!,
          membership: this.#membership!,
          keepLocal: (vmId) => this.#escrow?.holds(vmId) ?? false,
          ...(this.learned ? { learned: this.learned } : {}),
          provider: this.#provider!,
          planner: this.planner,
          policy: () => this.modeSettings().placementPolicy,
          events: this.events,
          clock: this.clock,
          reservationTtlMs: c.cluster.reservationTtlMs,
          loopIntervalMs: Math.max(100, Math.min(1000, c.mode.probeIntervalMs)),
          logger: this.logger.child('cluster'),
          metrics: this.metrics,
        });
        this.#controller.start();
      },
      stop: () => this.#controller?.stop(),
      // The policy is read per decision, so a mode change needs no work here beyond logging it.
      reconfigure: (m) =>
        this.logger.debug('placement policy', { mode: m, policy: this.config.mode.profiles[m].placementPolicy }),
    };
    const migration = migrationComponent(
      () => ({ node: this, store: this.#store!, network: this.#network! }),
      (m) => {
        this.#migrations = m;
      },
    );
    return [
      identity,
      ...securityComponents(this),
      network,
      ...(c.cluster.membership === 'gossip' ? [gossipNetwork] : []),
      membership,
      controlLog,
      provider,
      escrow,
      mode,
      ...transferComponents(() => this.transfer),
      cluster,
      migration,
    ];
  }
}

/**
 * Builds a node from configuration: `config` (programmatic values) is
 * merged over `options.sources` (file, environment) and the schema defaults,
 * then validated. Throws `NODE_CONFIG_INVALID` naming every bad key. Does no
 * I/O beyond reading the config file: call `start()`.
 */
export function createNode(config: NodeConfigInput = {}, options: CreateNodeOptions = {}): NovacronNode {
  const { config: resolved } = loadNodeConfig({ ...(options.sources ?? {}), overrides: config });
  return new NovacronNode(resolved, options);
}
