/**
 * The resolver against the in-memory DHT (which validates nothing, so forged, foreign and expired records
 * reach the resolver's own checks), with a hand-driven clock: filtering, selection, cache and de-duplication.
 */
import { describe, expect, it } from "vitest";
import type { Address } from "viem";
import { DiscoveryStoppedError } from "../errors.ts";
import type { NodeIdentity } from "../identity/node-identity.ts";
import { serviceProviderCid, serviceRecordKey } from "../p2p/dht-keys.ts";
import { encodeServiceRecord, signServiceRecord, type ServiceRecord, type SignedServiceRecord } from "../p2p/service-record.ts";
import { createTestClock, TEST_CHAIN_ID, TEST_REGISTRY, testIdentity } from "./discovery-network.fixture.ts";
import { MemoryDht } from "./memory-dht.fixture.ts";
import { allowListEligibility } from "./provider-eligibility.ts";
import { createServiceResolver, type ServiceResolverInit } from "./resolver.ts";

const [A, B, C, SELF] = ["resolver A", "resolver B", "resolver C", "resolver self"].map(testIdentity) as [
  NodeIdentity,
  NodeIdentity,
  NodeIdentity,
  NodeIdentity,
];
const SERVICE = 3n;
const locator = { chainId: TEST_CHAIN_ID, registry: TEST_REGISTRY, serviceId: SERVICE };
const START = 1_767_225_600_000;

function setup(init: Partial<ServiceResolverInit> = {}) {
  const clock = createTestClock(START);
  const dht = new MemoryDht();
  const resolver = createServiceResolver({
    ...locator,
    eligibility: allowListEligibility([A.address, B.address, C.address]),
    clock: clock.now,
    ...init,
  })({ dht: dht.nodeView(SELF.peerId), peerId: SELF.peerId });
  const nowSeconds = () => Math.floor(clock.now() / 1000);

  /** `node`'s signed record for the service, expiring in 10 minutes unless overridden. */
  const sign = (node: NodeIdentity, record: Partial<ServiceRecord> = {}) =>
    signServiceRecord(
      {
        ...locator,
        node: node.address,
        peerId: node.peerId.toString(),
        multiaddrs: ["/ip4/127.0.0.1/tcp/4660"],
        version: "1.0.0",
        load: 5000,
        pricePerCall: 10n,
        seq: 1n,
        expiresAt: nowSeconds() + 600,
        ...record,
      },
      node.account,
    );

  /** `node` provides the service; unless `record` is null, its record (fields overridable) is in the DHT. */
  async function provider(node: NodeIdentity, record: Partial<ServiceRecord> | null = {}) {
    dht.plantProvider(serviceProviderCid(locator), node.peerId);
    if (record === null) return;
    const signed = await sign(node, record);
    dht.plant(serviceRecordKey(signed), encodeServiceRecord(signed));
  }

  /** Plant `record` under `node`'s record key of our service, whatever the record says. */
  async function plantUnder(node: NodeIdentity, record: Promise<SignedServiceRecord>) {
    await provider(node, null);
    dht.plant(serviceRecordKey({ ...locator, peerId: node.peerId.toString() }), encodeServiceRecord(await record));
  }
  return { clock, dht, resolver, provider, plantUnder, sign, nowSeconds };
}

const peers = (result: { providers: { peerId: string }[] }) => result.providers.map((p) => p.peerId);

describe("ServiceResolver lookup", () => {
  it("returns each eligible provider once with its record, ordered by load, and reports hops", async () => {
    const { dht, resolver, provider } = setup();
    await provider(A, { load: 7000, pricePerCall: 5n, version: "2.0.0" });
    await provider(B, { load: 100 });
    const result = await resolver.resolveProviders(SERVICE);

    expect(result.source).toBe("network");
    expect(peers(result)).toEqual([B.peerId.toString(), A.peerId.toString()]);
    expect(result.providers[1]).toMatchObject({ node: A.address.toLowerCase(), load: 7000, pricePerCall: 5n, version: "2.0.0" });
    expect(result.providers[1]!.multiaddrs).toEqual(result.providers[1]!.record.multiaddrs);
    expect(result.stats).toMatchObject({
      providersFound: 2, // the DHT named each twice
      providerQuery: { queried: 2, responded: 2, hops: 2 },
      recordQueries: { queried: 4, responded: 4, hops: 2 },
      rejected: { ineligible: 0, missing: 0, expired: 0, invalid: 0, withdrawn: 0 },
    });
    expect(dht.calls.get).toBe(2);
  });

  it("skips providers the predicate refuses without querying their records", async () => {
    const { dht, resolver, provider } = setup({ eligibility: allowListEligibility([A.address]) });
    await provider(A);
    await provider(B);
    const result = await resolver.resolveProviders(SERVICE);
    expect(peers(result)).toEqual([A.peerId.toString()]);
    expect(result.stats.rejected.ineligible).toBe(1);
    expect(dht.calls.get).toBe(1);
  });

  it.each<[string, (p: ReturnType<typeof setup>) => Promise<void>, "missing" | "expired" | "invalid" | "withdrawn"]>([
    ["no record", (p) => p.provider(B, null), "missing"],
    ["an expired record", (p) => p.provider(B, { expiresAt: p.nowSeconds() }), "expired"],
    ["a record of another chain", (p) => p.plantUnder(B, p.sign(B, { chainId: 1 })), "invalid"],
    ["a record of another registry", (p) => p.plantUnder(B, p.sign(B, { registry: "0x00000000000000000000000000000000000000bb" as Address })), "invalid"],
    ["a record expiring too far ahead", (p) => p.provider(B, { expiresAt: p.nowSeconds() + 2 * 86_400 }), "invalid"],
    [
      "C's valid record under B's key",
      (p) => p.plantUnder(B, p.sign(C)),
      "invalid",
    ],
    [
      "garbage",
      async (p) => {
        await p.provider(B, null);
        p.dht.plant(serviceRecordKey({ ...locator, peerId: B.peerId.toString() }), new TextEncoder().encode('{"seq":"9"}'));
      },
      "invalid",
    ],
    [
      "a withdrawal record above the old one",
      async (p) => {
        await p.provider(B, { seq: 1n });
        const withdrawal = await p.sign(B, { seq: 2n, multiaddrs: [], load: 10_000, expiresAt: p.nowSeconds() + 60 });
        p.dht.plant(serviceRecordKey(withdrawal), encodeServiceRecord(withdrawal));
      },
      "withdrawn",
    ],
  ])("drops a provider with %s", async (_name, arrange, reason) => {
    const context = setup();
    await context.provider(A);
    await arrange(context);
    const result = await context.resolver.resolveProviders(SERVICE);
    expect(peers(result)).toEqual([A.peerId.toString()]);
    expect(result.stats.rejected[reason]).toBe(1);
  });

  it("counts a provider whose record query times out as missing and answers about the others", async () => {
    const { dht, resolver, provider } = setup({ recordTimeoutMs: 50 });
    await provider(A);
    await provider(B);
    dht.unreachableKeys.add(new TextDecoder().decode(serviceRecordKey({ ...locator, peerId: B.peerId.toString() })));
    const result = await resolver.resolveProviders(SERVICE);
    expect(peers(result)).toEqual([A.peerId.toString()]);
    expect(result.stats.rejected.missing).toBe(1);
  });

  it("keeps the newest valid record when peers hold several versions", async () => {
    const { resolver, provider, nowSeconds } = setup({ recordQuorum: Infinity });
    await provider(A, { seq: 5n, load: 1 });
    await provider(A, { seq: 9n, load: 2 });
    await provider(A, { seq: 12n, load: 3, expiresAt: nowSeconds() - 1 }); // newest, but expired
    await provider(A, { seq: 7n, load: 4 });
    const [only] = (await resolver.resolveProviders(SERVICE)).providers;
    expect(only).toMatchObject({ load: 2, record: { seq: 9n } });
  });
});

describe("ServiceResolver early exit (queries still converging elsewhere)", () => {
  it("ends the provider query once enoughProviders passed every check, without waiting for the query", async () => {
    const { dht, resolver, provider } = setup({ enoughProviders: 2, recordQuorum: 1, lookupTimeoutMs: 60_000 });
    dht.holdQueriesOpen = true;
    await provider(A, { load: 1 });
    await provider(SELF, null); // ineligible: does not count
    await provider(B, { load: 2 });
    await provider(C, { load: 3 });
    const result = await resolver.resolveProviders(SERVICE, AbortSignal.timeout(5_000));
    // Providers that came in while the first records were fetched are still judged (C here).
    expect(peers(result).slice(0, 2)).toEqual([A.peerId.toString(), B.peerId.toString()]);
    expect(result.stats.rejected.ineligible).toBe(1);
    expect(dht.abortedQueries).toBe(1); // the provider query; record queries ended at their quorum of 1
  });

  it("ends each record query after recordQuorum answers and keeps the best of them", async () => {
    const { dht, resolver, provider } = setup({ recordQuorum: 2, enoughProviders: 1, lookupTimeoutMs: 60_000 });
    dht.holdQueriesOpen = true;
    await provider(A, { seq: 5n, load: 1 });
    await provider(A, { seq: 9n, load: 2 });
    await provider(A, { seq: 12n, load: 3 }); // a third holder's answer is not waited for
    const result = await resolver.resolveProviders(SERVICE, AbortSignal.timeout(5_000));
    expect(result.providers).toHaveLength(1);
    expect(result.providers[0]).toMatchObject({ load: 2, record: { seq: 9n } });
  });

  it("with Infinity waits for the DHT to finish (here: the lookup bound)", async () => {
    const { dht, resolver, provider } = setup({ enoughProviders: Infinity, lookupTimeoutMs: 100 });
    dht.holdQueriesOpen = true;
    await provider(A);
    await expect(resolver.resolveProviders(SERVICE, AbortSignal.timeout(5_000))).rejects.toThrow();
  });
});

describe("ServiceResolver cache", () => {
  it("answers from the cache within the TTL, refreshes in the background before expiry, waits after it", async () => {
    const { clock, dht, resolver, provider } = setup({ cacheTtlMs: 60_000, refreshAheadMs: 15_000 });
    await provider(A);
    const first = await resolver.resolveProviders(SERVICE);
    expect(dht.calls.findProviders).toBe(1);

    clock.advance(44_999);
    const cached = await resolver.resolveProviders(SERVICE);
    expect(cached).toMatchObject({ source: "cache", resolvedAt: first.resolvedAt });
    expect(dht.calls.findProviders).toBe(1);

    await provider(B); // appears meanwhile
    clock.advance(1);
    const stale = await resolver.resolveProviders(SERVICE);
    expect(stale.source).toBe("cache");
    expect(peers(stale)).toEqual([A.peerId.toString()]);
    expect(dht.calls.findProviders).toBe(2); // background refresh started
    const refreshed = await resolver.refresh(SERVICE); // joins the refresh in flight
    expect(dht.calls.findProviders).toBe(2);
    expect(peers(refreshed)).toHaveLength(2);
    expect(await resolver.resolveProviders(SERVICE)).toMatchObject({ source: "cache", resolvedAt: refreshed.resolvedAt });

    clock.advance(60_000);
    expect((await resolver.resolveProviders(SERVICE)).source).toBe("network");
    expect(dht.calls.findProviders).toBe(3);
    expect(resolver.counters()).toEqual({ lookups: 3, cacheHits: 2, staleHits: 1, joined: 1 });
  });

  it("ends an entry when its first record expires, and an empty answer after emptyTtlMs", async () => {
    const { clock, dht, resolver, provider, nowSeconds } = setup({ cacheTtlMs: 60_000, emptyTtlMs: 2_000 });
    expect((await resolver.resolveProviders(SERVICE)).providers).toEqual([]);
    clock.advance(1_499); // an empty answer spends its last quarter stale: not yet
    expect((await resolver.resolveProviders(SERVICE)).source).toBe("cache");
    expect(dht.calls.findProviders).toBe(1);
    clock.advance(501);
    await provider(A, { expiresAt: nowSeconds() + 10 });
    expect((await resolver.resolveProviders(SERVICE)).providers).toHaveLength(1);
    expect(dht.calls.findProviders).toBe(2);
    clock.advance(7_499);
    expect((await resolver.resolveProviders(SERVICE)).source).toBe("cache");
    clock.advance(2_501); // the record expired: so did the entry, well before the TTL
    expect((await resolver.resolveProviders(SERVICE)).source).toBe("network");
  });

  it("invalidate forgets a service", async () => {
    const { dht, resolver, provider } = setup();
    await provider(A);
    await resolver.resolveProviders(SERVICE);
    resolver.invalidate(SERVICE);
    expect((await resolver.resolveProviders(SERVICE)).source).toBe("network");
    expect(dht.calls.findProviders).toBe(2);
  });
});

describe("ServiceResolver concurrency and lifecycle", () => {
  it("runs one lookup for concurrent callers; one caller's abort ends only its own wait", async () => {
    const { dht, resolver, provider } = setup();
    await provider(A);
    let open!: () => void;
    dht.gate = new Promise((resolve) => (open = resolve));
    const impatient = new AbortController();
    const calls = [resolver.resolveProviders(SERVICE), resolver.resolveProviders(SERVICE, impatient.signal), resolver.refresh(SERVICE)];
    impatient.abort(new Error("impatient"));
    await expect(calls[1]).rejects.toThrow("impatient");
    open();
    const [a, c] = await Promise.all([calls[0]!, calls[2]!]);
    expect(a).toBe(c);
    expect(peers(a)).toEqual([A.peerId.toString()]);
    expect(dht.calls.findProviders).toBe(1);
    expect(resolver.counters()).toMatchObject({ lookups: 1, joined: 2 });
  });

  it("rejects at once with an already aborted signal", async () => {
    const { resolver } = setup();
    await expect(resolver.resolveProviders(SERVICE, AbortSignal.abort(new Error("late")))).rejects.toThrow("late");
  });

  it("stop aborts lookups in flight and refuses new ones; idempotent", async () => {
    const { dht, resolver } = setup();
    dht.gate = new Promise(() => undefined);
    const pending = resolver.resolveProviders(SERVICE);
    await Promise.all([resolver.stop(), resolver.stop()]);
    await expect(pending).rejects.toBeInstanceOf(DiscoveryStoppedError);
    expect(resolver.status).toBe("stopped");
    await expect(resolver.resolveProviders(SERVICE)).rejects.toBeInstanceOf(DiscoveryStoppedError);
  });

  it("refuses nonsense options", () => {
    const make = (init: Partial<ServiceResolverInit>) => () => createServiceResolver({ ...locator, eligibility: () => true, ...init });
    expect(make({ maxProviders: 0 })).toThrow(RangeError);
    expect(make({ recordConcurrency: 1.5 })).toThrow(RangeError);
    expect(make({ enoughProviders: 0 })).toThrow(RangeError);
    expect(make({ recordQuorum: -1 })).toThrow(RangeError);
    expect(make({ enoughProviders: Infinity, recordQuorum: Infinity })).not.toThrow();
    expect(make({ cacheTtlMs: 1_000, emptyTtlMs: 2_000 })).toThrow(RangeError);
  });
});
