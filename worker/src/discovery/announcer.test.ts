/**
 * The announcer against the in-memory DHT, with a hand-driven clock and timers: what it publishes, in which
 * order, when it re-announces, how it fails, withdraws and stops.
 */
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { DiscoveryNoAddressesError, DiscoveryStoppedError, RecordInvalidError } from "../errors.ts";
import { serviceProviderCid, serviceRecordKey } from "../p2p/dht-keys.ts";
import { decodeServiceRecord, MAX_LOAD_BPS, MAX_MULTIADDRS, validateServiceRecord } from "../p2p/service-record.ts";
import { advertisableMultiaddrs, createServiceAnnouncer, nextSeq, type ServiceAnnouncerInit } from "./announcer.ts";
import { createTestClock, TEST_CHAIN_ID, TEST_REGISTRY, testIdentity } from "./discovery-network.fixture.ts";
import { createManualTimers } from "./manual-timers.fixture.ts";
import { MemoryDht } from "./memory-dht.fixture.ts";

const NODE = testIdentity("announcer");
const ADDRESSES = ["/ip4/127.0.0.1/tcp/4660", "/ip4/127.0.0.1/tcp/4661/ws"];
const SERVICE = { serviceId: 7n, version: "1.2.0", pricePerCall: 1000n };
const locator = { chainId: TEST_CHAIN_ID, registry: TEST_REGISTRY, serviceId: SERVICE.serviceId };
const recordKey = serviceRecordKey({ ...locator, peerId: NODE.peerId.toString() });

function setup(init: Partial<ServiceAnnouncerInit> = {}, addresses: string[] = ADDRESSES) {
  const clock = createTestClock(1_767_225_600_000);
  const manual = createManualTimers();
  const dht = new MemoryDht();
  const announcer = createServiceAnnouncer({ chainId: TEST_CHAIN_ID, registry: TEST_REGISTRY, clock: clock.now, timers: manual.timers, ...init })({
    dht: dht.nodeView(NODE.peerId),
    identity: NODE,
    getMultiaddrs: () => addresses,
  });
  /** The record the DHT holds for our service, decoded. */
  const stored = () => {
    const values = dht.values.get(new TextDecoder().decode(recordKey)) ?? [];
    expect(values).toHaveLength(1);
    return decodeServiceRecord(values[0]!);
  };
  return { clock, manual, dht, announcer, stored };
}

describe("nextSeq", () => {
  it.each<[bigint | undefined, number, bigint]>([
    [undefined, 1_000, 1_000n],
    [999n, 1_000, 1_000n],
    [1_000n, 1_000, 1_001n], // same millisecond
    [5_000n, 1_000, 5_001n], // clock went back
    [undefined, 1_000.9, 1_000n],
  ])("after %s at %d ms → %s", (previous, now, expected) => {
    expect(nextSeq(previous, now)).toBe(expected);
  });
});

describe("advertisableMultiaddrs", () => {
  it("keeps distinct plain multiaddr strings, at most 16", () => {
    const many = Array.from({ length: 20 }, (_, i) => `/ip4/10.0.0.${i}/tcp/1`);
    expect(advertisableMultiaddrs(["/ip4/1.2.3.4/tcp/1", "/ip4/1.2.3.4/tcp/1", 'bad"', "/dns4/a b/tcp/1", "no-slash", `/${"x".repeat(300)}`])).toEqual([
      "/ip4/1.2.3.4/tcp/1",
    ]);
    expect(advertisableMultiaddrs(many)).toHaveLength(MAX_MULTIADDRS);
  });
});

describe("ServiceAnnouncer", () => {
  it("puts a valid signed record, then provides, and schedules the next round at half the lifetime", async () => {
    const { clock, manual, dht, announcer, stored } = setup();
    const result = await announcer.announce({ ...SERVICE, load: () => 1234 });

    expect(dht.log).toEqual([`put ${new TextDecoder().decode(recordKey)}`, `provide ${serviceProviderCid(locator)}`]);
    const record = stored();
    await validateServiceRecord(dht.values.get(new TextDecoder().decode(recordKey))![0]!, {
      now: Math.floor(clock.now() / 1000),
      expectedKey: recordKey,
      chainId: TEST_CHAIN_ID,
      registry: TEST_REGISTRY,
    });
    expect(record).toMatchObject({
      node: NODE.address.toLowerCase(),
      peerId: NODE.peerId.toString(),
      multiaddrs: ADDRESSES,
      version: "1.2.0",
      load: 1234,
      pricePerCall: 1000n,
      seq: BigInt(clock.now()),
      expiresAt: Math.floor(clock.now() / 1000) + 600,
    });
    expect(result).toMatchObject({ serviceId: 7n, storedOn: 1, refusedBy: 0, providedTo: 1, nextRoundAt: clock.now() + 300_000 });
    expect(manual.pending()).toEqual([300_000]);
    expect(announcer.records()).toEqual([result.record]);
  });

  it("re-announces when the timer fires, with a higher seq, a later expiry and the current load", async () => {
    const { clock, manual, announcer, stored } = setup({ recordLifetimeMs: 60_000, reannounceFraction: 0.75 });
    let load = 100;
    const first = await announcer.announce({ ...SERVICE, load: () => load });
    expect(manual.pending()).toEqual([45_000]);

    clock.advance(45_000);
    load = 9000;
    const announced = once(announcer, "announced");
    expect(manual.fireAll()).toBe(1);
    const [second] = await announced;
    expect(second.record.seq).toBeGreaterThan(first.record.seq);
    expect(second.record.expiresAt).toBe(first.record.expiresAt + 45);
    expect(stored()).toMatchObject({ seq: second.record.seq, load: 9000 });
    expect(manual.pending()).toEqual([45_000]);
  });

  it("keeps seq strictly increasing when the clock stands still or goes back", async () => {
    const { clock, announcer } = setup();
    const a = await announcer.announce(SERVICE);
    const b = await announcer.announce({ ...SERVICE, version: "1.2.1" });
    clock.advance(-10_000);
    const c = await announcer.announce(SERVICE);
    expect([b.record.seq - a.record.seq, c.record.seq - b.record.seq]).toEqual([1n, 1n]);
  });

  it("reports a failed round and retries after retryDelayMs", async () => {
    const { manual, dht, announcer, stored } = setup({ retryDelayMs: 1_500 });
    dht.putError = new Error("no peers");
    const failed = once(announcer, "failed");
    await expect(announcer.announce(SERVICE)).rejects.toThrow("no peers");
    expect((await failed)[0]).toMatchObject({ serviceId: 7n });
    expect(manual.pending()).toEqual([1_500]);

    dht.putError = undefined;
    const announced = once(announcer, "announced");
    manual.fireAll();
    await announced;
    expect(stored().version).toBe("1.2.0");
    expect(manual.pending()).toEqual([300_000]);
  });

  it("refuses a record it would not accept, before anything leaves the node, and drops the service", async () => {
    const { manual, dht, announcer } = setup();
    await expect(announcer.announce({ ...SERVICE, version: "1.0 beta" })).rejects.toBeInstanceOf(RecordInvalidError);
    expect(dht.calls.put + dht.calls.provide).toBe(0);
    expect(manual.pending()).toEqual([]);
    expect(await announcer.withdraw(SERVICE.serviceId)).toBeUndefined();
  });

  it("keeps announcing the last valid version when an update is invalid", async () => {
    const { manual, announcer, stored } = setup({ retryDelayMs: 2_000 });
    await announcer.announce(SERVICE);
    await expect(announcer.announce({ ...SERVICE, version: "x".repeat(65) })).rejects.toBeInstanceOf(RecordInvalidError);
    expect(manual.pending()).toEqual([2_000]);
    const announced = once(announcer, "announced");
    manual.fireAll();
    const [result] = await announced;
    expect(result.record.version).toBe("1.2.0");
    expect(stored().seq).toBe(result.record.seq);
  });

  it("clamps the load to 0–10000 basis points", async () => {
    const { announcer } = setup();
    expect((await announcer.announce({ ...SERVICE, load: () => 25_000.4 })).record.load).toBe(MAX_LOAD_BPS);
    expect((await announcer.announce({ ...SERVICE, load: () => -3 })).record.load).toBe(0);
  });

  it("needs an address to announce", async () => {
    const { dht, announcer } = setup({}, ['/bad"quote']);
    await expect(announcer.announce(SERVICE)).rejects.toBeInstanceOf(DiscoveryNoAddressesError);
    expect(dht.calls.put).toBe(0);
  });

  it("withdraws: stops re-providing, publishes a short-lived record without addresses, stops its timer", async () => {
    const { clock, manual, dht, announcer, stored } = setup({ withdrawalLifetimeMs: 5_000 });
    const { record } = await announcer.announce(SERVICE);
    const withdrawn = await announcer.withdraw(SERVICE.serviceId);

    expect(dht.calls.cancelReprovide).toBe(1);
    expect(withdrawn).toMatchObject({ serviceId: 7n, storedOn: 1, refusedBy: 0 });
    expect(stored()).toMatchObject({ multiaddrs: [], load: MAX_LOAD_BPS, seq: record.seq + 1n, expiresAt: Math.floor(clock.now() / 1000) + 5 });
    expect(manual.pending()).toEqual([]);
    expect(announcer.records()).toEqual([]);
    expect(await announcer.withdraw(SERVICE.serviceId)).toBeUndefined();

    // Serving again later continues the sequence above the withdrawal.
    const again = await announcer.announce(SERVICE);
    expect(again.record.seq).toBe(record.seq + 2n);
  });

  it("stop aborts a round in flight, withdraws every service, is idempotent and refuses new work", async () => {
    const { manual, dht, announcer } = setup();
    await announcer.announce(SERVICE);
    await announcer.announce({ ...SERVICE, serviceId: 8n });
    let release!: () => void;
    dht.gate = new Promise((resolve) => (release = resolve));
    const inFlight = announcer.announce({ ...SERVICE, version: "2.0.0" });

    const stopped = announcer.stop();
    expect(announcer.status).toBe("stopping");
    await expect(inFlight).rejects.toBeInstanceOf(DiscoveryStoppedError);
    release();
    await Promise.all([stopped, announcer.stop()]);
    expect(announcer.status).toBe("stopped");
    expect(dht.calls.cancelReprovide).toBe(2);
    expect(manual.pending()).toEqual([]);
    for (const values of dht.values.values()) expect(decodeServiceRecord(values[0]!).multiaddrs).toEqual([]);
    await expect(announcer.announce(SERVICE)).rejects.toBeInstanceOf(DiscoveryStoppedError);
  });

  it("gives up a round when the caller's signal aborts", async () => {
    const { dht, announcer } = setup();
    dht.gate = new Promise(() => undefined); // never opens
    const controller = new AbortController();
    const round = announcer.announce(SERVICE, { signal: controller.signal });
    controller.abort(new Error("caller gave up"));
    await expect(round).rejects.toThrow("caller gave up");
  });

  it("refuses lifetimes it cannot keep", () => {
    const make = (init: Partial<ServiceAnnouncerInit>) => () => createServiceAnnouncer({ chainId: TEST_CHAIN_ID, registry: TEST_REGISTRY, ...init });
    expect(make({ recordLifetimeMs: 1_000 })).toThrow(RangeError);
    expect(make({ recordLifetimeMs: 25 * 3600_000 })).toThrow(RangeError);
    expect(make({ reannounceFraction: 1 })).toThrow(RangeError);
    expect(make({ recordLifetimeMs: 10_000, withdrawalLifetimeMs: 20_000 })).toThrow(RangeError);
  });
});
