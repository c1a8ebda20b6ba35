/**
 * AMST through the WAN link emulator (`@novacron/testkit/wan`), side by side
 * with iperf3 in the same run, encryption off. Scenarios (pick with
 * arguments; default `cubic`):
 *
 *   cubic   CUBIC senders on the issue's profiles (continental 40 ms 0.01%
 *           500 Mbit/s, intercontinental 150 ms 0.5% 200 Mbit/s, lossy 80 ms
 *           2% 100 Mbit/s): iperf3 -P1, iperf3 -P16, amst adaptive and fixed
 *           lane counts. Goodput = bytes delivered in the first SECONDS.
 *   bbr     BBR senders on the same profiles: adaptive must stay at <= 2
 *           lanes and reach >= 0.9x the best of 1, 2, 4 fixed lanes.
 *   polite  one competing iperf3 CUBIC flow against amst polite and default.
 *
 * Profiles can be narrowed too: `npx tsx bench/src/amst-wan.ts cubic lossy`.
 * Env: AMST_WAN_SECONDS (default 10), AMST_WAN_SWEEP (fixed lane counts,
 * default "1,4,16,64"). Writes results/amst-wan-<scenario>.json. Needs root,
 * iproute2, gcc, iperf3. About 2-4 min per scenario on all three profiles.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { type CongestionControl, WAN_PROFILES, type WanLink, startWanLink, wanSupport } from '@novacron/testkit/wan';
import { type AmstRun, amstOverWan } from './wan-amst.js';
import { iperf } from './wan-iperf.js';

const support = wanSupport();
if (!support.ok) {
  console.log(`amst-wan: skipped: ${support.reason}`);
  process.exit(0);
}

const SECONDS = Number(process.env.AMST_WAN_SECONDS ?? 10);
const SWEEP = (process.env.AMST_WAN_SWEEP ?? '1,4,16,64').split(',').filter(Boolean).map(Number);
const SKIP_IPERF = process.env.AMST_WAN_SKIP_IPERF === '1'; // for tuning runs only
const args = process.argv.slice(2);
const scenarios = ['cubic', 'bbr', 'polite'].filter((s) => args.includes(s));
if (scenarios.length === 0) scenarios.push('cubic');
const profileNames = Object.keys(WAN_PROFILES).filter((p) => args.includes(p));
const profiles = (profileNames.length > 0 ? profileNames : Object.keys(WAN_PROFILES)) as (keyof typeof WAN_PROFILES)[];
const mbit = (bps: number) => (bps / 1e6).toFixed(1);
const results: Record<string, unknown> = {};

async function withLink<T>(
  profile: keyof typeof WAN_PROFILES,
  cc: CongestionControl,
  f: (l: WanLink) => Promise<T>,
): Promise<T> {
  const link = await startWanLink({ ...WAN_PROFILES[profile], congestionControl: cc, seed: 11 });
  try {
    return await f(link);
  } finally {
    await link.close();
  }
}

if (scenarios.includes('cubic')) {
  const rows = [];
  for (const name of profiles) {
    rows.push(
      await withLink(name, 'cubic', async (link) => {
        const p1 = SKIP_IPERF ? 1 : (await iperf(link, ['-P', '1'], SECONDS)).receivedBps;
        const p16 = SKIP_IPERF ? 1 : (await iperf(link, ['-P', '16'], SECONDS)).receivedBps;
        const adaptive = await amstOverWan(link, 'adaptive');
        const fixed: Record<number, AmstRun> = {};
        for (const n of SWEEP) fixed[n] = await amstOverWan(link, n);
        const best = Math.max(1, ...Object.values(fixed).map((f) => f.goodputBps));
        const bestLanes = Number(Object.entries(fixed).find(([, f]) => f.goodputBps === best)?.[0] ?? 0);
        const row = {
          profile: name,
          iperfP1Bps: p1,
          iperfP16Bps: p16,
          adaptive,
          fixed,
          bestFixedLanes: bestLanes,
          adaptiveVsP1: adaptive.goodputBps / p1,
          adaptiveVsP16: adaptive.goodputBps / p16,
          adaptiveVsBestFixed: adaptive.goodputBps / best,
        };
        console.log(
          `${name}: P1 ${mbit(p1)}, P16 ${mbit(p16)}, amst adaptive ${mbit(adaptive.goodputBps)} Mbit/s (lanes ${adaptive.lanes.join(' ')}), fixed ${SWEEP.map((n) => `${n}:${mbit(fixed[n]!.goodputBps)}`).join(' ')}`,
        );
        return row;
      }),
    );
  }
  results.cubic = rows;
  console.log(`\nCUBIC senders, goodput over the first ${SECONDS} s (Mbit/s)\n`);
  console.log(
    '| profile | iperf3 -P1 | iperf3 -P16 | amst adaptive (max lanes) | best fixed (lanes) | vs -P1 (≥3x) | vs -P16 (≥0.9x) | vs best fixed (≥0.8x) | SHA-256 |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of rows) {
    const best = r.fixed[r.bestFixedLanes] ?? { goodputBps: 0 };
    const sha = [r.adaptive, ...Object.values(r.fixed)].every((x) => x.sha256Match);
    console.log(
      `| ${r.profile} | ${mbit(r.iperfP1Bps)} | ${mbit(r.iperfP16Bps)} | ${mbit(r.adaptive.goodputBps)} (${r.adaptive.maxLanes}) | ${mbit(best.goodputBps)} (${r.bestFixedLanes}) | ${r.adaptiveVsP1.toFixed(1)}x | ${r.adaptiveVsP16.toFixed(2)}x | ${r.adaptiveVsBestFixed.toFixed(2)}x | ${sha ? 'match' : 'MISMATCH'} |`,
    );
  }
}

if (scenarios.includes('bbr')) {
  const rows = [];
  for (const name of profiles) {
    rows.push(
      await withLink(name, 'bbr', async (link) => {
        const p1 = (await iperf(link, ['-P', '1'], SECONDS)).receivedBps;
        const adaptive = await amstOverWan(link, 'adaptive');
        const fixed: Record<number, AmstRun> = {};
        for (const n of [1, 2, 4]) fixed[n] = await amstOverWan(link, n);
        const best = Math.max(...Object.values(fixed).map((f) => f.goodputBps));
        console.log(
          `${name} (bbr): P1 ${mbit(p1)}, adaptive ${mbit(adaptive.goodputBps)} (lanes ${adaptive.lanes.join(' ')}), fixed ${[1, 2, 4].map((n) => `${n}:${mbit(fixed[n]!.goodputBps)}`).join(' ')}`,
        );
        return {
          profile: name,
          iperfP1Bps: p1,
          adaptive,
          fixed,
          adaptiveVsBestFixed: adaptive.goodputBps / best,
          settledAtMost2: adaptive.finalLanes <= 2,
        };
      }),
    );
  }
  results.bbr = rows;
  console.log(`\nBBR senders, goodput over the first ${SECONDS} s (Mbit/s)\n`);
  console.log(
    '| profile | iperf3 -P1 | amst adaptive | lanes (max / final) | 1 / 2 / 4 fixed | vs best fixed (≥0.9x) |',
  );
  console.log('| --- | ---: | ---: | --- | --- | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.profile} | ${mbit(r.iperfP1Bps)} | ${mbit(r.adaptive.goodputBps)} | ${r.adaptive.maxLanes} / ${r.adaptive.finalLanes} | ${[1, 2, 4].map((n) => mbit(r.fixed[n]!.goodputBps)).join(' / ')} | ${r.adaptiveVsBestFixed.toFixed(2)}x |`,
    );
  }
}

if (scenarios.includes('polite')) {
  const rows = [];
  for (const name of profiles) {
    for (const polite of [false, true]) {
      rows.push(
        await withLink(name, 'cubic', async (link) => {
          // The competing flow starts first and outlasts the transfer, so every amst byte competes with it.
          const competing = iperf(link, ['-P', '1'], SECONDS + 6);
          await new Promise((r) => setTimeout(r, 2_000));
          const a = await amstOverWan(link, 'adaptive', { polite });
          const c = await competing;
          // The competing flow's rate while amst ran (its seconds 3 .. 2 + SECONDS; amst's process starts in ~1 s).
          const during = c.intervals.filter(([s, e]) => s >= 3 && e <= 2 + SECONDS + 0.5);
          const competingBps = during.reduce((sum, [, , bps]) => sum + bps, 0) / Math.max(1, during.length);
          const row = {
            profile: name,
            polite,
            amstBps: a.goodputBps,
            amstMaxLanes: a.maxLanes,
            amstLanes: a.lanes,
            competingBps,
            amstShare: a.goodputBps / (a.goodputBps + competingBps),
            sha256Match: a.sha256Match,
          };
          console.log(
            `${name} ${polite ? 'polite' : 'default'}: amst ${mbit(a.goodputBps)} Mbit/s (max ${a.maxLanes} lanes), competing iperf3 ${mbit(competingBps)} Mbit/s meanwhile: amst share ${(100 * row.amstShare).toFixed(0)}%`,
          );
          return row;
        }),
      );
    }
  }
  results.polite = rows;
}

mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
for (const [scenario, rows] of Object.entries(results)) {
  writeFileSync(
    new URL(`../results/amst-wan-${scenario}.json`, import.meta.url),
    `${JSON.stringify({ bench: `amst-wan-${scenario}`, date: new Date().toISOString(), cpu: cpus()[0]?.model, cores: cpus().length, seconds: SECONDS, profiles: WAN_PROFILES, rows }, null, 2)}\n`,
  );
}
