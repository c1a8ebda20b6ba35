import type { LinkMode, Startable } from '@novacron/core';

/** Health of one component as reported by {@link NodeComponent.health}. */
export interface ComponentHealth {
  /** `ok`: serving; `degraded`: serving with a problem; `down`: not serving. */
  readonly status: 'ok' | 'degraded' | 'down';
  /** One line for humans (e.g. `no leader for 3 s`). */
  readonly detail?: string;
}

/**
 * One part of a node (peer network, control log, provider, API server, ...).
 * It names the components it needs started first; the {@link ComponentGraph}
 * starts it after them and stops it before them. Constructors do no I/O
 * (core's {@link Startable} rule), so a graph can be built and validated
 * without side effects.
 */
export interface NodeComponent extends Startable {
  /** Unique name in the graph (`peer-network`, `control-log`, ...). */
  readonly name: string;
  /** Names of components that must be started before this one. */
  readonly dependsOn?: readonly string[];
  /** Current health (default: `ok` while started). */
  health?(): ComponentHealth;
  /**
   * Applies a new network mode (hde presets, amst lanes, pba windows, itp
   * policy, ...). Called by the node on every effective mode change.
   */
  reconfigure?(mode: LinkMode): void | Promise<void>;
}

/** Builds a {@link NodeComponent} from plain functions (for small components and tests). */
export function component(
  name: string,
  parts: {
    readonly dependsOn?: readonly string[];
    readonly start?: () => void | Promise<void>;
    readonly stop?: () => void | Promise<void>;
    readonly health?: () => ComponentHealth;
    readonly reconfigure?: (mode: LinkMode) => void | Promise<void>;
  } = {},
): NodeComponent {
  return {
    name,
    ...(parts.dependsOn ? { dependsOn: parts.dependsOn } : {}),
    start: parts.start ?? (() => undefined),
    stop: parts.stop ?? (() => undefined),
    ...(parts.health ? { health: parts.health } : {}),
    ...(parts.reconfigure ? { reconfigure: parts.reconfigure } : {}),
  };
}
