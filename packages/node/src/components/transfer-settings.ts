import { LANE_PRESETS, type LanePreset } from '@novacron/amst';
import type { ChunkCodec, LinkMode, LinkSample } from '@novacron/core';
import { type CodecId, CodecSelector, hdeCodec } from '@novacron/hde';
import { defaultPredictor, type EnsemblePredictor } from '@novacron/pba';
import type { NodeConfig } from '../config/schema.js';
import { component, type NodeComponent } from './component.js';

type Profile = NodeConfig['mode']['profiles']['datacenter'];

/** hde codec preset name (`mode.profiles.<mode>.hdeCodec`) → fixed codec; `adaptive` picks per chunk. */
const CODEC_OF: Readonly<Record<Exclude<Profile['hdeCodec'], 'adaptive'>, CodecId>> = {
  none: 'none',
  lz4: 'lz4',
  'zstd-fast': 'zstd-1',
  zstd: 'zstd-3',
  'zstd-max': 'zstd-19',
};

/**
 * The transfer settings a migration (#13) reads, rebuilt by the mode
 * components on every mode change: the hde chunk codec (a fixed codec, or
 * hde's selector for `adaptive`), amst's lane limits (the mode's preset with
 * `amstLanes` as the starting count) and pba's RTT forecaster over a
 * `pbaWindow`-sample error window, fed by the node's RTT probes. Each
 * rebuild is synchronous and allocation-light (the selector is built once),
 * so a mode change reconfigures every component within one event-loop turn.
 */
export class TransferSettings {
  readonly #profiles: NodeConfig['mode']['profiles'];
  readonly #selector = new CodecSelector();
  #mode: LinkMode;
  #codec: ChunkCodec;
  #lanes: LanePreset;
  #forecaster: EnsemblePredictor;
  #window: number;
  /** Mode changes applied so far, per part. */
  readonly applied = { hde: 0, amst: 0, pba: 0 };

  constructor(profiles: NodeConfig['mode']['profiles'], mode: LinkMode) {
    this.#profiles = profiles;
    this.#mode = mode;
    this.#codec = this.#buildCodec(mode);
    this.#lanes = this.#buildLanes(mode);
    this.#window = profiles[mode].pbaWindow;
    this.#forecaster = defaultPredictor({ lstm: false, tracking: { window: this.#window } });
  }

  /** The mode the settings are for. */
  get mode(): LinkMode {
    return this.#mode;
  }
  /** hde chunk codec for transfers in this mode. */
  get codec(): ChunkCodec {
    return this.#codec;
  }
  /** amst lane limits for transfers in this mode. */
  get lanes(): LanePreset {
    return this.#lanes;
  }
  /** pba's RTT forecaster (fed by the node's probes). */
  get forecaster(): EnsemblePredictor {
    return this.#forecaster;
  }
  /** Error window pba's forecaster uses now. */
  get window(): number {
    return this.#window;
  }

  /** Feeds one RTT sample to the forecaster. */
  observe(sample: LinkSample): void {
    if (sample.rttMs !== undefined) this.#forecaster.observe({ value: sample.rttMs, at: sample.at });
  }

  /** hde: the mode's codec preset. */
  applyHde(mode: LinkMode): void {
    this.#mode = mode;
    this.#codec = this.#buildCodec(mode);
    this.applied.hde++;
  }

  /** amst: the mode's lane preset, starting at `amstLanes`. */
  applyAmst(mode: LinkMode): void {
    this.#lanes = this.#buildLanes(mode);
    this.applied.amst++;
  }

  /** pba: a forecaster over the mode's window (a new stream: the old errors were for another link). */
  applyPba(mode: LinkMode): void {
    const window = this.#profiles[mode].pbaWindow;
    if (window !== this.#window) {
      this.#window = window;
      this.#forecaster = defaultPredictor({ lstm: false, tracking: { window } });
    }
    this.applied.pba++;
  }

  #buildCodec(mode: LinkMode): ChunkCodec {
    const preset = this.#profiles[mode].hdeCodec;
    return preset === 'adaptive' ? hdeCodec({ selector: this.#selector }) : hdeCodec({ codec: CODEC_OF[preset] });
  }

  #buildLanes(mode: LinkMode): LanePreset {
    const p = LANE_PRESETS[mode];
    const initial = Math.min(
      Math.max(this.#profiles[mode].amstLanes, p.min),
      Math.max(p.max, this.#profiles[mode].amstLanes),
    );
    return { initial, min: p.min, max: Math.max(p.max, initial) };
  }
}

/** The `hde`, `amst` and `pba` components: each applies its part of {@link TransferSettings} on a mode change. */
export function transferComponents(settings: () => TransferSettings): NodeComponent[] {
  return [
    component('hde', { dependsOn: ['mode'], reconfigure: (m) => settings().applyHde(m) }),
    component('amst', { dependsOn: ['mode'], reconfigure: (m) => settings().applyAmst(m) }),
    component('pba', { dependsOn: ['mode'], reconfigure: (m) => settings().applyPba(m) }),
  ];
}
