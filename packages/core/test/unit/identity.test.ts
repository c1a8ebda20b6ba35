import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  asNodeId,
  assertSignature,
  contentId,
  decodeIdentityFile,
  encodeIdentityFile,
  type FileIO,
  IDENTITY_FILE_MAX_BYTES,
  isDerivedNodeId,
  isNovacronError,
  loadIdentity,
  loadOrCreateIdentity,
  NODE_ID_LENGTH,
  NodeIdentity,
  nodeFileIO,
  nodeIdFromPublicKey,
  saveIdentity,
  verifyNodeId,
  verifySignature,
} from '@novacron/core';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** RFC 8032 section 7.1, Ed25519 TEST 1, 2, 3 and SHA(abc). */
const RFC8032 = [
  {
    name: 'TEST 1 (empty message)',
    secretKey: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2 (one byte)',
    secretKey: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3 (two bytes)',
    secretKey: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST SHA(abc)',
    secretKey: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    publicKey: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message:
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature:
      'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
];

/** Runs `fn` and returns what it threw (failing the test when it did not throw). */
async function rejection(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

function codeOf(err: unknown): string | undefined {
  return isNovacronError(err) ? err.code : `not a NovacronError: ${String(err)}`;
}

describe('Ed25519 known answers (RFC 8032)', () => {
  for (const v of RFC8032) {
    it(v.name, () => {
      const id = NodeIdentity.fromSecretKey(fromHex(v.secretKey));
      expect(toHex(id.publicKey)).toBe(v.publicKey);
      const sig = id.sign(fromHex(v.message));
      expect(toHex(sig)).toBe(v.signature);
      expect(verifySignature(fromHex(v.publicKey), fromHex(v.message), fromHex(v.signature))).toBe(true);
      expect(id.verify(fromHex(v.message), sig)).toBe(true);
    });
  }
});

describe('signatures', () => {
  const alice = NodeIdentity.generate();
  const bob = NodeIdentity.generate();

  it('verify for the signer only, and only for the signed message', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (msg, at) => {
        const sig = alice.sign(msg);
        expect(verifySignature(alice.publicKey, msg, sig)).toBe(true);
        expect(verifySignature(bob.publicKey, msg, sig)).toBe(false);
        const tampered = Uint8Array.from(sig);
        tampered[at % 64]! ^= 1 << (at % 8);
        expect(verifySignature(alice.publicKey, msg, tampered)).toBe(false);
        if (msg.length > 0) {
          const other = Uint8Array.from(msg);
          other[at % msg.length]! ^= 0x80;
          expect(verifySignature(alice.publicKey, other, sig)).toBe(false);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('assertSignature throws CORE_SIGNATURE_INVALID naming the node, not the bytes', () => {
    const msg = utf8('hello');
    expect(() => assertSignature(alice.publicKey, msg, alice.sign(msg))).not.toThrow();
    let caught: unknown;
    try {
      assertSignature(bob.publicKey, msg, alice.sign(msg));
    } catch (err) {
      caught = err;
    }
    expect(codeOf(caught)).toBe('CORE_SIGNATURE_INVALID');
    expect((caught as { details: unknown }).details).toEqual({ nodeId: bob.nodeId, messageLength: 5 });
  });

  it('rejects keys that are not curve points or are small-order, without throwing', () => {
    const msg = utf8('m');
    const sig = alice.sign(msg);
    // y = 2 is not on the curve; the all-zero key... is y = 0, a point of order 4 (small order).
    const notOnCurve = new Uint8Array(32);
    notOnCurve[0] = 2;
    const smallOrder = new Uint8Array(32);
    expect(verifySignature(notOnCurve, msg, sig)).toBe(false);
    expect(verifySignature(smallOrder, msg, sig)).toBe(false);
    // The identity point (y = 1) with R = identity and s = 0 "signs" every message unless small-order keys are refused.
    const identityPoint = new Uint8Array(32);
    identityPoint[0] = 1;
    const trivialSig = new Uint8Array(64);
    trivialSig[0] = 1;
    expect(verifySignature(identityPoint, msg, trivialSig)).toBe(false);
  });

  it('validates argument types and lengths with CORE_INVALID_ARGUMENT', async () => {
    const msg = utf8('m');
    const sig = alice.sign(msg);
    const bad: (() => unknown)[] = [
      () => verifySignature(new Uint8Array(31), msg, sig),
      () => verifySignature(alice.publicKey, msg, sig.subarray(0, 63)),
      () => verifySignature(alice.publicKey, 'm' as unknown as Uint8Array, sig),
      () => assertSignature(alice.publicKey, msg, new Uint8Array(65)),
      () => NodeIdentity.fromSecretKey(new Uint8Array(33)),
      () => NodeIdentity.fromSecretKey('00'.repeat(32) as unknown as Uint8Array),
      () => alice.sign([1, 2] as unknown as Uint8Array),
      () => nodeIdFromPublicKey(new Uint8Array(16)),
    ];
    for (const fn of bad) expect(codeOf(await rejection(fn))).toBe('CORE_INVALID_ARGUMENT');
  });
});

describe('node ids', () => {
  it('derive from the public key: nc + base32 of SHA-256(pk)[0..16]', () => {
    const pk = fromHex(RFC8032[0]!.publicKey);
    const id = nodeIdFromPublicKey(pk);
    expect(id).toHaveLength(NODE_ID_LENGTH);
    expect(id).toMatch(/^nc[a-z2-7]{26}$/);
    expect(isDerivedNodeId(id)).toBe(true);
    // Independent base32 decode of the id must give back the digest prefix.
    const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
    let bits = '';
    for (const ch of id.slice(2)) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
    const decoded = Buffer.from(
      bits
        .slice(0, 128)
        .match(/.{8}/g)!
        .map((b) => Number.parseInt(b, 2)),
    );
    expect(decoded.toString('hex')).toBe(createHash('sha256').update(pk).digest().subarray(0, 16).toString('hex'));
    expect(bits.slice(128)).toBe('00');
  });

  it('verifyNodeId accepts only the derived id', () => {
    const a = NodeIdentity.generate();
    const b = NodeIdentity.generate();
    expect(a.nodeId).not.toBe(b.nodeId);
    expect(verifyNodeId(a.nodeId, a.publicKey)).toBe(true);
    expect(verifyNodeId(b.nodeId, a.publicKey)).toBe(false);
    expect(verifyNodeId(a.nodeId.toUpperCase(), a.publicKey)).toBe(false);
    expect(verifyNodeId(42 as unknown as string, a.publicKey)).toBe(false);
    expect(isDerivedNodeId('node-1')).toBe(false);
  });

  it('are the same for the same secret key', () => {
    const sk = fromHex(RFC8032[1]!.secretKey);
    expect(NodeIdentity.fromSecretKey(sk).nodeId).toBe(NodeIdentity.fromSecretKey(sk).nodeId);
  });
});

describe('NodeIdentity keeps its secret', () => {
  it('is not revealed by inspect, JSON or String, and copies are returned', () => {
    const sk = fromHex(RFC8032[0]!.secretKey);
    const id = NodeIdentity.fromSecretKey(sk);
    sk.fill(0); // the caller wiping its copy must not affect the identity
    expect(toHex(id.exportSecretKey())).toBe(RFC8032[0]!.secretKey);
    for (const rendered of [inspect(id, { showHidden: true, depth: 5 }), JSON.stringify(id), String(id)]) {
      expect(rendered).not.toContain(RFC8032[0]!.secretKey);
      expect(rendered).not.toContain('157,97,177'); // decimal rendering of the first bytes
    }
    expect(JSON.parse(JSON.stringify(id))).toEqual({ nodeId: id.nodeId, publicKey: RFC8032[0]!.publicKey });
    id.publicKey.fill(0);
    id.exportSecretKey().fill(0);
    expect(toHex(id.publicKey)).toBe(RFC8032[0]!.publicKey);
    expect(toHex(id.sign(new Uint8Array(0)))).toBe(RFC8032[0]!.signature);
  });
});

describe('identity files', () => {
  let dir: string;
  let io: FileIO;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'novacron-identity-'));
    io = nodeFileIO();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips through save and load with mode 0600', async () => {
    const path = join(dir, 'node.key');
    const id = NodeIdentity.generate();
    await saveIdentity(io, path, id);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['node.key']);
    const loaded = await loadIdentity(io, path, { expectedNodeId: id.nodeId });
    expect(loaded.nodeId).toBe(id.nodeId);
    expect(loaded.exportSecretKey()).toEqual(id.exportSecretKey());
    const json = JSON.parse(await readFile(path, 'utf8'));
    expect(json).toMatchObject({ format: 'novacron-identity', version: 1, algorithm: 'ed25519', nodeId: id.nodeId });
    expect(json.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('loadOrCreateIdentity creates once (with its directory) and then loads', async () => {
    const path = join(dir, 'sub', 'dir', 'node.key');
    const first = await loadOrCreateIdentity(io, path);
    const second = await loadOrCreateIdentity(io, path);
    expect(second.nodeId).toBe(first.nodeId);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const missing = join(dir, 'other.key');
    expect(codeOf(await rejection(() => loadOrCreateIdentity(io, missing, { expectedNodeId: first.nodeId })))).toBe(
      'CORE_FILE_NOT_FOUND',
    );
  });

  it('a missing file is CORE_FILE_NOT_FOUND', async () => {
    expect(codeOf(await rejection(() => loadIdentity(io, join(dir, 'none'))))).toBe('CORE_FILE_NOT_FOUND');
  });

  it('a file readable by group or others is CORE_IDENTITY_KEY_PERMISSIONS', async () => {
    const path = join(dir, 'node.key');
    await saveIdentity(io, path, NodeIdentity.generate());
    for (const mode of [0o640, 0o604, 0o660, 0o644, 0o601]) {
      await chmod(path, mode);
      const err = await rejection(() => loadIdentity(io, path));
      expect(codeOf(err)).toBe('CORE_IDENTITY_KEY_PERMISSIONS');
      expect((err as { details: unknown }).details).toEqual({ path, mode });
    }
    await chmod(path, 0o400);
    await expect(loadIdentity(io, path)).resolves.toBeInstanceOf(NodeIdentity);
  });

  async function loadBytes(bytes: Uint8Array | string, opts = {}): Promise<unknown> {
    const path = join(dir, 'k');
    await writeFile(path, bytes, { mode: 0o600 });
    await chmod(path, 0o600);
    return rejection(() => loadIdentity(io, path, opts));
  }

  function validJson(): Record<string, unknown> {
    return JSON.parse(
      new TextDecoder().decode(encodeIdentityFile(NodeIdentity.fromSecretKey(fromHex(RFC8032[2]!.secretKey)))),
    );
  }

  it('truncated, garbage or inconsistent files are CORE_IDENTITY_KEY_CORRUPT', async () => {
    const good = encodeIdentityFile(NodeIdentity.generate());
    const otherKey = toHex(NodeIdentity.generate().exportSecretKey());
    const cases: Record<string, Uint8Array | string> = {
      empty: '',
      truncated: good.subarray(0, good.length - 10),
      'half of it': good.subarray(0, good.length >> 1),
      garbage: new Uint8Array([0xff, 0xfe, 0x00, 0x01]),
      'json array': '[1,2,3]',
      'json null': 'null',
      'missing version': JSON.stringify({ ...validJson(), version: undefined }),
      'missing checksum': JSON.stringify({ ...validJson(), checksum: undefined }),
      'uppercase hex': JSON.stringify({ ...validJson(), secretKey: String(validJson().secretKey).toUpperCase() }),
      'short key': JSON.stringify({ ...validJson(), publicKey: 'abcd' }),
      'checksum mismatch': JSON.stringify({ ...validJson(), secretKey: otherKey }),
      oversized: `${' '.repeat(IDENTITY_FILE_MAX_BYTES)}{}`,
    };
    for (const [name, bytes] of Object.entries(cases)) {
      expect([name, codeOf(await loadBytes(bytes))]).toEqual([name, 'CORE_IDENTITY_KEY_CORRUPT']);
    }
  });

  it('a public key or node id not matching the secret key is CORRUPT even with a recomputed checksum', async () => {
    const forge = (patch: Record<string, string>): string => {
      const f = { ...validJson(), ...patch } as Record<string, string | number>;
      const canonical = [f.format, f.version, f.algorithm, f.nodeId, f.publicKey, f.secretKey];
      return JSON.stringify({ ...f, checksum: contentId(utf8(JSON.stringify(canonical))) });
    };
    const other = NodeIdentity.generate();
    const patches: Record<string, string>[] = [
      { publicKey: toHex(other.publicKey) },
      { nodeId: other.nodeId },
      { publicKey: toHex(other.publicKey), nodeId: other.nodeId },
    ];
    for (const patch of patches) {
      const err = await loadBytes(forge(patch));
      expect(codeOf(err)).toBe('CORE_IDENTITY_KEY_CORRUPT');
    }
    // Sanity check: the forging helper does produce loadable files.
    const path = join(dir, 'ok');
    await writeFile(path, forge({}), { mode: 0o600 });
    await expect(loadIdentity(io, path)).resolves.toBeInstanceOf(NodeIdentity);
  });

  it('another format, version, algorithm or node is CORE_IDENTITY_KEY_FOREIGN', async () => {
    const cases: Record<string, unknown> = {
      'other format': { ...validJson(), format: 'openssh-key' },
      'no format': { hello: 'world' },
      'version 2': { ...validJson(), version: 2 },
      'algorithm ed448': { ...validJson(), algorithm: 'ed448' },
    };
    for (const [name, body] of Object.entries(cases)) {
      expect([name, codeOf(await loadBytes(JSON.stringify(body)))]).toEqual([name, 'CORE_IDENTITY_KEY_FOREIGN']);
    }
    const path = join(dir, 'node.key');
    const id = NodeIdentity.generate();
    await saveIdentity(io, path, id);
    const err = await rejection(() => loadIdentity(io, path, { expectedNodeId: asNodeId('ncsomeoneelse') }));
    expect(codeOf(err)).toBe('CORE_IDENTITY_KEY_FOREIGN');
    expect((err as { details: unknown }).details).toMatchObject({ nodeId: id.nodeId, expectedNodeId: 'ncsomeoneelse' });
  });

  it('errors never carry secret key bytes', async () => {
    const sk = RFC8032[2]!.secretKey;
    const json = validJson();
    const errors = [
      await loadBytes(JSON.stringify(json).slice(0, 200)), // truncated inside the secret key
      await loadBytes(JSON.stringify({ ...json, checksum: 'sha256:00' })),
      await loadBytes(JSON.stringify({ ...json, format: sk })),
      await loadBytes(JSON.stringify(json), { expectedNodeId: asNodeId('ncx') }),
    ];
    for (const err of errors) {
      expect(isNovacronError(err)).toBe(true);
      const rendered = `${(err as Error).message} ${JSON.stringify(err)} ${inspect(err, { depth: 5 })}`;
      expect(rendered).not.toContain(sk.slice(0, 16));
    }
  });

  it('fuzz: arbitrary file bytes always give a typed NovacronError', async () => {
    const path = join(dir, 'fuzz.key');
    const original = NodeIdentity.generate();
    const good = encodeIdentityFile(original);
    const allowed = ['CORE_IDENTITY_KEY_CORRUPT', 'CORE_IDENTITY_KEY_FOREIGN'];
    const arbitraryFile = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      // Mutations of a valid file reach the field checks, not just the JSON parser.
      fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
        const copy = Uint8Array.from(good);
        copy[at]! ^= x;
        return copy;
      }),
      fc.nat(good.length - 1).map((n) => good.subarray(0, n)),
      fc
        .record({ format: fc.constantFrom('novacron-identity', 'x'), version: fc.anything(), algorithm: fc.anything() })
        .chain((head) => fc.dictionary(fc.string(), fc.anything()).map((rest) => ({ ...rest, ...head })))
        .map((obj) => utf8(JSON.stringify(obj) ?? 'undefined')),
      fc.jsonValue().map((v) => utf8(JSON.stringify(v))),
    );
    await fc.assert(
      fc.asyncProperty(arbitraryFile, async (bytes) => {
        await writeFile(path, bytes, { mode: 0o600 });
        let outcome: string;
        try {
          // A flip that turns one whitespace byte into another is still the same file.
          outcome = (await loadIdentity(io, path)).nodeId === original.nodeId ? 'same identity' : 'other identity';
        } catch (err) {
          outcome = allowed.includes(codeOf(err) ?? '') ? 'typed' : `${codeOf(err)}`;
        }
        expect(['typed', 'same identity']).toContain(outcome);
        if (outcome === 'typed') {
          expect(() => decodeIdentityFile(bytes)).toThrow(expect.objectContaining({ name: 'NovacronError' }));
        }
      }),
      { numRuns: 300 },
    );
  });
});
