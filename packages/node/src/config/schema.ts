import { z } from 'zod';

const LINK_MODE = z.enum(['datacenter', 'internet', 'hybrid']);
const HOST_PORT = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'host:port, e.g. 127.0.0.1:7400 ([v6]:port for IPv6)');
const SEED = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,128}@(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'node-id@host:port');
const POSITIVE_MS = z.number().int().positive();
const BUILT_IN_POLICIES = [
  'most-allocated',
  'least-allocated',
  'first-fit',
  'dot-product',
  'l2-alignment',
  'geographic',
] as const;
// A string, not an enum: embedders register their own profiles by name (`createNode(..., { placementProfiles })`);
// the node checks the name exists when it is built.
const PLACEMENT_POLICY = z.string().min(1).max(64);

/** Per-mode settings every component reads when the node's mode changes. */
const modeProfile = (d: {
  lanes: number;
  codec: string;
  window: number;
  horizonMin: number;
  policy: (typeof BUILT_IN_POLICIES)[number];
  sync: 'strong' | 'crdt' | 'hybrid';
}) =>
  z
    .strictObject({
      amstLanes: z
        .number()
        .int()
        .min(1)
        .max(64)
        .default(d.lanes)
        .describe('Parallel lanes an amst transfer opens in this mode.'),
      hdeCodec: z
        .enum(['none', 'lz4', 'zstd-fast', 'zstd', 'zstd-max', 'adaptive'])
        .default(d.codec as 'none')
        .describe('hde codec preset for transfers in this mode (`adaptive`: chosen per chunk).'),
      pbaWindow: z.number().int().min(2).max(1000).default(d.window).describe('Samples pba predictors look back over.'),
      pbaHorizonMinutes: z
        .number()
        .positive()
        .max(1440)
        .default(d.horizonMin)
        .describe('How far ahead pba forecasts, in minutes.'),
      placementPolicy: PLACEMENT_POLICY.default(d.policy).describe(
        `itp profile for new placements in this mode: ${BUILT_IN_POLICIES.map((p) => `\`${p}\``).join(', ')}, or a name registered through \`placementProfiles\`.`,
      ),
      stateSync: z
        .enum(['strong', 'crdt', 'hybrid'])
        .default(d.sync)
        .describe('ass strategy for ordinary namespaces (VM ownership and capacity are always strong).'),
    })
    .prefault({});

/**
 * The node configuration schema (zod). One schema for every mode: presets
 * only change defaults. `docs/configuration.md` is generated from it and a
 * test keeps the two in step.
 */
export const nodeConfigSchema = z.strictObject({
  preset: LINK_MODE.optional().describe(
    'Defaults tuned for a network: `datacenter`, `internet` or `hybrid`. Explicit values still win.',
  ),
  node: z
    .strictObject({
      dataDir: z
        .string()
        .min(1)
        .default('.novacron')
        .describe('Directory for the identity key, the Raft log and snapshots.'),
      name: z
        .string()
        .min(1)
        .max(128)
        .optional()
        .describe('Node id used in the cluster (default: derived from the Ed25519 identity).'),
      hostId: z
        .string()
        .min(1)
        .max(128)
        .optional()
        .describe('Id of the host this node offers to placement (default: the node id).'),
      zone: z.string().min(1).optional().describe('Failure domain (zone) of the host.'),
      region: z.string().min(1).optional().describe('Region of the host, for geographic placement.'),
      labels: z.record(z.string(), z.string()).default({}).describe('Host labels for selectors and affinity.'),
      capacity: z
        .strictObject({
          cpuMillis: z.number().int().positive().default(8000).describe('CPU offered to VMs, in millicores.'),
          memoryBytes: z
            .number()
            .int()
            .positive()
            .default(16 * 2 ** 30)
            .describe('Memory offered to VMs, in bytes.'),
          diskBytes: z
            .number()
            .int()
            .nonnegative()
            .default(0)
            .describe('Disk offered to VMs, in bytes (0: not tracked).'),
        })
        .prefault({})
        .describe('Capacity this node offers to the cluster.'),
    })
    .prefault({}),
  network: z
    .strictObject({
      listen: HOST_PORT.default('127.0.0.1:7400').describe('Peer network (amst TCP) listen address; port 0 picks one.'),
      advertise: HOST_PORT.optional().describe('Address peers dial (default: the bound listen address).'),
      seeds: z
        .array(SEED)
        .default([])
        .describe('Static members as `id@host:port`, this node included or not. Empty: a one-node cluster.'),
      maxMessageBytes: z
        .number()
        .int()
        .min(4096)
        .max(64 * 2 ** 20)
        .default(2 ** 20)
        .describe('Largest peer message.'),
    })
    .prefault({}),
  api: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Serve the HTTP API.'),
      listen: HOST_PORT.default('127.0.0.1:7480').describe('HTTP API listen address; port 0 picks one.'),
      maxBodyBytes: z
        .number()
        .int()
        .min(1024)
        .max(64 * 2 ** 20)
        .default(2 ** 20)
        .describe('Largest request body accepted.'),
    })
    .prefault({}),
  cluster: z
    .strictObject({
      name: z.string().min(1).max(64).default('novacron').describe('Cluster name, for humans and metrics labels.'),
      groups: z
        .record(
          z.string(),
          z.strictObject({
            trust: z
              .enum(['trusted', 'untrusted'])
              .default('trusted')
              .describe('Whether members trust each other: Raft among trusted members, PBFT otherwise.'),
            replicas: z
              .record(
                z.string().regex(/^nc[a-z2-7]{1,64}$/, 'a node id (nc...)'),
                z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits'),
              )
              .optional()
              .describe(
                "Untrusted groups: every replica's node id → its Ed25519 public key (the `nodeId` and `publicKey` of its `<dataDir>/identity.key`). At least 4; they are the group's members, and node ids must be the identities' (no `node.name`).",
              ),
          }),
        )
        .default({ control: { trust: 'trusted' } })
        .describe('Consensus groups by name (`control` is the control log) and their trust setting.'),
      raft: z
        .strictObject({
          tickMs: POSITIVE_MS.max(10_000)
            .optional()
            .describe('Raft tick (default by preset: 50 datacenter, 100 hybrid, 200 internet).'),
          electionTicks: z
            .number()
            .int()
            .min(2)
            .max(1000)
            .default(10)
            .describe('Election timeout in ticks, randomised in [n, 2n).'),
          heartbeatTicks: z.number().int().min(1).max(100).default(1).describe('Heartbeat interval in ticks.'),
          snapshotEvery: z
            .number()
            .int()
            .nonnegative()
            .default(10_000)
            .describe('Compact the log every this many entries (0: never).'),
        })
        .prefault({}),
      membership: z
        .enum(['gossip', 'static'])
        .default('gossip')
        .describe(
          'How members find each other: `gossip` (SWIM with Lifeguard over sealed UDP, joining through the seeds; see `gossip.*`) or `static` (the seeds are the member list, liveness from RTT probes).',
        ),
      failoverAfterMs: POSITIVE_MS.optional().describe(
        'A member silent this long is declared down and its VMs re-placed (default by preset: 2000 datacenter, 5000 hybrid, 15000 internet).',
      ),
      escrow: z
        .strictObject({
          fraction: z
            .number()
            .min(0)
            .max(0.9)
            .default(0)
            .describe(
              "Share of each host's capacity the leader escrows to the host's own node, which may place new VMs onto it (its own host only) while the control log is unreachable. 0 disables: a node cut off from the log refuses placements.",
            ),
        })
        .prefault({}),
      reservationTtlMs: POSITIVE_MS.default(30_000).describe(
        'Lifetime of a capacity reservation between reserve and commit.',
      ),
    })
    .prefault({}),
  mode: z
    .strictObject({
      override: LINK_MODE.optional().describe(
        'Force this link mode whatever the probes measure (also settable through the API).',
      ),
      probeIntervalMs: POSITIVE_MS.optional().describe(
        'RTT probe interval per peer (default by preset: 500 datacenter, 1000 hybrid, 2000 internet).',
      ),
      thresholds: z
        .strictObject({
          datacenterRttMs: z.number().positive().default(10).describe('Datacenter needs RTT below this (ms).'),
          internetRttMs: z.number().positive().default(50).describe('Internet when RTT is above this (ms).'),
          datacenterBandwidthBps: z
            .number()
            .positive()
            .default(0.9e9)
            .describe('Datacenter needs bandwidth, when known, at least this (bit/s).'),
          internetBandwidthBps: z
            .number()
            .positive()
            .default(100e6)
            .describe('Internet when bandwidth, when known, is below this (bit/s).'),
        })
        .prefault({}),
      confirmSamples: z
        .number()
        .int()
        .min(1)
        .max(100)
        .default(3)
        .describe('Consecutive samples that must agree before the mode changes.'),
      window: z
        .number()
        .int()
        .min(1)
        .max(255)
        .default(5)
        .describe('Samples whose median the detector classifies (odd).'),
      profiles: z
        .strictObject({
          datacenter: modeProfile({
            lanes: 2,
            codec: 'none',
            window: 10,
            horizonMin: 5,
            policy: 'most-allocated',
            sync: 'strong',
          }),
          internet: modeProfile({
            lanes: 8,
            codec: 'zstd',
            window: 60,
            horizonMin: 15,
            policy: 'geographic',
            sync: 'crdt',
          }),
          hybrid: modeProfile({
            lanes: 4,
            codec: 'adaptive',
            window: 30,
            horizonMin: 10,
            policy: 'least-allocated',
            sync: 'hybrid',
          }),
        })
        .prefault({})
        .describe('What each component switches to in each mode.'),
    })
    .prefault({}),
  gossip: z
    .strictObject({
      listen: HOST_PORT.optional().describe(
        "UDP address gossip binds (default: the peer network's bound host and port, on UDP).",
      ),
      advertise: HOST_PORT.optional().describe('UDP address other members send gossip to (default: the bound one).'),
      seeds: z
        .array(SEED)
        .optional()
        .describe(
          'Members to join through as `id@host:port` (UDP). Default: `network.seeds` (gossip uses the same port numbers on UDP).',
        ),
      profile: z
        .enum(['lan', 'wan', 'internet'])
        .optional()
        .describe(
          'SWIM timing profile (memberlist LAN/WAN, or internet). Default by the starting mode: `lan` datacenter, `wan` hybrid, `internet` internet.',
        ),
      probeIntervalMs: POSITIVE_MS.max(600_000)
        .optional()
        .describe("Failure-detection probe interval (default: the profile's)."),
      probeTimeoutMs: POSITIVE_MS.max(600_000)
        .optional()
        .describe("Time a direct probe waits before asking others to probe indirectly (default: the profile's)."),
      suspicionMult: z
        .number()
        .int()
        .min(1)
        .max(100)
        .optional()
        .describe(
          "Suspicion timeout in probe intervals, scaled by log10 of the cluster size (default: the profile's).",
        ),
      sealed: z
        .boolean()
        .default(true)
        .describe(
          'Seal every gossip and probe datagram (ChaCha20-Poly1305 under the cluster key, replay window). Off only on an isolated test network.',
        ),
      keyFile: z
        .string()
        .min(1)
        .optional()
        .describe(
          'File holding the cluster key (64 hex digits; `novacron cluster up` writes one). Default: `<dataDir>/cluster.key`, created by a node that has no other seeds. `security.gossipKeyFile` (a keyring, for rotation) replaces it when set.',
        ),
      keyEnv: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name')
        .default('NOVACRON_CLUSTER_KEY')
        .describe('Environment variable holding the cluster key when no key file is configured.'),
    })
    .prefault({})
    .describe('SWIM gossip membership (`cluster.membership: gossip`).'),
  pba: z
    .strictObject({
      modelService: z
        .strictObject({
          url: z
            .url({ protocol: /^https?$/ })
            .describe(
              'Base URL of the model service (pba bridge, docs/protocol/pba-bridge.md); requests go to `<url>/v1/predict`.',
            ),
          model: z
            .string()
            .regex(/^[A-Za-z0-9_.:-]{1,64}$/)
            .default('placement')
            .describe('Model name asked for placement scores.'),
          timeoutMs: POSITIVE_MS.max(10_000)
            .default(80)
            .describe('Deadline of one call; past it the local score is used.'),
        })
        .optional()
        .describe(
          "A model service for placement: registers the `learned` placement policy (itp's learned scorer backed by pba's model bridge), usable as a mode's `placementPolicy`.",
        ),
    })
    .prefault({}),
  provider: z
    .strictObject({
      kind: z.enum(['memory', 'qemu']).default('memory').describe('VM provider: `memory` (simulated VMs) or `qemu`.'),
      qemu: z
        .strictObject({
          binary: z.string().min(1).default('qemu-system-x86_64').describe('QEMU emulator binary.'),
          accel: z.enum(['tcg', 'kvm']).default('tcg').describe('Accelerator.'),
          workDir: z.string().min(1).optional().describe('Per-VM state directory (default: `<dataDir>/qemu`).'),
        })
        .prefault({}),
    })
    .prefault({}),
  security: z
    .strictObject({
      insecure: z
        .boolean()
        .default(false)
        .describe(
          'Turn encryption and API authentication off (plain TCP peers, open API). Only for tests and local development.',
        ),
      caCertFile: z
        .string()
        .min(1)
        .optional()
        .describe(
          'Cluster CA certificate (PEM): peers must present a certificate it issued. Unset: peers are pinned by node id (`pinnedPeers` and seed ids).',
        ),
      caKeyFile: z
        .string()
        .min(1)
        .optional()
        .describe(
          'Cluster CA private key (PEM, a secret): lets this node issue its own certificate and admit nodes presenting join tokens. Keep it on bootstrap nodes only.',
        ),
      certFile: z
        .string()
        .min(1)
        .optional()
        .describe(
          "This node's certificate issued by the cluster CA (PEM, for its identity key). Default: `<dataDir>/node.crt` when present (written by a join), else issued with `caKeyFile`.",
        ),
      pinnedPeers: z
        .array(z.string().regex(/^nc[a-z2-7]+$/, 'a node id derived from a key (nc...)'))
        .default([])
        .describe('Node ids (derived from their keys) accepted as peers without a CA, besides the seed ids.'),
      join: z
        .strictObject({
          url: z
            .string()
            .url()
            .optional()
            .describe(
              'API URL of a member holding the CA key: a node without a certificate asks it for one with a join token.',
            ),
          tokenFile: z
            .string()
            .min(1)
            .optional()
            .describe('File holding the single-use join token (or set NOVACRON_JOIN_TOKEN).'),
        })
        .prefault({}),
      gossipKeyFile: z
        .string()
        .min(1)
        .optional()
        .describe(
          'Cluster keyring for sealed UDP gossip (a secret): one `id:64-hex-digit-key` per line, id 1-255; the first line seals, every line opens (rotation without a flag day). When set it replaces `gossip.keyFile`/`gossip.keyEnv`.',
        ),
      apiTokenFile: z
        .string()
        .min(1)
        .optional()
        .describe(
          'Where the node writes a bootstrap admin API token on first start (mode 0600; default `<dataDir>/admin.token`).',
        ),
      auditDir: z
        .string()
        .min(1)
        .optional()
        .describe('Directory of the hash-chained audit log (default `<dataDir>/audit`).'),
      authFailures: z
        .strictObject({
          max: z
            .number()
            .int()
            .min(1)
            .max(10_000)
            .default(10)
            .describe('Failed API authentications per client address and minute before it is locked out.'),
          lockoutMs: POSITIVE_MS.default(30_000).describe(
            'First lockout; doubles with each further lockout, up to 15 minutes.',
          ),
        })
        .prefault({}),
    })
    .prefault({})
    .describe('Encryption of peer links, API access control and the audit log (docs/security.md).'),
  migration: z
    .strictObject({
      listen: HOST_PORT.default('127.0.0.1:0').describe(
        'Address of the migration data port (amst lanes of incoming migrations; port 0 picks a free one).',
      ),
      advertise: HOST_PORT.optional().describe('Migration data address peers dial (default: the bound address).'),
      downtimeBudgetMs: POSITIVE_MS.max(60_000)
        .default(300)
        .describe('Longest a VM may be paused at switchover (pre-copy switches over once the rest fits).'),
      maxRounds: z
        .number()
        .int()
        .min(1)
        .max(1000)
        .default(30)
        .describe('Pre-copy rounds before giving up on convergence.'),
      autoConverge: z
        .boolean()
        .default(true)
        .describe("Throttle the guest's dirty rate (through the provider) when rounds stop shrinking."),
      throttleSteps: z
        .array(z.number().gt(0).lt(1))
        .min(1)
        .max(16)
        .default([0.5, 0.25, 0.1, 0.02])
        .describe('Successive dirty-rate caps, as fractions of the measured transfer rate.'),
      postCopy: z
        .boolean()
        .default(true)
        .describe('When pre-copy cannot converge, switch over and pull the remaining pages on demand.'),
      switchoverCostMs: z
        .number()
        .nonnegative()
        .max(10_000)
        .default(20)
        .describe('Fixed cost of a switchover (pause, last stream, ownership commit) added to the predicted downtime.'),
      bandwidthBytesPerSecond: z
        .number()
        .nonnegative()
        .default(0)
        .describe("Bytes/s this node's outgoing migrations share, split by pba (0: unpaced)."),
      lanes: z
        .number()
        .int()
        .min(0)
        .max(64)
        .default(0)
        .describe('amst lanes per migration stream (0: adaptive, amst chooses within the mode preset).'),
      codec: z
        .enum(['mode', 'none', 'lz4', 'zstd-1', 'zstd-3', 'zstd-19', 'deflate', 'adaptive'])
        .default('mode')
        .describe("hde codec for literal pages (`mode`: the mode profile's `hdeCodec`; `adaptive`: hde's selector)."),
      batchPages: z.number().int().min(1).max(4096).default(256).describe('Pages per record of a migration stream.'),
      postCopyStreamPages: z
        .number()
        .int()
        .min(1)
        .max(65_536)
        .default(256)
        .describe('Pages per post-copy stream (smaller: faulted pages are served sooner).'),
      chunkBytes: z
        .number()
        .int()
        .min(4096)
        .max(16 * 1024 * 1024)
        .default(256 * 1024)
        .describe('amst chunk size of migration streams.'),
      resumeWindowMs: POSITIVE_MS.max(600_000)
        .default(5_000)
        .describe('How long a stream whose lanes all died keeps redialling before the migration rolls back.'),
      verifyDigest: z
        .boolean()
        .default(false)
        .describe('Hash the memory on both sides at a pre-copy switchover (adds downtime; for audits and tests).'),
    })
    .prefault({})
    .describe('Live migration (#13).'),
  log: z
    .strictObject({
      level: z
        .enum(['trace', 'debug', 'info', 'warn', 'error', 'silent'])
        .default('info')
        .describe('Log level (pino).'),
    })
    .prefault({}),
});

/** The configuration as written (every field optional). */
export type NodeConfigInput = z.input<typeof nodeConfigSchema>;
/** The configuration after defaults and presets. */
export type NodeConfig = z.output<typeof nodeConfigSchema> & ResolvedByPreset;

/** Fields whose defaults come from the preset (resolved by `resolveNodeConfig`). */
export interface ResolvedByPreset {
  readonly cluster: z.output<typeof nodeConfigSchema>['cluster'] & {
    readonly failoverAfterMs: number;
    readonly raft: { readonly tickMs: number };
  };
  readonly mode: z.output<typeof nodeConfigSchema>['mode'] & { readonly probeIntervalMs: number };
}
