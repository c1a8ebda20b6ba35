import { CoreErrorCode } from '../errors/codes.js';
import { NovacronError } from '../errors/novacron-error.js';
import { assertBoolean, assertInteger, assertString, invalidArgument } from '../validate.js';
import { encodeCanonical } from './canonical.js';
import { type MsgpackLimits, msgpackMalformed, resolveMsgpackLimits } from './msgpack-limits.js';
import { decodeMsgpack, encodeMsgpack } from './msgpack.js';

/**
 * Versioned messages: the envelope every NovaCron protocol message travels
 * in, `[type, version, body]` as a MessagePack array, and a codec that
 * checks type, version range and body schema on the way in. See
 * docs/protocol/messages.md for the versioning rules.
 */

/** Longest message type name. */
export const MAX_MESSAGE_TYPE_LENGTH = 128;
/** Largest message version number. */
export const MAX_MESSAGE_VERSION = 0xffff_ffff;

/** What {@link defineMessage} takes. */
export interface MessageSpec<Type extends string, Body> {
  /** Stable, namespaced name, e.g. `"acp.raft.append"`. Never reused for another meaning. */
  readonly type: Type;
  /** Version this code writes, an integer >= 1. */
  readonly version: number;
  /** Oldest version this code still reads (default: `version`). */
  readonly minVersion?: number;
  /**
   * Checks a decoded body (any value the decoder can produce) and returns it
   * typed, converting older versions to the current shape if need be. Throw
   * anything to reject: the codec wraps it as `CORE_MESSAGE_INVALID`.
   */
  readonly validate: (body: unknown, version: number) => Body;
}

/** A registered message kind, made by {@link defineMessage}. */
export interface MessageDefinition<Type extends string = string, Body = unknown> {
  /** Message type name. */
  readonly type: Type;
  /** Version written by {@link MessageCodec.encode}. */
  readonly version: number;
  /** Oldest version accepted by {@link MessageCodec.decode}. */
  readonly minVersion: number;
  /** Body validator; see {@link MessageSpec.validate}. */
  readonly validate: (body: unknown, version: number) => Body;
}

/** The body type of a message definition. */
export type MessageBody<D> = D extends MessageDefinition<string, infer B> ? B : never;

/** A decoded message; for a union of definitions, a union discriminated by `type`. */
export type DecodedMessage<D> =
  D extends MessageDefinition<infer T, infer B>
    ? { readonly type: T; readonly version: number; readonly body: B }
    : never;

/**
 * Declares a message kind.
 *
 * @throws `CORE_INVALID_ARGUMENT` for an empty or over-long type, or
 *   versions that are not integers with 1 <= minVersion <= version.
 */
export function defineMessage<const Type extends string, Body>(
  spec: MessageSpec<Type, Body>,
): MessageDefinition<Type, Body> {
  assertString('spec.type', spec.type, { nonEmpty: true, maxLength: MAX_MESSAGE_TYPE_LENGTH });
  assertInteger('spec.version', spec.version, { min: 1, max: MAX_MESSAGE_VERSION });
  const minVersion = spec.minVersion ?? spec.version;
  assertInteger('spec.minVersion', minVersion, { min: 1, max: spec.version });
  if (typeof spec.validate !== 'function') throw invalidArgument('spec.validate', 'a function', spec.validate);
  return Object.freeze({ type: spec.type, version: spec.version, minVersion, validate: spec.validate });
}

/** Options for {@link MessageCodec}. */
export interface MessageCodecOptions {
  /** Limits for decoding untrusted bytes (see `MsgpackLimits`; nesting counts the envelope). */
  limits?: MsgpackLimits;
  /** Run each body through its validator before encoding, to catch sender bugs early. Default false. */
  validateOnEncode?: boolean;
}

/** Options for {@link MessageCodec.encode}. */
export interface EncodeMessageOptions {
  /** Write this version instead of the definition's current one (for an older peer); within [minVersion, version]. */
  version?: number;
  /** Encode canonically (sorted keys), for messages a MAC or signature covers. Default false. */
  canonical?: boolean;
}

/** Details of `CORE_MESSAGE_UNKNOWN_TYPE`, `CORE_MESSAGE_UNSUPPORTED_VERSION` and `CORE_MESSAGE_INVALID`. */
export interface MessageErrorDetails {
  readonly [key: string]: unknown;
  /** Message type as received (cut to {@link MAX_MESSAGE_TYPE_LENGTH} characters). */
  readonly type: string;
  /** Version as received, when known. */
  readonly version?: number;
  /** Oldest accepted version, for `CORE_MESSAGE_UNSUPPORTED_VERSION`. */
  readonly minVersion?: number;
  /** Newest accepted version, for `CORE_MESSAGE_UNSUPPORTED_VERSION`. */
  readonly maxVersion?: number;
  /** The validator's complaint, for `CORE_MESSAGE_INVALID`. */
  readonly reason?: string;
}

/**
 * Encodes and decodes the messages of one protocol: a registry of
 * {@link MessageDefinition}s keyed by type.
 *
 * ```ts
 * const Ping = defineMessage({ type: 'demo.ping', version: 1, validate: (b) => { assertObject('body', b); return b; } });
 * const codec = new MessageCodec([Ping]);
 * const msg = codec.decode(codec.encode(Ping, { seq: 1 }));
 * if (msg.type === 'demo.ping') use(msg.body);
 * ```
 */
export class MessageCodec<const Defs extends readonly MessageDefinition<string, unknown>[]> {
  private readonly byType = new Map<string, MessageDefinition<string, unknown>>();
  private readonly limits: MsgpackLimits | undefined;
  private readonly validateOnEncode: boolean;

  /** @throws `CORE_INVALID_ARGUMENT` when two definitions share a type. */
  constructor(definitions: Defs, options: MessageCodecOptions = {}) {
    for (const def of definitions) {
      if (this.byType.has(def.type)) {
        throw invalidArgument('definitions', `unique message types (${JSON.stringify(def.type)} repeats)`, def);
      }
      this.byType.set(def.type, def);
    }
    if (options.limits !== undefined) resolveMsgpackLimits(options.limits); // fail at construction, not per message
    if (options.validateOnEncode !== undefined) assertBoolean('options.validateOnEncode', options.validateOnEncode);
    this.limits = options.limits;
    this.validateOnEncode = options.validateOnEncode ?? false;
  }

  /** The registered message types. */
  get types(): string[] {
    return [...this.byType.keys()];
  }

  /**
   * Encodes `body` as a message of kind `def` (which must be registered).
   *
   * @throws `CORE_INVALID_ARGUMENT` for an unregistered definition, a
   *   version out of range or an unencodable body; `CORE_MESSAGE_INVALID`
   *   when `validateOnEncode` is set and the body fails validation;
   *   `CORE_CANONICAL_UNSUPPORTED` in canonical mode.
   */
  encode<D extends Defs[number]>(def: D, body: MessageBody<D>, options: EncodeMessageOptions = {}): Uint8Array {
    if (this.byType.get(def.type) !== def) {
      throw invalidArgument('def', `a message definition registered with this codec`, def);
    }
    const version = options.version ?? def.version;
    assertInteger('options.version', version, { min: def.minVersion, max: def.version });
    if (this.validateOnEncode) this.runValidator(def, body, version);
    const envelope = [def.type, version, body];
    return options.canonical ? encodeCanonical(envelope) : encodeMsgpack(envelope);
  }

  /**
   * Decodes and validates a message from untrusted `bytes`.
   *
   * @throws `CORE_MESSAGE_MALFORMED` (not MessagePack, or not an envelope),
   *   `CORE_MESSAGE_UNKNOWN_TYPE`, `CORE_MESSAGE_UNSUPPORTED_VERSION`,
   *   `CORE_MESSAGE_INVALID` (validator rejected the body; `cause` holds why).
   */
  decode(bytes: Uint8Array): DecodedMessage<Defs[number]> {
    const envelope = decodeMsgpack(bytes, this.limits);
    const malformedEnvelope = (problem: string): NovacronError =>
      msgpackMalformed('envelope', 0, bytes.length, `not a message envelope: ${problem}`);
    if (!Array.isArray(envelope) || envelope.length !== 3) {
      throw malformedEnvelope('expected an array [type, version, body]');
    }
    const [type, version, body] = envelope as [unknown, unknown, unknown];
    if (typeof type !== 'string' || type.length === 0) throw malformedEnvelope('type must be a non-empty string');
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
      throw malformedEnvelope('version must be a non-negative integer');
    }
    const def = this.byType.get(type);
    const shownType = type.slice(0, MAX_MESSAGE_TYPE_LENGTH);
    if (def === undefined) {
      throw new NovacronError<typeof CoreErrorCode.MESSAGE_UNKNOWN_TYPE, MessageErrorDetails>(
        CoreErrorCode.MESSAGE_UNKNOWN_TYPE,
        `unknown message type ${JSON.stringify(shownType)}`,
        { details: { type: shownType, version } },
      );
    }
    if (version < def.minVersion || version > def.version) {
      throw new NovacronError<typeof CoreErrorCode.MESSAGE_UNSUPPORTED_VERSION, MessageErrorDetails>(
        CoreErrorCode.MESSAGE_UNSUPPORTED_VERSION,
        `message ${type} version ${version} is outside the supported range ${def.minVersion}..${def.version}`,
        { details: { type, version, minVersion: def.minVersion, maxVersion: def.version } },
      );
    }
    const validated = this.runValidator(def, body, version);
    return { type, version, body: validated } as DecodedMessage<Defs[number]>;
  }

  private runValidator(def: MessageDefinition<string, unknown>, body: unknown, version: number): unknown {
    try {
      return def.validate(body, version);
    } catch (err) {
      const reason = (err instanceof Error ? err.message : String(err)).slice(0, 500);
      throw new NovacronError<typeof CoreErrorCode.MESSAGE_INVALID, MessageErrorDetails>(
        CoreErrorCode.MESSAGE_INVALID,
        `message ${def.type} v${version} failed validation: ${reason}`,
        { details: { type: def.type, version, reason }, cause: err },
      );
    }
  }
}
