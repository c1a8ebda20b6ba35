import { z } from 'zod';
import { migrateRequestSchema } from './migration-routes.js';

const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/Error${c}` }]));
const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

const PHASES = [
  'planning',
  'precopy',
  'switchover',
  'committing',
  'postcopy',
  'completed',
  'rolled-back',
  'cancelled',
  'failed',
];

/** OpenAPI schemas of the migration routes (#13). */
export function migrationSchemas(): Record<string, unknown> {
  return {
    MigrateRequest: z.toJSONSchema(migrateRequestSchema, { io: 'input' }),
    MigrationProgress: {
      type: 'object',
      description: 'Live progress of a migration, from the node running it (the source).',
      required: ['id', 'vmId', 'source', 'destination', 'phase', 'round', 'rawBytes', 'wireBytes'],
      properties: {
        id: { type: 'string' },
        vmId: { type: 'string' },
        source: { type: 'string', description: 'Source node id' },
        destination: { type: 'string', description: 'Destination node id' },
        phase: { type: 'string', enum: PHASES },
        round: { type: 'integer', description: 'Pre-copy rounds done' },
        rawBytes: { type: 'integer', description: 'Page bytes sent before hde' },
        wireBytes: { type: 'integer', description: 'Bytes amst put on the wire' },
        pagesSent: { type: 'integer' },
        memoryBytes: { type: 'integer' },
        dirtyPages: { type: 'integer' },
        dirtyBytesPerSecond: { type: 'number' },
        rateBytesPerSecond: { type: 'number' },
        allocatedBytesPerSecond: { type: 'number', description: "pba's allocation for this migration" },
        estimatedDowntimeMs: { type: 'number' },
        etaMs: { type: 'number' },
        throttleBytesPerSecond: { type: 'number', description: 'Auto-converge dirty-rate cap in force' },
        lanes: { type: 'integer' },
        codecs: { type: 'object', additionalProperties: { type: 'integer' } },
        postCopyRemaining: { type: 'integer' },
        faults: { type: 'integer' },
        elapsedMs: { type: 'number' },
        downtimeMs: { type: 'number' },
        totalMs: { type: 'number' },
        mode: { type: 'string', enum: ['precopy', 'postcopy'] },
        sourceDigest: { type: 'string' },
        destinationDigest: { type: 'string' },
        error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
        steps: {
          type: 'array',
          items: { type: 'object', properties: { at: { type: 'number' }, step: { type: 'string' } } },
        },
      },
    },
    MigrationRecord: {
      type: 'object',
      description: 'A migration as the control log records it (`migrations/<id>`).',
      required: ['id', 'vmId', 'from', 'to', 'fromNode', 'toNode', 'phase', 'startedAt'],
      properties: {
        id: { type: 'string' },
        vmId: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        fromNode: { type: 'string' },
        toNode: { type: 'string' },
        phase: { type: 'string', enum: PHASES },
        startedAt: { type: 'number' },
        endedAt: { type: 'number' },
        mode: { type: 'string', enum: ['precopy', 'postcopy'] },
        rounds: { type: 'integer' },
        rawBytes: { type: 'integer' },
        wireBytes: { type: 'integer' },
        downtimeMs: { type: 'number' },
        totalMs: { type: 'number' },
        error: { type: 'object' },
      },
    },
  };
}

/** OpenAPI paths of the migration routes (#13). */
export function migrationPaths(): Record<string, unknown> {
  const progressOrRecord = { oneOf: [ref('MigrationProgress'), ref('MigrationRecord')] };
  return {
    '/v1/vms/{id}/migrate': {
      post: {
        summary: 'Live-migrate a VM (runs on its owner; other nodes proxy the request)',
        parameters: [id],
        requestBody: { required: false, ...json(ref('MigrateRequest'), 'Destination and whether to wait') },
        responses: {
          200: json(ref('MigrationProgress'), 'Ended (with `wait`)'),
          202: json(ref('MigrationProgress'), 'Started'),
          ...errors(400, 401, 404, 409, 503),
        },
      },
    },
    '/v1/migrations': {
      get: {
        summary: 'Every migration the control log records, newest first (live progress where this node runs it)',
        responses: { 200: json({ type: 'array', items: progressOrRecord }, 'Migrations'), ...errors(401, 503) },
      },
    },
    '/v1/migrations/{id}': {
      get: {
        summary: 'One migration (proxied to the node running it while it runs)',
        parameters: [id],
        responses: { 200: json(progressOrRecord, 'The migration'), ...errors(401, 404, 503) },
      },
      delete: {
        summary: 'Cancel a running migration (before its ownership change); the VM keeps running at the source',
        parameters: [id],
        responses: { 200: json(ref('MigrationProgress'), 'Cancelling'), ...errors(401, 404, 409, 503) },
      },
    },
    '/v1/provider/vms': {
      get: {
        summary: "VMs this node's provider holds, with their provider state (checks one running copy per VM)",
        responses: {
          200: json(
            {
              type: 'array',
              items: {
                type: 'object',
                properties: { id: { type: 'string' }, hostId: { type: 'string' }, state: { type: 'string' } },
              },
            },
            'Provider VMs',
          ),
          ...errors(401),
        },
      },
    },
    '/v1/migrations/{id}/events': {
      get: {
        summary: 'Progress as server-sent events (`migration.progress`), ending with the migration',
        parameters: [id],
        responses: {
          200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...errors(401, 404),
        },
      },
    },
  };
}
