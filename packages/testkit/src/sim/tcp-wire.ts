/**
 * The units a simulated TCP connection puts on the wire. A {@link Segment} is
 * a burst of up to one MSS of payload (many 1500-byte packets travelling
 * together) so a long transfer costs few simulation events; the congestion
 * window is still counted in bytes, so the control loop behaves as if the
 * packets were separate.
 */

/** One transmission of stream bytes `[seq, seq + data.length)`, optionally ending the stream. */
export interface Segment {
  /** Byte offset of `data[0]` in the stream. */
  readonly seq: number;
  /** Payload (may be empty for a pure FIN). */
  readonly data: Uint8Array;
  /** The sender writes nothing after this segment's bytes. */
  readonly fin: boolean;
  /**
   * Which transmission this is (a per-sender counter). Echoed in the ack so
   * the sender knows exactly which copy arrived: RTT samples stay exact
   * under retransmission and later-sent copies that arrive prove earlier
   * ones lost.
   */
  readonly txSeq: number;
}

/** The receiver's answer to a segment, or a window update (`txSeq` -1). */
export interface Ack {
  /** `seq` of the segment acknowledged (-1 for a window update). */
  readonly seq: number;
  /** `txSeq` of the copy that arrived (-1 for a window update). */
  readonly txSeq: number;
  /** Every stream byte below this offset has arrived in order (+1 once the FIN has). */
  readonly cumAck: number;
  /** The sender may send bytes below this offset (receive window). */
  readonly limit: number;
}

/** Offset just past a segment, counting the FIN as one unit of sequence space like TCP. */
export function segmentEnd(seg: { readonly seq: number; readonly data: Uint8Array; readonly fin: boolean }): number {
  return seg.seq + seg.data.length + (seg.fin ? 1 : 0);
}
