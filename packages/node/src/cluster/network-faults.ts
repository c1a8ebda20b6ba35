import type { NodeId, PeerMessageHandler, PeerNetwork } from '@novacron/core';

/**
 * Switchable faults on a node's peer traffic, for partition tests and chaos
 * drills (`createNode(..., { faults })`): while a peer is cut off, every
 * message to it is dropped and every message from it is ignored, on each
 * network wrapped with {@link withFaults} (the control log, forwarding and
 * gossip), so the node sees a real partition: it cannot tell it from a
 * broken link.
 */
export class NetworkFaults {
  readonly #cut = new Set<NodeId>();
  /** Messages dropped so far (both directions). */
  dropped = 0;

  /** Cuts this node off from `peers` (in addition to any already cut). */
  cut(peers: Iterable<NodeId>): void {
    for (const p of peers) this.#cut.add(p);
  }

  /** Restores every link. */
  heal(): void {
    this.#cut.clear();
  }

  /** True while traffic with `peer` is dropped. */
  blocks(peer: NodeId): boolean {
    return this.#cut.has(peer);
  }
}

/** `inner` with `faults` applied in both directions. */
export function withFaults(inner: PeerNetwork, faults: NetworkFaults): PeerNetwork {
  return {
    get localId() {
      return inner.localId;
    },
    get maxMessageSize() {
      return inner.maxMessageSize;
    },
    send(to: NodeId, channel: string, data: Uint8Array): void {
      if (faults.blocks(to)) {
        faults.dropped++;
        return;
      }
      inner.send(to, channel, data);
    },
    handle(channel: string, handler: PeerMessageHandler): () => void {
      return inner.handle(channel, (from, data) => {
        if (faults.blocks(from)) {
          faults.dropped++;
          return;
        }
        handler(from, data);
      });
    },
  };
}
