import { z } from 'zod';
import { nodeConfigSchema } from './schema.js';

/** One configurable key of the schema, as listed in docs/configuration.md. */
export interface ConfigLeaf {
  /** Dotted path, e.g. `api.listen`. */
  readonly path: string;
  /** The environment variable that sets it. */
  readonly env: string;
  /** JSON-schema type (`string`, `integer`, `number`, `boolean`, `array`, `object`). */
  readonly type: string;
  /** Allowed values, for enums. */
  readonly values?: readonly unknown[];
  /** Description from the schema. */
  readonly description: string;
  /** Bounds and formats, in words (`>= 1`, `host:port`, ...). */
  readonly constraints: readonly string[];
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  enum?: unknown[];
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  items?: JsonSchema;
}

/** `api.maxBodyBytes` → `NOVACRON_API__MAX_BODY_BYTES`. */
export function envNameOf(path: string): string {
  return `NOVACRON_${path
    .split('.')
    .map((seg) => seg.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
    .join('__')}`;
}

function words(s: JsonSchema): string[] {
  const out: string[] = [];
  if (s.minimum !== undefined && s.minimum > Number.MIN_SAFE_INTEGER) out.push(`>= ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) out.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) out.push(`<= ${s.maximum}`);
  if (s.minLength !== undefined && s.minLength > 1) out.push(`length >= ${s.minLength}`);
  if (s.maxLength !== undefined) out.push(`length <= ${s.maxLength}`);
  if (s.format) out.push(s.format);
  if (s.pattern?.includes('@')) out.push('`id@host:port`');
  else if (s.pattern) out.push('`host:port`');
  if (s.items?.pattern?.includes('@')) out.push('items `id@host:port`');
  return out;
}

/** Every leaf key of the schema, in schema order. */
export function configLeaves(): ConfigLeaf[] {
  const root = z.toJSONSchema(nodeConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out: ConfigLeaf[] = [];
  const walk = (s: JsonSchema, path: string[]) => {
    if (s.properties && path.length < 10 && s.type === 'object' && s.additionalProperties !== true) {
      // A fixed-key object: recurse. Records (additionalProperties schemas) are leaves.
      if (typeof s.additionalProperties !== 'object') {
        for (const [k, v] of Object.entries(s.properties)) walk(v, [...path, k]);
        return;
      }
    }
    const p = path.join('.');
    const type = Array.isArray(s.type) ? s.type.join('|') : (s.type ?? 'string');
    out.push({
      path: p,
      env: envNameOf(p),
      type,
      ...(s.enum ? { values: s.enum } : {}),
      description: s.description ?? '',
      constraints: words(s),
    });
  };
  walk(root, []);
  return out;
}
