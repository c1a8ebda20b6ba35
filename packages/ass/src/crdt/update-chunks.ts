import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

/** Bytes reserved per client segment of a chunk for its header (count, client, clock: three varuints). */
const SEGMENT_HEADER_BYTES = 3 * 9;
/** Bytes reserved per chunk for the client count and an empty delete set. */
const CHUNK_HEADER_BYTES = 2 * 9;
/** Bytes at most of one delete-set range (clock and length varuints) plus its client header share. */
const DS_RANGE_BYTES = 2 * 9;

interface Segment {
  readonly client: number;
  readonly clock: number;
  count: number;
  readonly start: number;
  end: number;
}

/**
 * What `doc` holds beyond `target` (a decoded state vector) as Yjs v1
 * updates of at most about `maxBytes` each — the content of one
 * y-protocols sync step 2, split so that no message exceeds a network's
 * size limit. Each chunk is a complete, valid update (a stock peer applies
 * it with `Y.applyUpdate`); structs come client by client in clock order,
 * so a receiver that applies a prefix of the chunks has integrated them
 * and its state vector shows how far it got: the next step 1 resumes from
 * there. The delete set rides in the last chunk, or in chunks of its own
 * when it does not fit. A single struct larger than `maxBytes` (a value
 * near the 1 MiB limit) gets a chunk of its own that may exceed it.
 *
 * When everything fits, the one chunk holds the same structs and delete
 * set as `Y.encodeStateAsUpdate(doc, encodedTarget)`.
 */
export function encodeUpdateChunks(doc: Y.Doc, target: ReadonlyMap<number, number>, maxBytes: number): Uint8Array[] {
  return [...updateChunks(doc, target, maxBytes)];
}

/**
 * {@link encodeUpdateChunks} one chunk at a time, so a sender can put the
 * first on the wire (and the receiver apply it) while later ones are being
 * encoded. The document must not change until the generator is done.
 */
export function* updateChunks(
  doc: Y.Doc,
  target: ReadonlyMap<number, number>,
  maxBytes: number,
): Generator<Uint8Array, void, undefined> {
  const store = doc.store;
  let body = new Y.UpdateEncoderV1();
  let current: Segment[] = [];
  let used = CHUNK_HEADER_BYTES;
  let emitted = 0;
  const clients = [...store.clients.keys()]
    .filter((client) => Y.getState(store, client) > (target.get(client) ?? 0))
    // Higher client ids first, as Yjs writes them (its conflict resolution integrates faster that way).
    .sort((a, b) => b - a);
  for (const client of clients) {
    const structs = store.clients.get(client)!;
    const from = Math.max(target.get(client) ?? 0, structs[0]!.id.clock);
    let seg: Segment | undefined;
    for (let i = Y.findIndexSS(structs, from); i < structs.length; i++) {
      const struct = structs[i]!;
      // Only the first struct can start before `from` (the target saw part of it).
      const skip = struct.id.clock >= from ? 0 : from - struct.id.clock;
      let start = encoding.length(body.restEncoder);
      struct.write(body, skip);
      let end = encoding.length(body.restEncoder);
      if (used + end - start + (seg === undefined ? SEGMENT_HEADER_BYTES : 0) > maxBytes && current.length > 0) {
        // This struct starts the next chunk: close the current one without it.
        const bytes = encoding.toUint8Array(body.restEncoder);
        yield assemble(current, bytes, []);
        emitted++;
        body = new Y.UpdateEncoderV1();
        encoding.writeUint8Array(body.restEncoder, bytes.subarray(start, end));
        end -= start;
        start = 0;
        current = [];
        used = CHUNK_HEADER_BYTES;
        seg = undefined;
      }
      if (seg === undefined) {
        seg = { client, clock: struct.id.clock + skip, count: 0, start, end };
        current.push(seg);
        used += SEGMENT_HEADER_BYTES;
      }
      seg.count++;
      seg.end = end;
      used += end - start;
    }
  }
  const bytes = encoding.toUint8Array(body.restEncoder);

  // The delete set as [client, ranges] pieces that each fit a chunk. It
  // rides in the last struct chunk when it fits; otherwise it goes in
  // chunks of its own (no structs), as many as it needs.
  const ds = Y.createDeleteSetFromStructStore(store);
  const per = Math.max(1, Math.floor((maxBytes - CHUNK_HEADER_BYTES - SEGMENT_HEADER_BYTES) / DS_RANGE_BYTES));
  const pieces: DsPiece[] = [];
  let dsBytes = 0;
  for (const [client, ranges] of [...ds.clients.entries()].sort((a, b) => b[0] - a[0])) {
    for (let i = 0; i < ranges.length; i += per) {
      const part = ranges.slice(i, i + per);
      pieces.push([client, part]);
      dsBytes += SEGMENT_HEADER_BYTES + part.length * DS_RANGE_BYTES;
    }
  }
  let tail = current;
  let dsChunk: DsPiece[] = [];
  let dsUsed = used;
  if (dsBytes + used > maxBytes && current.length > 0) {
    yield assemble(current, bytes, []);
    emitted++;
    tail = [];
    dsUsed = CHUNK_HEADER_BYTES;
  }
  for (const piece of pieces) {
    const size = SEGMENT_HEADER_BYTES + piece[1].length * DS_RANGE_BYTES;
    if (dsUsed + size > maxBytes && (dsChunk.length > 0 || tail.length > 0)) {
      yield assemble(tail, bytes, dsChunk);
      emitted++;
      tail = [];
      dsChunk = [];
      dsUsed = CHUNK_HEADER_BYTES;
    }
    dsChunk.push(piece);
    dsUsed += size;
  }
  if (dsChunk.length > 0 || tail.length > 0 || emitted === 0) yield assemble(tail, bytes, dsChunk);
}

type DsPiece = [client: number, ranges: { clock: number; len: number }[]];

/** One v1 update: the segments' structs (`bytes` holds their encodings), then the delete-set pieces. */
function assemble(segs: readonly Segment[], bytes: Uint8Array, ds: readonly DsPiece[]): Uint8Array {
  const e = new Y.UpdateEncoderV1();
  encoding.writeVarUint(e.restEncoder, segs.length);
  for (const s of segs) {
    encoding.writeVarUint(e.restEncoder, s.count);
    e.writeClient(s.client);
    encoding.writeVarUint(e.restEncoder, s.clock);
    encoding.writeUint8Array(e.restEncoder, bytes.subarray(s.start, s.end));
  }
  encoding.writeVarUint(e.restEncoder, ds.length);
  for (const [client, ranges] of ds) {
    e.resetDsCurVal();
    encoding.writeVarUint(e.restEncoder, client);
    encoding.writeVarUint(e.restEncoder, ranges.length);
    for (const r of ranges) {
      e.writeDsClock(r.clock);
      e.writeDsLen(r.len);
    }
  }
  return e.toUint8Array();
}
