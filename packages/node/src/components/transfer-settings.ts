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
 * The transfer settings a migration (#13) reads, switched by the mode
 * components on every mode change: the hde chunk codec (a fixed codec, or
 * hde's selector for `adaptive`), amst's lane limits (the mode's preset with
 * `amstLanes` as the starting count) and pba's RTT forecaster with a
 * `pbaWindow`-sample error window, fed by the node's RTT probes. Everything
 * is built for all three modes up front (one forecaster per distinct window,
 * each fed every sample, so a switch keeps the history), so applying a mode
 * is a few field assignments: no allocation, no compilation, no waiting on
 * the event loop inside the measured reconfiguration.
 */
export class TransferSettings {
  readonly #codecs: Readonly<Record<LinkMode, ChunkCodec>>;
  readonly #lanes: Readonly<Record<LinkMode, LanePreset>>;
  readonly #forecasters = new Map<number, EnsemblePredictor>();
  readonly #profiles: NodeConfig['mode']['profiles'];
  #mode: LinkMode;
  #codec: ChunkCodec;
  #lane: LanePreset;
  #window: number;
  /** Mode changes applied so far, per part. */
  readonly applied = { hde: 0, amst: 0, pba: 0 };

  constructor(profiles: NodeConfig['mode']['profiles'], mode: LinkMode) {
    this.#profiles = profiles;
    const selector = new CodecSelector();
    const modes: LinkMode[] = ['datacenter', 'hybrid', 'internet'];
    const codecOf = (m: LinkMode): ChunkCodec => {
      const preset = profiles[m].hdeCodec;
      return preset === 'adaptive' ? hdeCodec({ selector }) : hdeCodec({ codec: CODEC_OF[preset] });
    };
    const lanesOf = (m: LinkMode): LanePreset => {
      const p = LANE_PRESETS[m];
      const initial = Math.max(profiles[m].amstLanes, p.min);
      return { initial, min: p.min, max: Math.max(p.max, initial) };
    };
    this.#codecs = Object.fromEntries(modes.map((m) => [m, codecOf(m)])) as Record<LinkMode, ChunkCodec>;
    this.#lanes = Object.fromEntries(modes.map((m) => [m, lanesOf(m)])) as Record<LinkMode, LanePreset>;
    for (const m of modes) {
      const window = profiles[m].pbaWindow;
      if (!this.#forecasters.has(window))
        this.#forecasters.set(window, defaultPredictor({ lstm: false, tracking: { window } }));
    }
    this.#mode = mode;
    this.#codec = this.#codecs[mode];
    this.#lane = this.#lanes[mode];
    this.#window = profiles[mode].pbaWindow;
  }

  /** The mode the codec was last set for. */
  get mode(): LinkMode {
    return this.#mode;
  }
  /** hde chunk codec for transfers in this mode. */
  get codec(): ChunkCodec {
    return this.#codec;
  }
  /** amst lane limits for transfers in this mode. */
  get lanes(): LanePreset {
    return this.#lane;
  }
  /** pba's RTT forecaster for this mode's window (fed by the node's probes). */
  get forecaster(): EnsemblePredictor {
    return this.#forecasters.get(this.#window)!;
  }
  /** Error window pba's forecaster uses now. */
  get window(): number {
    return this.#window;
  }

  /** Feeds one RTT sample to the forecasters. */
  observe(sample: LinkSample): void {
    if (sample.rttMs === undefined) return;
    for (const f of this.#forecasters.values()) f.observe({ value: sample.rttMs, at: sample.at });
  }

  /** hde: the mode's codec preset. */
  applyHde(mode: LinkMode): void {
    this.#mode = mode;
    this.#codec = this.#codecs[mode];
    this.applied.hde++;
  }

  /** amst: the mode's lane preset, starting at `amstLanes`. */
  applyAmst(mode: LinkMode): void {
    this.#lane = this.#lanes[mode];
    this.applied.amst++;
  }

  /** pba: the forecaster with the mode's window. */
  applyPba(mode: LinkMode): void {
    this.#window = this.#profiles[mode].pbaWindow;
    this.applied.pba++;
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
