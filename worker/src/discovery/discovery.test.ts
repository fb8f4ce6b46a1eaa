/**
 * Discovery end to end on real sockets: five libp2p nodes on 127.0.0.1 linked in a chain of bootstrap dials,
 * the DSMP DHT with our validators, announcers on the providers and a resolver elsewhere. Time that matters
 * to records (expiry, cache) is a shared hand-driven clock; waits are bounded conditions, never sleeps.
 */
import type { KadDHT } from "@libp2p/kad-dht";
import { afterEach, describe, expect, it } from "vitest";
import type { NodeIdentity } from "../identity/node-identity.ts";
import { createServiceAnnouncer, type ServiceAnnouncer, type ServiceAnnouncerInit } from "./announcer.ts";
import { ChainNetwork, createTestClock, TEST_CHAIN_ID, TEST_REGISTRY, TEST_WAIT_MS } from "./discovery-network.fixture.ts";
import { createManualTimers } from "./manual-timers.fixture.ts";
import { allowListEligibility, type ProviderEligibility } from "./provider-eligibility.ts";
import { createServiceResolver, type ResolveResult, type ServiceResolver, type ServiceResolverInit } from "./resolver.ts";

const SERVICE = { serviceId: 7n, version: "1.0.0", pricePerCall: 25n };
const deployment = { chainId: TEST_CHAIN_ID, registry: TEST_REGISTRY };

let cleanup: (() => Promise<void>)[] = [];
/** Announcers whose node was stopped without withdrawing (a crash): nothing to clean up. */
const crashed = new WeakSet<ServiceAnnouncer>();
afterEach(async () => {
  const steps = cleanup.reverse();
  cleanup = [];
  for (const step of steps) await step().catch(() => undefined);
});

/** A started chain of `count` nodes (stopped after the test). */
async function chain(count: number, apart: [number, number][] = []): Promise<ChainNetwork> {
  const network = await ChainNetwork.start({ count, clock: createTestClock(), apart, label: "discovery e2e" });
  cleanup.push(() => network.stop());
  return network;
}

/** An announcer on node `i` whose re-announce timers never fire by themselves. */
function announcerOn(network: ChainNetwork, i: number, init: Partial<ServiceAnnouncerInit> = {}): ServiceAnnouncer {
  const node = network.nodes[i]!;
  const announcer = createServiceAnnouncer({ ...deployment, clock: network.clock.now, timers: createManualTimers().timers, ...init })({
    dht: node.services.dht,
    identity: network.identities[i]!,
    getMultiaddrs: () => node.getMultiaddrs(),
  });
  cleanup.push(async () => {
    if (!crashed.has(announcer)) await announcer.stop({ signal: AbortSignal.timeout(5_000) });
  });
  return announcer;
}

function resolverOn(
  network: ChainNetwork,
  i: number,
  eligibility: ProviderEligibility,
  init: Partial<ServiceResolverInit> = {},
  dht: Pick<KadDHT, "findProviders" | "get"> = network.nodes[i]!.services.dht,
): ServiceResolver {
  const resolver = createServiceResolver({ ...deployment, eligibility, clock: network.clock.now, ...init })({ dht, peerId: network.nodes[i]!.peerId });
  cleanup.push(() => resolver.stop());
  return resolver;
}

const allow = (...nodes: NodeIdentity[]) => allowListEligibility(nodes.map((node) => node.address));
const peersOf = (result: ResolveResult) => result.providers.map((p) => p.peerId).sort();
const peerIds = (...nodes: NodeIdentity[]) => nodes.map((node) => node.peerId.toString()).sort();
const bounded = () => AbortSignal.timeout(TEST_WAIT_MS);

describe("service discovery over a 5-node chain", () => {
  it("finds both providers of a service from a node never connected to them", async () => {
    const network = await chain(5, [
      [4, 0],
      [4, 1],
    ]);
    const [p0, p1] = network.identities as [NodeIdentity, NodeIdentity];
    const announced = await Promise.all([announcerOn(network, 0).announce(SERVICE), announcerOn(network, 1).announce(SERVICE)]);
    for (const result of announced) {
      expect(result.storedOn).toBeGreaterThanOrEqual(2); // the three peers each provider reaches, less any still busy
      expect(result.providedTo).toBeGreaterThanOrEqual(2);
    }

    const resolver = resolverOn(network, 4, allow(p0, p1));
    const result = await resolver.resolveProviders(SERVICE.serviceId, bounded());
    expect(peersOf(result)).toEqual(peerIds(p0, p1));
    for (const provider of result.providers) {
      const index = network.identities.findIndex((identity) => identity.peerId.toString() === provider.peerId);
      expect(provider.multiaddrs).toEqual(network.nodes[index]!.getMultiaddrs().map(String));
      expect(provider).toMatchObject({ version: "1.0.0", pricePerCall: 25n, load: 0 });
    }
    expect(network.nodes[4]!.getConnections(p0.peerId)).toEqual([]);
    expect(network.nodes[4]!.getConnections(p1.peerId)).toEqual([]);
    expect(result.stats.providerQuery.responded).toBeGreaterThanOrEqual(1);
    expect(result.stats.providerQuery.hops).toBeGreaterThanOrEqual(1);
    expect(result.stats.rejected).toEqual({ ineligible: 0, missing: 0, expired: 0, invalid: 0, withdrawn: 0 });

    // Measure: fresh lookups from the far node.
    const samples: ResolveResult["stats"][] = [];
    for (let round = 0; round < 10; round++) {
      const again = await resolver.refresh(SERVICE.serviceId, bounded());
      expect(peersOf(again)).toEqual(peerIds(p0, p1));
      samples.push(again.stats);
    }
    const range = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return `${sorted[0]!.toFixed(1)}–${sorted.at(-1)!.toFixed(1)} ms, median ${sorted[sorted.length >> 1]!.toFixed(1)} ms`;
    };
    console.info(
      `[discovery] fresh lookup from node 4 (2 providers): total ${range(samples.map((s) => s.durationMs))}, ` +
        `provider query ${range(samples.map((s) => s.providerQueryMs))}; ` +
        `provider query: queried ${samples.map((s) => s.providerQuery.queried).join("/")}, hops ${samples.map((s) => s.providerQuery.hops).join("/")}; ` +
        `record queries: queried ${samples.map((s) => s.recordQueries.queried).join("/")}, hops ${samples.map((s) => s.recordQueries.hops).join("/")}`,
    );
  });

  it("ignores a provider whose node the chain-view predicate does not admit", async () => {
    const network = await chain(5);
    const [p0, p1] = network.identities as [NodeIdentity, NodeIdentity];
    await Promise.all([announcerOn(network, 0).announce(SERVICE), announcerOn(network, 1).announce(SERVICE)]);
    const result = await resolverOn(network, 4, allow(p0)).resolveProviders(SERVICE.serviceId, bounded());
    expect(peersOf(result)).toEqual(peerIds(p0));
    expect(result.stats.providersFound).toBe(2);
    expect(result.stats.rejected.ineligible).toBe(1);
    expect(p1.address).not.toBe(p0.address);
  });

  it("ignores an expired record", async () => {
    const network = await chain(5);
    const [p0, p1] = network.identities as [NodeIdentity, NodeIdentity];
    await announcerOn(network, 0, { recordLifetimeMs: 60_000, withdrawalLifetimeMs: 1_000 }).announce(SERVICE);
    await announcerOn(network, 1).announce(SERVICE);
    const resolver = resolverOn(network, 4, allow(p0, p1));
    expect(peersOf(await resolver.resolveProviders(SERVICE.serviceId, bounded()))).toEqual(peerIds(p0, p1));

    network.clock.advance(61_000); // p0's record is over for every node of the network
    const result = await resolver.refresh(SERVICE.serviceId, bounded());
    expect(peersOf(result)).toEqual(peerIds(p1));
    // kad-dht's validator drops the expired value before the resolver sees it, so it counts as missing.
    expect(result.stats.rejected.missing + result.stats.rejected.expired).toBe(1);
  });

  it("finds a restarted provider again, with a higher seq and its new addresses", async () => {
    const network = await chain(5, [
      [4, 0],
      [4, 1],
    ]);
    const [p0, p1] = network.identities as [NodeIdentity, NodeIdentity];
    const first = announcerOn(network, 0);
    const before = await first.announce(SERVICE);
    await announcerOn(network, 1).announce(SERVICE);
    const resolver = resolverOn(network, 4, allow(p0, p1));
    const found = await resolver.resolveProviders(SERVICE.serviceId, bounded());
    expect(found.providers.find((p) => p.peerId === p0.peerId.toString())?.record.seq).toBe(before.record.seq);

    await first.stop(); // withdraws
    const oldAddresses = network.nodes[0]!.getMultiaddrs().map(String);
    network.clock.advance(1_000);
    const node = await network.restart(0, 1);
    const after = await announcerOn(network, 0).announce(SERVICE);
    expect(after.record.seq).toBeGreaterThan(before.record.seq + 1n); // above the withdrawal record too

    const result = await resolver.refresh(SERVICE.serviceId, bounded());
    expect(peersOf(result)).toEqual(peerIds(p0, p1));
    const again = result.providers.find((p) => p.peerId === p0.peerId.toString())!;
    expect(again.record.seq).toBe(after.record.seq);
    expect(again.multiaddrs).toEqual(node.getMultiaddrs().map(String));
    expect(again.multiaddrs).not.toEqual(oldAddresses);
  });

  it("answers from the cache within the TTL without a network query, and refreshes after", async () => {
    const network = await chain(5);
    const [p0] = network.identities as [NodeIdentity];
    await announcerOn(network, 0).announce(SERVICE);
    const dht = network.nodes[4]!.services.dht;
    let providerQueries = 0;
    const counting: Pick<KadDHT, "findProviders" | "get"> = {
      findProviders: (cid, options) => {
        providerQueries++;
        return dht.findProviders(cid, options);
      },
      get: (key, options) => dht.get(key, options),
    };
    const resolver = resolverOn(network, 4, allow(p0), { cacheTtlMs: 60_000, refreshAheadMs: 15_000 }, counting);

    const first = await resolver.resolveProviders(SERVICE.serviceId, bounded());
    expect([first.source, providerQueries]).toEqual(["network", 1]);
    network.clock.advance(30_000);
    const cached = await resolver.resolveProviders(SERVICE.serviceId, bounded());
    expect([cached.source, cached.resolvedAt, providerQueries]).toEqual(["cache", first.resolvedAt, 1]);

    network.clock.advance(16_000); // inside the refresh-ahead window: served, refreshed in the background
    const stale = await resolver.resolveProviders(SERVICE.serviceId, bounded());
    expect([stale.source, providerQueries]).toEqual(["cache", 2]);
    const refreshed = await resolver.refresh(SERVICE.serviceId, bounded()); // joins the background lookup
    expect(providerQueries).toBe(2);
    expect(refreshed.resolvedAt).toBeGreaterThan(first.resolvedAt);

    network.clock.advance(61_000);
    const expired = await resolver.resolveProviders(SERVICE.serviceId, bounded());
    expect([expired.source, providerQueries]).toEqual(["network", 3]);
    expect(peersOf(expired)).toEqual(peerIds(p0));
  });

  it("drops a withdrawn provider from fresh lookups at once, and a crashed one when its record expires", async () => {
    const network = await chain(5, [
      [4, 0],
      [4, 1],
    ]);
    const [p0, p1] = network.identities as [NodeIdentity, NodeIdentity];
    const lifetimeMs = 120_000;
    const crashing = announcerOn(network, 0, { recordLifetimeMs: lifetimeMs });
    const leaving = announcerOn(network, 1, { recordLifetimeMs: lifetimeMs });
    await Promise.all([crashing.announce(SERVICE), leaving.announce(SERVICE)]);
    const resolver = resolverOn(network, 4, allow(p0, p1));
    expect(peersOf(await resolver.resolveProviders(SERVICE.serviceId, bounded()))).toEqual(peerIds(p0, p1));

    await leaving.stop(); // graceful: withdrawal record
    await network.nodes[1]!.stop();
    await network.nodes[0]!.stop(); // crash: no withdrawal
    crashed.add(crashing);

    const afterStop = await resolver.refresh(SERVICE.serviceId, bounded());
    expect(peersOf(afterStop)).toEqual(peerIds(p0)); // its record is still valid: Kademlia cannot tell
    expect(afterStop.stats.rejected.withdrawn).toBe(1);

    network.clock.advance(lifetimeMs);
    const afterExpiry = await resolver.refresh(SERVICE.serviceId, bounded());
    expect(peersOf(afterExpiry)).toEqual([]);
    expect(afterExpiry.stats.providersFound).toBe(2); // the provider entries outlive both records
  });
});
