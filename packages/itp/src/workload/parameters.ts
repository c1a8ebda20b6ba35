/**
 * The committed parameter table of the workload generator. Every number
 * carries its basis: `published` when the source states it, `assumed` when
 * the source only constrains it (the constraint is quoted in `note`). Edit
 * the assumed shares when fitting a real trace; the generator reads only
 * this table.
 */

/** Where a parameter comes from. */
export interface ParameterSource {
  /** Citation (paper, dataset page). */
  readonly source: string;
  /** `published`: stated by the source; `assumed`: chosen by us within what the source states. */
  readonly basis: 'published' | 'assumed';
  /** What the source says that bounds the value. */
  readonly note: string;
}

/** One VM size of a preset's mix. */
export interface VmType {
  /** Name such as `1U2G`. */
  readonly name: string;
  /** Virtual CPUs. */
  readonly vcpus: number;
  /** Memory in GiB. */
  readonly memoryGiB: number;
  /** Share of requests (the shares of a preset sum to 1). */
  readonly share: number;
}

/** Log-normal VM lifetime: heavy right tail, as cloud traces show. */
export interface LifetimeModel {
  /** Median lifetime in seconds. */
  readonly medianSeconds: number;
  /** Standard deviation of ln(lifetime). */
  readonly sigma: number;
  /** Lifetimes are capped here (a trace has a finite window). */
  readonly maxSeconds: number;
}

/** A named workload preset. */
export interface WorkloadPreset {
  /** Preset name. */
  readonly name: string;
  /** VM size mix. */
  readonly types: readonly VmType[];
  /** Where the mix comes from. */
  readonly typesSource: ParameterSource;
  /** Lifetime distribution. */
  readonly lifetime: LifetimeModel;
  /** Where the lifetime model comes from. */
  readonly lifetimeSource: ParameterSource;
}

const RESOURCE_CENTRAL =
  'Cortez et al., "Resource Central: Understanding and Predicting Workloads for Improved Resource Management in Large Cloud Platforms", SOSP 2017';

/** Lifetimes shared by both presets: median 1 h, σ = 2 (mean ≈ 7.4 h), capped at the traces' 30-day window. */
const LIFETIME: LifetimeModel = { medianSeconds: 3600, sigma: 2, maxSeconds: 30 * 86_400 };
const LIFETIME_SOURCE: ParameterSource = {
  source: `${RESOURCE_CENTRAL}; Huawei-East-1 (VMAgent dataset page, https://vmagent.readthedocs.io/en/latest/simulator/dataset.html)`,
  basis: 'assumed',
  note: 'Resource Central reports heavy-tailed lifetimes with most VMs short-lived and a long tail lasting days; both traces span 30 days. Median and σ are ours within that shape.',
};

/**
 * Huawei-East-1: 30 days of VM creations (125,430) and deletions (116,313)
 * in East China, 15 VM types. The source states that more than two thirds
 * of requests are 1 vCPU with under 2 GB, and that 1U1G, 1U2G, 2U4G and
 * 4U8G make up the main body; it lists nine type names. Shares below meet
 * those statements (1U ≤ 2G = 70%).
 */
export const HUAWEI_EAST_1: WorkloadPreset = {
  name: 'huawei-east-1',
  types: [
    { name: '1U1G', vcpus: 1, memoryGiB: 1, share: 0.4 },
    { name: '1U2G', vcpus: 1, memoryGiB: 2, share: 0.3 },
    { name: '2U4G', vcpus: 2, memoryGiB: 4, share: 0.14 },
    { name: '4U8G', vcpus: 4, memoryGiB: 8, share: 0.08 },
    { name: '2U8G', vcpus: 2, memoryGiB: 8, share: 0.02 },
    { name: '4U16G', vcpus: 4, memoryGiB: 16, share: 0.02 },
    { name: '8U16G', vcpus: 8, memoryGiB: 16, share: 0.02 },
    { name: '8U32G', vcpus: 8, memoryGiB: 32, share: 0.01 },
    { name: '1U4G', vcpus: 1, memoryGiB: 4, share: 0.01 },
  ],
  typesSource: {
    source: 'Huawei-East-1, VMAgent dataset page (https://vmagent.readthedocs.io/en/latest/simulator/dataset.html)',
    basis: 'assumed',
    note: '"More than 2/3 requests only consume 1U and less than 2G"; "1U1G, 1U2G, 2U4G and 4U8G constitute the main body"; type names from the sharing-ratio table. Per-type shares are not published as numbers.',
  },
  lifetime: LIFETIME,
  lifetimeSource: LIFETIME_SOURCE,
};

/**
 * Azure 2019 (AzurePublicDatasetV2): VM sizes are published only as core
 * buckets (2, 4, 8, 24, >24) and memory buckets in GB (2, 4, 8, 32, 64,
 * >64); a bucket's upper edge stands for its VMs here, and the open
 * buckets (>24 cores, >64 GB) are represented by 30 cores / 70 GB (our
 * choice).
 */
export const AZURE_2019: WorkloadPreset = {
  name: 'azure-2019',
  types: [
    { name: '2c-4g', vcpus: 2, memoryGiB: 4, share: 0.45 },
    { name: '2c-8g', vcpus: 2, memoryGiB: 8, share: 0.1 },
    { name: '4c-8g', vcpus: 4, memoryGiB: 8, share: 0.15 },
    { name: '4c-32g', vcpus: 4, memoryGiB: 32, share: 0.1 },
    { name: '8c-32g', vcpus: 8, memoryGiB: 32, share: 0.12 },
    { name: '8c-64g', vcpus: 8, memoryGiB: 64, share: 0.04 },
    { name: '24c-64g', vcpus: 24, memoryGiB: 64, share: 0.03 },
    { name: '30c-70g', vcpus: 30, memoryGiB: 70, share: 0.01 },
  ],
  typesSource: {
    source:
      'Azure Public Dataset V2 (https://github.com/Azure/AzurePublicDataset/blob/master/AzurePublicDatasetV2.md); Resource Central, SOSP 2017',
    basis: 'assumed',
    note: "Bucket edges are the dataset's; the trace publishes per-VM buckets, not their shares. Shares are ours, chosen so small VMs dominate as Resource Central reports for Azure; fit them to the trace's VM table for exact values.",
  },
  lifetime: LIFETIME,
  lifetimeSource: LIFETIME_SOURCE,
};

/** Every preset by name. */
export const WORKLOAD_PRESETS: Readonly<Record<string, WorkloadPreset>> = {
  [HUAWEI_EAST_1.name]: HUAWEI_EAST_1,
  [AZURE_2019.name]: AZURE_2019,
};
