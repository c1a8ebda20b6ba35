import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '@novacron/core';
import { RemoteModel } from '@novacron/pba';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostRecord, PlacementPlanner, RemoteScoreModel } from '../../src/index.js';

const GiB = 2 ** 30;
let server: Server;
let url = '';
let calls = 0;

// A model service on loopback speaking pba's bridge protocol: it prefers the FULLEST host (sum of the
// util/* features), the opposite of the local fallback (least allocated), so the decision shows whose
// score was used.
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      calls++;
      const { features } = JSON.parse(body) as { features: Record<string, number> };
      const x = Object.keys(features)
        .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
        .map((k) => features[k]!);
      const nd = (x.length - 3) / 2;
      const score = x.slice(nd, 2 * nd).reduce((s, v) => s + v, 0);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ version: 1, outputs: { score } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const host = (id: string): HostRecord => ({
  v: 1,
  id,
  nodeId: id,
  capacity: { cpuMillis: 8000, memoryBytes: 16 * GiB },
  labels: {},
  schedulable: true,
});
const state = {
  hosts: [host('empty'), host('busy')],
  vms: [
    {
      v: 1 as const,
      request: { id: 'old', resources: { cpuMillis: 4000, memoryBytes: 8 * GiB } },
      hostId: 'busy',
      epoch: 1,
      desired: 'running' as const,
      history: [],
    },
  ],
};
const request = { id: 'new', resources: { cpuMillis: 1000, memoryBytes: GiB } };

describe("pba's model bridge behind itp's learned scorer", () => {
  it('scores locally on a miss, asks the service, and decides on its scores once settled', async () => {
    const model = new RemoteScoreModel({ bridge: new RemoteModel({ url, clock: systemClock(), timeoutMs: 2000 }) });
    const planner = new PlacementPlanner();
    planner.register('learned', () => model.profile());
    // First pass: nothing cached, the local score (least allocated) picks the empty host; vectors are queued.
    expect(planner.decide(state, request, 'learned').hostId).toBe('empty');
    expect(model.pending).toBe(2);
    await model.settle();
    expect(calls).toBe(2);
    // Second pass: the service's scores (fullest first) decide.
    const d = planner.decide(state, request, 'learned');
    expect(d.hostId).toBe('busy');
    expect(model.pending).toBe(0);
    expect(model.counts.remote).toBe(2);
  });

  it('keeps deciding on local scores when the service is down (bounded wait, no error)', async () => {
    const model = new RemoteScoreModel({
      bridge: new RemoteModel({ url: 'http://127.0.0.1:9', clock: systemClock(), timeoutMs: 200 }),
    });
    const planner = new PlacementPlanner();
    planner.register('learned', () => model.profile());
    expect(planner.decide(state, request, 'learned').hostId).toBe('empty');
    await model.settle();
    expect(model.counts.failed).toBe(2);
    expect(planner.decide(state, request, 'learned').hostId).toBe('empty');
  });
});
