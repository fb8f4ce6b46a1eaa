import { EventTypes, MessageType, type QueryEvent } from "@libp2p/kad-dht";
import { describe, expect, it } from "vitest";
import { testIdentity } from "./discovery-network.fixture.ts";
import { combineQueryStats, createQueryStatsCollector, EMPTY_QUERY_STATS } from "./query-stats.ts";

type Peer = ReturnType<typeof testIdentity>["peerId"];
const [self, a, b, c, d] = ["self", "a", "b", "c", "d"].map((label) => testIdentity(label).peerId) as [Peer, Peer, Peer, Peer, Peer];
const path = { index: 0, queued: 0, running: 0, total: 0 };
const send = (to: Peer): QueryEvent => ({
  to,
  type: EventTypes.SEND_QUERY,
  name: "SEND_QUERY",
  messageName: "GET_PROVIDERS",
  messageType: MessageType.GET_PROVIDERS,
  path,
});
const answer = (from: Peer, ...closer: Peer[]): QueryEvent => ({
  from,
  type: EventTypes.PEER_RESPONSE,
  name: "PEER_RESPONSE",
  messageName: "GET_PROVIDERS",
  messageType: MessageType.GET_PROVIDERS,
  closer: closer.map((id) => ({ id, multiaddrs: [] })),
  providers: [],
  path,
});
const error = (from: Peer): QueryEvent => ({ from, type: EventTypes.QUERY_ERROR, name: "QUERY_ERROR", error: new Error("x"), path });

describe("query stats", () => {
  it.each<[string, QueryEvent[], { queried: number; responded: number; errors: number; hops: number }]>([
    ["nothing", [], EMPTY_QUERY_STATS],
    ["only the local node answered", [answer(self, a)], { queried: 0, responded: 0, errors: 0, hops: 0 }],
    ["one peer from the routing table", [send(a), answer(a)], { queried: 1, responded: 1, errors: 0, hops: 1 }],
    [
      "a referral chain a → b → c",
      [send(a), answer(a, b), send(b), answer(b, c, a), send(c), answer(c)],
      { queried: 3, responded: 3, errors: 0, hops: 3 },
    ],
    [
      "a referred peer that never answers does not deepen the query",
      [send(a), answer(a, b), send(b), error(b)],
      { queried: 2, responded: 1, errors: 1, hops: 1 },
    ],
    [
      "the shortest referral counts: d named by a (hop 2) and later by c (hop 3)",
      [send(a), send(c), answer(a, d), answer(c, d), send(d), answer(d)],
      { queried: 3, responded: 3, errors: 0, hops: 2 },
    ],
    ["a peer asked twice counts once", [send(a), send(a), answer(a), answer(a)], { queried: 1, responded: 1, errors: 0, hops: 1 }],
  ])("%s", (_name, events, expected) => {
    const collector = createQueryStatsCollector(self);
    for (const event of events) collector.observe(event);
    expect(collector.snapshot()).toEqual(expected);
  });

  it("combines per-query stats by summing counts and keeping the deepest hop", () => {
    expect(
      combineQueryStats([
        { queried: 2, responded: 2, errors: 0, hops: 1 },
        { queried: 3, responded: 1, errors: 2, hops: 3 },
      ]),
    ).toEqual({ queried: 5, responded: 3, errors: 2, hops: 3 });
    expect(combineQueryStats([])).toEqual(EMPTY_QUERY_STATS);
  });
});
