import type { PeerId, Stream } from "@libp2p/interface";
import { fromString as bytes } from "uint8arrays/from-string";
import { toString as text } from "uint8arrays/to-string";
import { afterEach, describe, expect, it } from "vitest";
import type { DsmpLibp2p } from "./libp2p-node.ts";
import { addressWith, nextEvent, TestNodes, untilCondition } from "./p2p-test-harness.ts";

const ECHO_PROTOCOL = "/dsmp/test-echo/1.0.0";

const nodes = new TestNodes();
afterEach(() => nodes.stopAll());

/** Echoes every chunk back, then closes its writable end when the remote closes its own. */
async function echo(stream: Stream): Promise<void> {
  for await (const chunk of stream) stream.send(chunk);
  await stream.close();
}

async function readAll(stream: Stream): Promise<string> {
  let received = "";
  for await (const chunk of stream) received += text(chunk.subarray());
  return received;
}

/** Pings `listener` through its relayed address and exchanges bytes on a stream; returns the relayed connection. */
async function reachThroughRelay(dialler: DsmpLibp2p, listener: DsmpLibp2p, message = "hello through the relay") {
  const target = addressWith(listener, "/p2p-circuit");
  await dialler.libp2p.services.ping.ping(target, { signal: AbortSignal.timeout(10_000) });

  const stream = await dialler.libp2p.dialProtocol(target, ECHO_PROTOCOL, {
    runOnLimitedConnection: true,
    signal: AbortSignal.timeout(10_000),
  });
  stream.send(bytes(message));
  await stream.close();
  expect(await readAll(stream)).toBe(message);

  const connections = dialler.libp2p.getConnections(listener.peerId);
  expect(connections).toHaveLength(1);
  return connections[0]!;
}

describe("circuit relay v2", () => {
  it("reaches a node that listens only through a relay (pings it and opens a stream)", async () => {
    const relay = await nodes.start({ relay: { enabled: true } });
    const relayAddr = addressWith(relay, "/tcp/").toString();
    const listener = await nodes.start({ listen: [`${relayAddr}/p2p-circuit`] });
    await listener.libp2p.handle(ECHO_PROTOCOL, echo, { runOnLimitedConnection: true });

    // no direct address at all: every address goes through the relay
    const listenerAddrs = listener.libp2p.getMultiaddrs().map(String);
    expect(listenerAddrs.length).toBeGreaterThan(0);
    expect(listenerAddrs.every((address) => address.startsWith(`${relayAddr}/p2p-circuit/p2p/`))).toBe(true);
    expect(relay.libp2p.services.relay?.reservations.has(listener.peerId)).toBe(true);

    const dialler = await nodes.start({ listen: [] });
    const connection = await reachThroughRelay(dialler, listener);

    expect(connection.remoteAddr.toString()).toContain("/p2p-circuit");
    // the relay's default caps apply (relayed connections are for signalling, not bulk data);
    // `limits` reports what remains, so a little is already spent on ping and the stream
    expect(connection.limits?.bytes).toBeGreaterThan(0n);
    expect(connection.limits?.bytes).toBeLessThanOrEqual(1n << 17n);
    // the relay enforces the 2 min duration cap itself; the client's `seconds` view is inflated
    // 1000× because js-libp2p relays send the duration in ms where the spec says seconds (docs/p2p.md)
    expect(connection.limits?.seconds).toBeGreaterThan(0);
  });

  it("cuts a relayed connection that exceeds the relay's data cap", async () => {
    const relay = await nodes.start({ relay: { enabled: true, connectionDataLimitBytes: 16_384n } });
    const listener = await nodes.start({ listen: [`${addressWith(relay, "/tcp/").toString()}/p2p-circuit`] });
    await listener.libp2p.handle(ECHO_PROTOCOL, echo, { runOnLimitedConnection: true });
    const dialler = await nodes.start({ listen: [] });

    const stream = await dialler.libp2p.dialProtocol(addressWith(listener, "/p2p-circuit"), ECHO_PROTOCOL, {
      runOnLimitedConnection: true,
      signal: AbortSignal.timeout(10_000),
    });
    const disconnected = nextEvent<PeerId>(dialler.libp2p, "peer:disconnect", (peer) => peer.equals(listener.peerId));
    const payload = new Uint8Array(64 * 1024).fill(7);
    const exchange = (async () => {
      stream.send(payload);
      await stream.close();
      return readAll(stream);
    })();

    // the relay closes the circuit once 16 KiB have passed: the echo never completes
    await disconnected;
    const echoed = await exchange.catch(() => "");
    expect(echoed.length).toBeLessThan(payload.length);
  });

  it("with reserve 'always', finds a relay among its peers and reserves on it", async () => {
    const relay = await nodes.start({ relay: { enabled: true, maxReservations: 2 } });
    const listener = await nodes.start({
      listen: [],
      bootstrap: [addressWith(relay, "/tcp/").toString()],
      relayClient: { reserve: "always" },
    });
    await listener.libp2p.handle(ECHO_PROTOCOL, echo, { runOnLimitedConnection: true });
    await untilCondition(
      "a relayed address on the listener",
      () => listener.libp2p.getMultiaddrs().some((address) => address.toString().includes("/p2p-circuit")),
      listener.libp2p,
      ["self:peer:update"],
    );

    const dialler = await nodes.start({ listen: [] });
    const connection = await reachThroughRelay(dialler, listener);
    expect(connection.remoteAddr.toString()).toContain(`/p2p/${relay.peerId.toString()}/p2p-circuit`);
  });

  it("lets a relay run without connection caps when its operator opts out", async () => {
    const relay = await nodes.start({ relay: { enabled: true, applyConnectionLimits: false } });
    const listener = await nodes.start({ listen: [`${addressWith(relay, "/tcp/").toString()}/p2p-circuit`] });
    await listener.libp2p.handle(ECHO_PROTOCOL, echo, { runOnLimitedConnection: true });
    const dialler = await nodes.start({ listen: [] });

    // 256 KiB: twice the default cap
    const connection = await reachThroughRelay(dialler, listener, "x".repeat(256 * 1024));
    expect(connection.limits).toBeUndefined();
  });
});
