/**
 * The highest index replicated on a majority of `voters`, given each
 * voter's match index (absent voters count as 0).
 */
export function majorityIndex(voters: readonly string[], match: (id: string) => number): number {
  if (voters.length === 0) return 0;
  const values = voters.map(match).sort((a, b) => b - a);
  return values[Math.floor(voters.length / 2)]!;
}

/** Outcome of a vote count: won, lost, or still open. */
export type VoteOutcome = 'won' | 'lost' | 'pending';

/** Tallies granted and rejected votes among `voters`. */
export function tally(voters: readonly string[], votes: ReadonlyMap<string, boolean>): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const v of voters) {
    const vote = votes.get(v);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const q = Math.floor(voters.length / 2) + 1;
  if (granted >= q) return 'won';
  if (rejected > voters.length - q) return 'lost';
  return 'pending';
}

/** True when the members of `acks` include a majority of `voters`. */
export function hasQuorum(voters: readonly string[], acks: ReadonlySet<string>): boolean {
  let n = 0;
  for (const v of voters) if (acks.has(v)) n++;
  return n >= Math.floor(voters.length / 2) + 1;
}
