/**
 * What a Kademlia query did, folded from the kad-dht query events it emitted: how many peers it asked, how
 * many answered, and how many hops deep it went. Pure: no clock, no I/O; feed events in any order they
 * arrive and read the snapshot at the end.
 *
 * Hops follow referrals. A peer the query starts from (out of the local routing table) is at hop 1; a peer
 * first named in the `closer` list of a hop-n peer's answer is at hop n + 1; an answer from the local node
 * itself (kad-dht reports local providers and records as coming from self) is hop 0. `hops` is the deepest
 * hop among the peers that answered: 1 means the routing table already held a peer that knew the answer.
 */
import type { PeerId } from "@libp2p/interface";
import type { QueryEvent } from "@libp2p/kad-dht";

export interface QueryStats {
  /** Distinct remote peers a request was sent to. */
  queried: number;
  /** Distinct remote peers that answered. */
  responded: number;
  /** Errors reported (dial refused, timeout, invalid record, …); one peer may add several. */
  errors: number;
  /** Deepest referral hop among the peers that answered (0 when only the local node answered). */
  hops: number;
}

export const EMPTY_QUERY_STATS: QueryStats = Object.freeze({ queried: 0, responded: 0, errors: 0, hops: 0 });

/** Accumulates {@link QueryStats} from one query's events. */
export interface QueryStatsCollector {
  observe(event: QueryEvent): void;
  snapshot(): QueryStats;
}

/** A collector for one query. `self` is the local PeerId (answers from it count as hop 0, not as a peer). */
export function createQueryStatsCollector(self: PeerId | string): QueryStatsCollector {
  const selfId = self.toString();
  const hopOf = new Map<string, number>();
  const queried = new Set<string>();
  const responded = new Set<string>();
  let errors = 0;
  let hops = 0;

  const hop = (peer: string) => hopOf.get(peer) ?? 1;

  return {
    observe(event) {
      switch (event.name) {
        case "SEND_QUERY": {
          const to = event.to.toString();
          if (to === selfId) return;
          queried.add(to);
          if (!hopOf.has(to)) hopOf.set(to, 1);
          return;
        }
        case "PEER_RESPONSE": {
          const from = event.from.toString();
          if (from === selfId) return;
          responded.add(from);
          const depth = hop(from);
          if (depth > hops) hops = depth;
          for (const closer of event.closer) {
            const id = closer.id.toString();
            if (id !== selfId && !hopOf.has(id)) hopOf.set(id, depth + 1);
          }
          return;
        }
        case "QUERY_ERROR":
          errors++;
          return;
        default:
          return;
      }
    },
    snapshot: () => ({ queried: queried.size, responded: responded.size, errors, hops }),
  };
}

/** Stats of several queries run for one purpose (e.g. one record lookup per provider): sums, and the deepest hop. */
export function combineQueryStats(stats: readonly QueryStats[]): QueryStats {
  return stats.reduce<QueryStats>(
    (sum, s) => ({
      queried: sum.queried + s.queried,
      responded: sum.responded + s.responded,
      errors: sum.errors + s.errors,
      hops: Math.max(sum.hops, s.hops),
    }),
    EMPTY_QUERY_STATS,
  );
}
