import { SingleBar } from 'cli-progress';
import type { NovacronClient } from '../api/client.js';
import type { MigrationProgress } from '../migration/migration-progress.js';
import { bytes } from './table.js';

/**
 * `novacron vm migrate ID [--to HOST] [--wait]`: starts the migration and,
 * with `--wait`, follows its progress stream with a progress bar (bytes
 * sent against the VM's memory, rate, ETA, round, phase) on a terminal, or
 * one line per phase change otherwise; ends with a summary. Exit code 0
 * only when the migration completed.
 */
export async function migrateCommand(
  c: NovacronClient,
  vmId: string,
  options: { to?: string; wait: boolean; json: boolean; tty: boolean },
  io: { out: (s: string) => void; err: (s: string) => void },
): Promise<number> {
  const first = await c.migrateVm(vmId, options.to !== undefined ? { to: options.to } : {});
  if (!options.wait) {
    io.out(
      options.json
        ? JSON.stringify(first, null, 2)
        : `migration ${first.id}: ${vmId} ${first.source} → ${first.destination} started`,
    );
    return 0;
  }
  let last: MigrationProgress = first;
  const bar =
    options.tty && !options.json
      ? new SingleBar({
          format: ' {bar} {percentage}% | {sent} | {rate}/s | ETA {eta_text} | round {round} | {phase}',
          hideCursor: true,
          clearOnComplete: false,
        })
      : undefined;
  bar?.start(Math.max(1, first.memoryBytes), 0, fields(first));
  let lastPhase = '';
  // The server ends the stream after the last event; the timeout only guards against a stalled connection.
  const ac = new AbortController();
  const guard = setTimeout(() => ac.abort(), 3_600_000);
  await c
    .migrationEvents(
      first.id,
      (p) => {
        last = { ...last, ...p };
        if (bar) {
          bar.setTotal(Math.max(1, last.memoryBytes, last.rawBytes));
          bar.update(Math.min(last.rawBytes, Math.max(1, last.memoryBytes, last.rawBytes)), fields(last));
        } else if (!options.json && p.phase !== lastPhase)
          io.out(`${p.phase}: round ${p.round}, ${bytes(p.rawBytes)} sent`);
        lastPhase = p.phase;
      },
      ac.signal,
    )
    .catch((err: unknown) => {
      if (!ac.signal.aborted) throw err;
    });
  clearTimeout(guard);
  bar?.stop();
  // The stream's last event may lack the summary fields (steps): fetch the final state.
  const final = (await c.migration(first.id).catch(() => last)) as MigrationProgress;
  if (options.json) io.out(JSON.stringify(final, null, 2));
  else io.out(summary({ ...last, ...final }));
  return final.phase === 'completed' ? 0 : 1;
}

function fields(p: MigrationProgress) {
  return {
    sent: bytes(p.rawBytes),
    rate: bytes(p.rateBytesPerSecond ?? 0),
    eta_text: p.etaMs !== undefined ? `${(p.etaMs / 1000).toFixed(1)}s` : '-',
    round: p.round,
    phase: p.phase,
  };
}

/** The human summary printed once a migration ended (the demo prints it too). */
export function summary(p: MigrationProgress): string {
  const ratio = p.wireBytes > 0 ? (p.rawBytes / p.wireBytes).toFixed(2) : '-';
  const codecs = Object.entries(p.codecs ?? {})
    .map(([k, v]) => `${k}×${v}`)
    .join(', ');
  return [
    `migration ${p.id}: ${p.vmId} ${p.source} → ${p.destination}: ${p.phase}${p.mode ? ` (${p.mode})` : ''}`,
    `  raw ${bytes(p.rawBytes)}, wire ${bytes(p.wireBytes)} (${ratio}x), rounds ${p.round}, lanes ${p.lanes}, codecs ${codecs || '-'}`,
    `  total ${p.totalMs !== undefined ? `${Math.round(p.totalMs)} ms` : '-'}, downtime ${p.downtimeMs !== undefined ? `${Math.round(p.downtimeMs)} ms` : '-'}${p.throttleBytesPerSecond !== undefined ? `, throttled to ${bytes(p.throttleBytesPerSecond)}/s` : ''}${p.faults ? `, ${p.faults} post-copy faults` : ''}`,
    ...(p.error ? [`  error ${p.error.code}: ${p.error.message}`] : []),
  ].join('\n');
}
