import { describe, expect, it } from "vitest";
import type { Address } from "viem";
import { aggregateObservations, FaultTracker, type NetworkObservation, type NodeObservation } from "./aggregate-observations.ts";
import type { MetricReport, ProbeFigures, ProofFigures, ServedFigures } from "./metric-report.ts";

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
const UNCHECKED = { state: "unchecked", checkers: 0, shownMillicores: undefined } as const;

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
    expect(view.nodes).toEqual([{ node: target, availability: 1, rttMs: 2, reporters: 3, state: "up", proof: UNCHECKED }]);
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
    expect(of(dead)).toEqual({ node: dead, availability: 0, rttMs: undefined, state: "down", reporters: n, proof: UNCHECKED });
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
      { node: self, availability: undefined, rttMs: undefined, reporters: 0, state: "unknown", proof: UNCHECKED },
      { node: node(3), availability: undefined, rttMs: undefined, reporters: 0, state: "unknown", proof: UNCHECKED },
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

  it("a split of exactly half the reporting stake judges nothing (one liar of two cannot mark a node down)", () => {
    const target = node(9);
    const view = aggregateObservations([report(node(1), [{ node: target, sent: 2, ok: 2, rttMs: 1 }]), report(node(2), [{ node: target, sent: 2, ok: 0 }])], NOW, { weightOf: equal });
    expect(view.nodes[0]).toMatchObject({ state: "unknown", reporters: 2 });
  });

  it("judges a node only when its reporters hold more than half of the other eligible nodes' stake", () => {
    const all = Array.from({ length: 10 }, (_, i) => node(i + 1));
    const target = all[9]!;
    // A lone liar with a tiny bond is the only one whose fresh probes cover the target.
    const lone = [report(all[0]!, [{ node: target, sent: 128, ok: 0 }])];
    const weightOf = (a: Address): bigint => (a === all[0] ? 1n : 10n ** 18n);
    expect(aggregateObservations(lone, NOW, { weightOf, nodes: all }).nodes.find((n) => n.node === target)).toMatchObject({ state: "unknown", availability: 0, reporters: 1 });
    // Five honest nodes (5 × 10^18 of the other nodes' 8 × 10^18 + 1) say it answers: judged up, the liar outvoted.
    const honest = all.slice(1, 6).map((r) => report(r, [{ node: target, sent: 2, ok: 2, rttMs: 1 }]));
    expect(aggregateObservations([...lone, ...honest], NOW, { weightOf, nodes: all }).nodes.find((n) => n.node === target)).toMatchObject({ state: "up", availability: 1, reporters: 6 });
    // Three are not enough: 3 × 10^18 + 1 (with the liar) is less than half of the others' 8 × 10^18 + 1.
    expect(aggregateObservations([...lone, ...honest.slice(0, 3)], NOW, { weightOf, nodes: all }).nodes.find((n) => n.node === target)!.state).toBe("unknown");
  });

  it("ignores probes of addresses outside the registry (no invented nodes, no unbounded labels)", () => {
    const all = [node(1), node(2)];
    const fake = Array.from({ length: 50 }, (_, i) => ({ node: node(1000 + i), sent: 1, ok: 0 }));
    const view = aggregateObservations([report(node(1), [...fake, { node: node(2), sent: 1, ok: 1, rttMs: 1 }])], NOW, { weightOf: equal, nodes: all });
    expect(view.nodes.map((n) => n.node)).toEqual(all);
    expect(view.nodes[1]).toMatchObject({ state: "up" });
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
    // Error ratios 0.01, 0.04, 0: the median of the providers' ratios, not the pooled ratio a liar could swing.
    expect(view.services[0]).toMatchObject({ requestsPerSecond: 20, errorRate: 0.01, p50Ms: 2, p99Ms: 20 });
    expect(view.services[0]!.providers.map((p) => [p.node, p.requests, p.windowSeconds])).toEqual([
      [node(1), 100, 10],
      [node(2), 50, 10],
      [node(3), 50, 10],
    ]);
    expect(view.services[1]).toMatchObject({ requestsPerSecond: 0, errorRate: undefined, p50Ms: undefined, p99Ms: undefined });
  });

  it("ignores figures for services that do not exist, and one provider's inflated claims do not move the medians", () => {
    const view = aggregateObservations(
      [
        report(node(1), [], [{ serviceId: "2", requests: 10, errors: 0, p50Ms: 1, p99Ms: 2 }, { serviceId: "77", requests: 1, errors: 0 }]),
        report(node(2), [], [{ serviceId: "2", requests: 10, errors: 0, p50Ms: 1, p99Ms: 2 }]),
        report(node(3), [], [{ serviceId: "2", requests: 9e15, errors: 9e15, p50Ms: 3_000_000, p99Ms: 3_000_000 }]),
      ],
      NOW,
      { weightOf: equal, services: new Set(["2"]) },
    );
    expect(view.services.map((s) => s.serviceId)).toEqual(["2"]);
    expect(view.services[0]).toMatchObject({ errorRate: 0, p50Ms: 1, p99Ms: 2 });
  });
});

describe("aggregateObservations: Proof of Resource verdicts", () => {
  const target = node(99);
  const verdict = (reporter: Address, passed: boolean, over: Partial<ProofFigures> = {}): MetricReport => ({
    ...report(reporter, []),
    proofs: [{ node: target, at: NOW - 60_000, passed, advertisedMillicores: 4_000, ...(passed ? { provenMillicores: 5_000 + Number(BigInt(reporter) % 10n) } : {}), ...over }],
  });
  // Eligible: the reporters and the target, so every reporter's verdict is needed for the ⅔ quorum unless a row says otherwise.
  const proofOf = (reports: MetricReport[], options: Partial<Parameters<typeof aggregateObservations>[2]> = {}) =>
    aggregateObservations(reports, NOW, { weightOf: equal, nodes: [...new Set([...reports.map((r) => r.reporter), target])], ...options }).nodes.find((n) => n.node === target)!.proof;

  it.each([1, 2, 3])("f = %i liars of 3f + 1 checkers cannot fail an honest node, nor pass a lying one", (f) => {
    const n = 3 * f + 1;
    const checkers = Array.from({ length: n }, (_, i) => node(i + 1));
    const nodes = [...checkers, target];
    // An honest node (it passed the honest checkers) with f liars failing it.
    const honest = aggregateObservations(checkers.map((c, i) => verdict(c, i >= f)), NOW, { weightOf: equal, nodes });
    expect(honest.nodes.find((x) => x.node === target)!.proof).toMatchObject({ state: "proven", checkers: n });
    // A lying node (it failed the honest checkers) with f liars passing it.
    const lying = aggregateObservations(checkers.map((c, i) => verdict(c, i < f)), NOW, { weightOf: equal, nodes });
    expect(lying.nodes.find((x) => x.node === target)!.proof).toMatchObject({ state: "failed", checkers: n });
  });

  it.each<[string, MetricReport[], Partial<Parameters<typeof aggregateObservations>[2]>, string, number]>([
    ["no verdicts", [report(node(1), [])], {}, "unchecked", 0],
    ["one pass", [verdict(node(1), true)], {}, "proven", 1],
    ["one fail", [verdict(node(1), false)], {}, "failed", 1],
    ["an even split", [verdict(node(1), true), verdict(node(2), false)], {}, "disputed", 2],
    ["a split the bigger stake decides", [verdict(node(1), true), verdict(node(2), false)], { weightOf: (a: Address) => (a === node(2) ? 3n : 1n) }, "failed", 2],
    ["fewer checkers than minReporters", [verdict(node(1), true)], { minReporters: 2 }, "unchecked", 1],
    ["a verdict of itself", [{ ...verdict(node(1), true), reporter: target }], {}, "unchecked", 0],
    ["a stale verdict", [verdict(node(1), true, { at: NOW - 16 * 60_000 })], {}, "unchecked", 0],
    ["a verdict dated after its report", [verdict(node(1), true, { at: NOW + 1 })], {}, "unchecked", 0],
    ["a pass for less CPU than advertised now", [verdict(node(1), true)], { advertisedOf: () => 8_000 }, "unchecked", 0],
    ["a fail for less CPU than advertised now (still a fail)", [verdict(node(1), false)], { advertisedOf: () => 8_000 }, "failed", 1],
    ["a checker without stake", [verdict(node(1), true)], { weightOf: () => 0n }, "unchecked", 0],
    ["2 of 3 equal checkers (not more than ⅔ of the others' stake)", [verdict(node(1), true), verdict(node(2), true)], { nodes: [node(1), node(2), node(3), target] }, "unchecked", 2],
    ["3 of 4 equal checkers (more than ⅔)", [verdict(node(1), true), verdict(node(2), true), verdict(node(3), false)], { nodes: [node(1), node(2), node(3), node(4), target] }, "proven", 3],
    ["one checker holding more than ⅔ of the stake", [verdict(node(1), false)], { nodes: [node(1), node(2), target], weightOf: (a: Address) => (a === node(1) ? 3n : 1n) }, "failed", 1],
  ])("%s → %s", (_name, reports, options, state, checkers) => {
    expect(proofOf(reports, options)).toMatchObject({ state, checkers });
  });

  it("verdicts of unregistered nodes are ignored; the capacity shown is the weighted median", () => {
    const stranger = `0x${"e".repeat(40)}` as Address;
    const view = aggregateObservations(
      [verdict(node(1), true, { node: stranger }), verdict(node(1), true), verdict(node(2), true), verdict(node(3), true)],
      NOW,
      { weightOf: equal, nodes: [node(1), node(2), node(3), target] },
    );
    expect(view.nodes.map((n) => n.node)).not.toContain(stranger);
    expect(view.nodes.find((n) => n.node === target)!.proof).toMatchObject({ state: "proven", shownMillicores: 5_002 });
  });
});

describe("FaultTracker", () => {
  const at = (t: number, ...states: Array<[Address, NodeObservation["state"]]>): NetworkObservation => ({
    at: NOW + t,
    reporters: 3,
    services: [],
    nodes: states.map(([n, state]) => ({ node: n, state, availability: state === "up" ? 1 : state === "down" ? 0 : undefined, rttMs: undefined, reporters: 3, proof: UNCHECKED })),
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
    expect(tracker.observe(at(-1000, [a, "down"])).map((e) => [e.kind, e.node])).toEqual([["down", a]]);
    tracker.observe(at(-500, [a, "up"]));
    for (let i = 0; i < 5; i++) {
      tracker.observe(at(i * 2000, [a, "down"]));
      tracker.observe(at(i * 2000 + 1000, [a, "up"]));
    }
    expect(tracker.log).toHaveLength(3);
    expect(tracker.log.at(-1)!.kind).toBe("recovered");
    tracker.log.pop(); // a copy: the tracker's log is not the caller's to change
    expect(tracker.log).toHaveLength(3);
  });

  it("forgets a node that left the view: its uptime starts over when it returns", () => {
    const tracker = new FaultTracker();
    tracker.observe(at(0, [a, "down"]));
    tracker.observe(at(1000, [a, "down"]));
    tracker.observe(at(2000, [node(2), "up"])); // a left the registry
    expect(tracker.uptimeOf(a).uptime).toBeUndefined();
    tracker.observe(at(3_600_000, [a, "up"]));
    tracker.observe(at(3_601_000, [a, "up"]));
    expect(tracker.uptimeOf(a)).toEqual({ uptime: 1, since: NOW + 3_600_000, stateSince: NOW + 3_600_000 });
  });
});
