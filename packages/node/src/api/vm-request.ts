import { z } from 'zod';

const LABELS = z
  .record(z.string().min(1).max(63), z.string().max(63))
  .refine((r) => Object.keys(r).length <= 64, 'at most 64 labels');
const SCOPE = z.enum(['host', 'rack', 'zone', 'region']);
const SELECTOR = z.strictObject({
  matchLabels: LABELS.optional(),
  matchExpressions: z
    .array(
      z.strictObject({
        key: z.string().min(1),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).max(64).optional(),
      }),
    )
    .max(16)
    .optional(),
});
const TERM = z.strictObject({
  scope: SCOPE,
  group: z.string().min(1).max(128).optional(),
  selector: SELECTOR.optional(),
  weight: z.number().int().min(1).max(100).optional(),
});
const RULES = z.strictObject({
  required: z.array(TERM).max(16).optional(),
  preferred: z.array(TERM).max(16).optional(),
});

/**
 * Body of `POST /v1/vms` and `POST /v1/placement/preview`: a placement
 * request (core's `PlacementRequest`), validated before it reaches itp.
 */
export const vmCreateSchema = z.strictObject({
  id: z
    .string()
    .regex(
      /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
      'a DNS label: lower-case letters, digits and dashes, 1-63 characters',
    ),
  name: z.string().min(1).max(128).optional(),
  resources: z.strictObject({
    cpuMillis: z.number().int().positive().max(1_000_000),
    memoryBytes: z
      .number()
      .int()
      .positive()
      .max(2 ** 50),
    diskBytes: z
      .number()
      .int()
      .nonnegative()
      .max(2 ** 53)
      .optional(),
    networkBps: z.number().nonnegative().max(1e13).optional(),
  }),
  labels: LABELS.optional(),
  vmClass: z.string().min(1).max(64).optional(),
  priority: z.number().int().min(-1000).max(1000).optional(),
  group: z.string().min(1).max(128).optional(),
  affinity: RULES.optional(),
  antiAffinity: RULES.optional(),
  constraints: z
    .strictObject({
      regions: z.array(z.string()).max(64).optional(),
      hostSelector: SELECTOR.optional(),
      minUptime: z.number().min(0).max(1).optional(),
      maxCostPerHour: z.number().nonnegative().optional(),
      maxLatencyMs: z.record(z.string(), z.number().positive()).optional(),
    })
    .optional(),
  userRegions: z.record(z.string(), z.number().positive()).optional(),
});

/** A validated VM create request. */
export type VmCreateBody = z.infer<typeof vmCreateSchema>;

/** Body of `PUT /v1/mode`. */
export const modeOverrideSchema = z.strictObject({ override: z.enum(['datacenter', 'internet', 'hybrid']).nullable() });
