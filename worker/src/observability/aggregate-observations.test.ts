import { describe, expect, it } from "vitest";
import type { Address } from "viem";
import { aggregateObservations, FaultTracker, type NetworkObservation, type NodeObservation } from "./aggregate-observations.ts";
import type { MetricReport, ProbeFigures, ServedFigures } from "./metric-report.ts";

const node = (n: number): Address => `0x${n.toString(16).padStart(40, "0")}` as Address;
const NOW = 1_700_000_000_000;
const report = (reporter: Address, probes: ProbeFigures[], services: ServedFigures[] = []): MetricReport => ({
  chainId: 1,
  reporter,
  windowStart: NOW - 10_000,
  windowEnd: NOW,
  services,
  probes,
});
const equal = (): bigint => 10n ** 18n;

describe("aggregateObservations: nodes", () => {
  it("availability and round trip are the medians over the other nodes' probes", () => {
    const target = node(9);
    const view = aggregateObservations(
      [
        report(node(1), [{ node: target, sent: 4, ok: 4, rttMs: 1 }]),
        report(node(2), [{ node: target, sent: 4, ok: 3, rttMs: 2 }]),
        report(node(3), [{ node: target, sent: 4, ok: 4, rttMs: 3 }]),
      ],
      NOW,
      { weightOf: equal },
    );
    expect(view.nodes).toEqual([{ node: target, availability: 1, rttMs: 2, reporters: 3, state: "up" }]);
    expect(view.reporters).toBe(3);
  });

  // 3f + 1 nodes, f of them Byzantine, all with equal stake: whatever the liars claim, the honest majority wins.
  it.each([1, 2, 3])("f = %i liars of 3f + 1 cannot make a dead node look up, nor a live node look down", (f) => {
    const n = 3 * f + 1;
    const dead = node(100);
    const live = node(101);
    const reports = Array.from({ length: n }, (_, i) => {
      const liar = i < f;
      return report(node(i + 1), [
        { node: dead, sent: 5, ok: liar ? 5 : 0, ...(liar ? { rttMs: 0.1 } : {}) },
        { node: live, sent: 5, ok: liar ? 0 : 5, ...(liar ? {} : { rttMs: 1 + i / 100 }) },
      ]);
    });
    const view = aggregateObservations(reports, NOW, { weightOf: equal });
    const of = (a: Address): NodeObservation => view.nodes.find((x) => x.node === a)!;
    expect(of(dead)).toEqual({ node: dead, availability: 0, rttMs: undefined, state: "down", reporters: n });
    expect(of(live)).toMatchObject({ availability: 1, state: "up", reporters: n });
    expect(of(live).rttMs).toBeGreaterThanOrEqual(1);
  });

  it("weighs reporters by stake: liars with most of the stake win (what lying must cost), without stake count for nothing", () => {
    const target = node(9);
    const reports = [report(node(1), [{ node: target, sent: 1, ok: 1, rttMs: 1 }]), report(node(2), [{ node: target, sent: 1, ok: 0 }]), report(node(3), [{ node: target, sent: 1, ok: 0 }])];
    const rich = aggregateObservations(reports, NOW, { weightOf: (a) => (a === node(1) ? 100n : 1n) });
    expect(rich.nodes[0]).toMatchObject({ availability: 1, state: "up" });
    const unstaked = aggregateObservations(reports, NOW, { weightOf: (a) => (a === node(1) ? 0n : 1n) });
    expect(unstaked.nodes[0]).toMatchObject({ availability: 0, state: "down", reporters: 2 });
    expect(unstaked.reporters).toBe(2);
  });

  it("ignores what a node reports of itself and probes it did not send", () => {
    const self = node(1);
    const view = aggregateObservations([report(self, [{ node: self, sent: 9, ok: 9, rttMs: 0 }]), report(node(2), [{ node: self, sent: 0, ok: 0 }])], NOW, {
      weightOf: equal,
      nodes: [self, node(3)],
    });
    expect(view.nodes).toEqual([
      { node: self, availability: undefined, rttMs: undefined, reporters: 0, state: "unknown" },
      { node: node(3), availability: undefined, rttMs: undefined, reporters: 0, state: "unknown" },
    ]);
  });

  it.each<[number, number, NodeObservation["state"]]>([
    [0.5, 1, "up"],
    [0.4, 1, "down"],
    [0.4, 2, "unknown"],
  ])("availability %f with minReporters %i is %s", (ratio, minReporters, state) => {
    const view = aggregateObservations([report(node(1), [{ node: node(9), sent: 10, ok: ratio * 10 }])], NOW, { weightOf: equal, minReporters });
    expect(view.nodes[0]!.state).toBe(state);
  });
});

describe("aggregateObservations: services", () => {
  it("sums the providers' traffic and takes the stake-weighted median of their quantiles", () => {
    const view = aggregateObservations(
      [
        report(node(1), [], [{ serviceId: "2", requests: 100, errors: 1, p50Ms: 1, p99Ms: 10 }]),
        report(node(2), [], [{ serviceId: "2", requests: 50, errors: 2, p50Ms: 2, p99Ms: 20 }, { serviceId: "10", requests: 0, errors: 0 }]),
        report(node(3), [], [{ serviceId: "2", requests: 50, errors: 0, p50Ms: 3, p99Ms: 30 }]),
      ],
      NOW,
      { weightOf: equal },
    );
    expect(view.services.map((s) => s.serviceId)).toEqual(["2", "10"]);
    expect(view.services[0]).toMatchObject({ requestsPerSecond: 20, errorRate: 3 / 200, p50Ms: 2, p99Ms: 20 });
    expect(view.services[0]!.providers.map((p) => [p.node, p.requests, p.windowSeconds])).toEqual([
      [node(1), 100, 10],
      [node(2), 50, 10],
      [node(3), 50, 10],
    ]);
    expect(view.services[1]).toMatchObject({ requestsPerSecond: 0, errorRate: undefined, p50Ms: undefined, p99Ms: undefined });
  });
});

describe("FaultTracker", () => {
  const at = (t: number, ...states: Array<[Address, NodeObservation["state"]]>): NetworkObservation => ({
    at: NOW + t,
    reporters: 3,
    services: [],
    nodes: states.map(([n, state]) => ({ node: n, state, availability: state === "up" ? 1 : state === "down" ? 0 : undefined, rttMs: undefined, reporters: 3 })),
  });
  const a = node(1);

  it("logs down and recovered transitions once each, unknown in between changes nothing", () => {
    const tracker = new FaultTracker();
    expect(tracker.observe(at(0, [a, "up"]))).toEqual([]);
    expect(tracker.observe(at(1000, [a, "down"])).map((e) => e.kind)).toEqual(["down"]);
    expect(tracker.observe(at(2000, [a, "down"]))).toEqual([]);
    expect(tracker.observe(at(3000, [a, "unknown"]))).toEqual([]);
    expect(tracker.observe(at(4000, [a, "down"]))).toEqual([]);
    expect(tracker.observe(at(5000, [a, "up"])).map((e) => [e.kind, e.at])).toEqual([["recovered", NOW + 5000]]);
    expect(tracker.log.map((e) => e.kind)).toEqual(["down", "recovered"]);
  });

  it("uptime is the up share of judged time; unknown time counts for neither", () => {
    const tracker = new FaultTracker();
    tracker.observe(at(0, [a, "up"]));
    tracker.observe(at(3000, [a, "down"])); // 3 s up
    tracker.observe(at(4000, [a, "unknown"])); // 1 s down
    tracker.observe(at(10_000, [a, "up"])); // 6 s unknown
    expect(tracker.uptimeOf(a)).toEqual({ uptime: 3 / 4, since: NOW, stateSince: NOW + 10_000 });
    expect(tracker.uptimeOf(node(2))).toEqual({ uptime: undefined, since: undefined, stateSince: undefined });
  });

  it("a node first seen down is logged, and the log is bounded", () => {
    const tracker = new FaultTracker(3);
    for (let i = 0; i < 5; i++) {
      tracker.observe(at(i * 2000, [a, "down"]));
      tracker.observe(at(i * 2000 + 1000, [a, "up"]));
    }
    expect(tracker.log).toHaveLength(3);
    expect(tracker.log.at(-1)!.kind).toBe("recovered");
  });
});
