/**
 * Open Observability over real libp2p (TCP + Noise + yamux on 127.0.0.1, gossipsub, ping): four bonded
 * Xnodes report on each other; one is killed and one lies about it; forged, unregistered, replayed and
 * malformed reports are dropped and counted. Intervals are driven explicitly (`runInterval`), not by timers.
 */
import { randomBytes } from "node:crypto";
import type { PeerId } from "@libp2p/interface";
import { afterEach, describe, expect, it } from "vitest";
import type { Address } from "viem";
import { identityFromPrivateKey, type NodeIdentity } from "../identity/node-identity.ts";
import { createLogger } from "../log.ts";
import type { DsmpLibp2p } from "../p2p/libp2p-node.ts";
import { TEST_WAIT_MS, TestNodes } from "../p2p/p2p-test-harness.ts";
import { signMetricReport } from "./metric-report.ts";
import { ObservabilityService, type ObservabilityServiceInit, type ObservedNode } from "./observability-service.ts";

const CHAIN = 31337;
const REGISTRY = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0" as const;
const DOMAIN = { chainId: CHAIN, registry: REGISTRY };
const BOND = 10n ** 18n;
const logger = createLogger({ level: "silent" });
const nodes = new TestNodes();
const services: ObservabilityService[] = [];

afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  await nodes.stopAll();
});

interface Member {
  identity: NodeIdentity;
  node: DsmpLibp2p;
  service: ObservabilityService;
  counts: Map<string, number>;
}

async function startMember(registered: () => readonly ObservedNode[], options: Partial<ObservabilityServiceInit> = {}, identity = identityFromPrivateKey(randomBytes(32))): Promise<Member> {
  const node = await nodes.start({ privateKey: identity.privateKey, gossipsub: { heartbeatInterval: 100 } });
  const counts = new Map<string, number>();
  const bump = (key: string): void => void counts.set(key, (counts.get(key) ?? 0) + 1);
  const service = new ObservabilityService({
    domain: DOMAIN,
    account: identity.account,
    pubsub: node.libp2p.services.pubsub,
    ping: (peer: PeerId, { signal }) => node.libp2p.services.ping.ping(peer, { signal }),
    nodes: registered,
    intervalMs: 3_600_000, // the test drives intervals itself
    probeTimeoutMs: 1_500,
    logger,
    metrics: {
      received: (outcome) => bump(`received:${outcome}`),
      published: (outcome) => bump(`published:${outcome}`),
      probed: (ok) => bump(`probed:${ok}`),
      fault: (event) => bump(`fault:${event.kind}`),
    },
    ...options,
  });
  service.start();
  services.push(service);
  return { identity, node, service, counts };
}

async function until(what: string, condition: () => boolean | Promise<boolean>, step: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + TEST_WAIT_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await step();
  }
}

/** The envelope with its report changed after signing. */
function tampered(signed: Uint8Array, change: (report: Record<string, unknown>) => Record<string, unknown>): Uint8Array {
  const envelope = JSON.parse(new TextDecoder().decode(signed)) as { v: 1; report: string; signature: string };
  return new TextEncoder().encode(JSON.stringify({ ...envelope, report: JSON.stringify(change(JSON.parse(envelope.report) as Record<string, unknown>)) }));
}

const stateOf = (m: Member, address: Address) => m.service.view().nodes.find((n) => n.node === address);

describe("ObservabilityService over libp2p", () => {
  it("four nodes agree on who is up; a killed node is down everywhere despite a liar vouching for it", async () => {
    const identities = Array.from({ length: 4 }, () => identityFromPrivateKey(randomBytes(32)));
    const registered = (): ObservedNode[] => identities.map((i) => ({ address: i.address, peerId: i.peerId, weight: BOND }));
    const [a, b, c] = await Promise.all(identities.slice(0, 3).map((identity) => startMember(registered, {}, identity)));
    // D is Byzantine: its "probes" always succeed, whoever it asks.
    const d = await startMember(registered, { ping: async () => 0.2 }, identities[3]);
    const members = [a!, b!, c!, d];
    for (const m of members.slice(1)) await m.node.libp2p.dial(a!.node.libp2p.getMultiaddrs()[0]!);
    await b!.node.libp2p.dial(c!.node.libp2p.getMultiaddrs()[0]!);

    const everyoneUp = (m: Member): boolean => identities.every((i) => i.address === m.identity.address || (stateOf(m, i.address)?.state === "up" && stateOf(m, i.address)!.reporters >= 3));
    await until("every node to see the three others up, each vouched for by 3 reporters", () => members.every(everyoneUp), () => Promise.all(members.map((m) => m.service.runInterval())));
    const view = a!.service.view();
    expect(view.observer).toBe(a!.identity.address);
    expect(view.reporters).toBe(4);
    const bOfA = stateOf(a!, b!.identity.address)!;
    expect(bOfA.availability).toBe(1);
    expect(bOfA.rttMs).toBeGreaterThan(0);
    expect(bOfA.uptime).toBe(1);
    expect(a!.counts.get("received:accepted")).toBeGreaterThanOrEqual(3);
    expect(a!.counts.get("probed:true")).toBeGreaterThanOrEqual(3);

    // Kill C. A and B's probes now fail; D keeps saying C answers in 0.2 ms.
    await c!.service.stop();
    await c!.node.stop();
    const survivors = [a!, b!, d];
    const cDown = (m: Member): boolean => stateOf(m, c!.identity.address)?.state === "down";
    await until("A and B to see C down", () => cDown(a!) && cDown(b!), () => Promise.all(survivors.map((m) => m.service.runInterval())));
    // Uptime counts the time spent in the state just left: further intervals put C's down time on the books.
    const downTimeCounted = (m: Member): boolean => (stateOf(m, c!.identity.address)?.uptime ?? 1) < 1;
    await until("C's down time to count in A's and B's uptime", () => downTimeCounted(a!) && downTimeCounted(b!), () => Promise.all(survivors.map((m) => m.service.runInterval())));
    for (const m of [a!, b!]) {
      const seen = stateOf(m, c!.identity.address)!;
      expect(seen.availability).toBe(0);
      expect(seen.rttMs).toBeUndefined(); // the liar's 0.2 ms does not survive the median
      expect(m.service.view().faults.map((f) => [f.node, f.kind])).toContainEqual([c!.identity.address, "down"]);
      expect(m.counts.get("fault:down")).toBe(1);
      expect([...m.service.downPeers()]).toEqual([c!.identity.peerId.toString()]);
      expect(stateOf(m, d.identity.address)!.state).toBe("up");
      expect(stateOf(m, c!.identity.address)!.uptime).toBeLessThan(1);
    }
    // A stopped service's view says nothing about now: no gateway routes around anyone on its word.
    await a!.service.stop();
    expect(a!.service.downPeers().size).toBe(0);
  });

  it("drops malformed, forged, unregistered, relayed, wrong-chain, stale and replayed reports in the topic validator, and counts each reason", async () => {
    const honest = identityFromPrivateKey(randomBytes(32));
    const outsider = identityFromPrivateKey(randomBytes(32));
    const victim = identityFromPrivateKey(randomBytes(32)); // registered, not running: the attacker replays its report
    const attackerIdentity = identityFromPrivateKey(randomBytes(32));
    const registered = (): ObservedNode[] => [honest, attackerIdentity, victim].map((i) => ({ address: i.address, peerId: i.peerId, weight: BOND }));
    const observer = await startMember(registered, {}, honest);
    const attacker = await startMember(registered, {}, attackerIdentity);
    await attacker.node.libp2p.dial(observer.node.libp2p.getMultiaddrs()[0]!);
    const pubsub = attacker.node.libp2p.services.pubsub;
    const topic = observer.service.topic;
    await until("the attacker to see the observer on the topic", () => pubsub.getSubscribers(topic).length > 0, () => new Promise((r) => setTimeout(r, 50)));

    const now = Date.now();
    const valid = await signMetricReport(attackerIdentity.account, REGISTRY, { chainId: CHAIN, reporter: attackerIdentity.address, windowStart: now - 5000, windowEnd: now, services: [], probes: [] });
    const sends: Array<[string, Uint8Array]> = [
      ["malformed", new TextEncoder().encode('{"v":1,"report":"{}","signature":"0x00"}')],
      ["malformed", Uint8Array.of(0xff, 0x00, 0x12)],
      ["bad-signature", tampered(valid, (report) => ({ ...report, windowEnd: now + 1 }))],
      ["unknown-reporter", await signMetricReport(outsider.account, REGISTRY, { chainId: CHAIN, reporter: outsider.address, windowStart: now - 5000, windowEnd: now, services: [], probes: [] })],
      ["wrong-author", await signMetricReport(victim.account, REGISTRY, { chainId: CHAIN, reporter: victim.address, windowStart: now - 5000, windowEnd: now, services: [], probes: [] })],
      ["wrong-chain", await signMetricReport(attackerIdentity.account, REGISTRY, { chainId: 1, reporter: attackerIdentity.address, windowStart: now - 5000, windowEnd: now, services: [], probes: [] })],
      ["stale", await signMetricReport(attackerIdentity.account, REGISTRY, { chainId: CHAIN, reporter: attackerIdentity.address, windowStart: now - 600_000, windowEnd: now - 590_000, services: [], probes: [] })],
      ["accepted", valid],
    ];
    for (const [, bytes] of sends) await pubsub.publish(topic, bytes);
    // The same valid bytes again, in a new gossip message (gossipsub dedups only identical messages).
    await pubsub.publish(topic, valid);
    const expected = new Map<string, number>();
    for (const [reason] of [...sends, ["replayed"] as const]) expected.set(`received:${reason}`, (expected.get(`received:${reason}`) ?? 0) + 1);
    const received = (): Map<string, number> => new Map([...observer.counts].filter(([k]) => k.startsWith("received:")));
    await until("every message to be judged", () => [...received().values()].reduce((s, n) => s + n, 0) >= sends.length + 1, () => new Promise((r) => setTimeout(r, 50)));
    expect(received()).toEqual(expected);
  });
});
