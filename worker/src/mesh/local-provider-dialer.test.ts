import type { Connection, Stream } from "@libp2p/interface";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { describe, expect, it, vi } from "vitest";
import { LocalProviderUnavailableError, localProviderDialer } from "./local-provider-dialer.ts";
import { MESH_PROTOCOL_ID } from "./session-protocol.ts";

async function peer() {
  return peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
}

function provider(accepting = true) {
  const sessions: Array<{ stream: Stream; connection: Connection }> = [];
  return { sessions, accepting, handleSession: (stream: Stream, connection: Connection) => void sessions.push({ stream, connection }) };
}

describe("localProviderDialer", () => {
  it("hands a session to itself to its own provider in memory, bytes flowing both ways, and names itself as the caller", async () => {
    const self = await peer();
    const libp2p = { dialProtocol: vi.fn() };
    const local = provider();
    const stream = await localProviderDialer(libp2p, self, local).dialProtocol(self, MESH_PROTOCOL_ID);
    expect(libp2p.dialProtocol).not.toHaveBeenCalled();
    expect(local.sessions).toHaveLength(1);
    const inbound = local.sessions[0]!;
    expect(inbound.connection.remotePeer.equals(self)).toBe(true);
    const received = new Promise<Uint8Array>((resolve) => inbound.stream.addEventListener("message", (e) => resolve(e.data.subarray()), { once: true }));
    stream.send(new TextEncoder().encode("ping"));
    expect(new TextDecoder().decode(await received)).toBe("ping");
    const back = new Promise<Uint8Array>((resolve) => stream.addEventListener("message", (e) => resolve(e.data.subarray()), { once: true }));
    inbound.stream.send(new TextEncoder().encode("pong"));
    expect(new TextDecoder().decode(await back)).toBe("pong");
  });

  it("sends every other dial (another peer, another protocol) to libp2p", async () => {
    const self = await peer();
    const other = await peer();
    const sentinel = {} as Stream;
    const libp2p = { dialProtocol: vi.fn(async () => sentinel) };
    const dialer = localProviderDialer(libp2p, self, provider());
    expect(await dialer.dialProtocol(other, MESH_PROTOCOL_ID)).toBe(sentinel);
    expect(await dialer.dialProtocol(self, "/dsmp/http/1.0.0")).toBe(sentinel);
    expect(libp2p.dialProtocol).toHaveBeenCalledTimes(2);
  });

  it("refuses the dial while its provider takes no sessions (else the pool would redial without pause)", async () => {
    const self = await peer();
    const local = provider(false);
    await expect(localProviderDialer({ dialProtocol: vi.fn() }, self, local).dialProtocol(self, MESH_PROTOCOL_ID)).rejects.toBeInstanceOf(LocalProviderUnavailableError);
    expect(local.sessions).toHaveLength(0);
  });

  it("keeps working past 32 768 sessions (@libp2p/utils numbered its mock connections as TCP ports)", async () => {
    const self = await peer();
    const local = provider();
    const dialer = localProviderDialer({ dialProtocol: vi.fn() }, self, local);
    for (let i = 0; i < 33_000; i++) {
      const stream = await dialer.dialProtocol(self, MESH_PROTOCOL_ID);
      stream.abort(new Error("done"));
      local.sessions.pop()!.stream.abort(new Error("done"));
    }
    expect(local.sessions).toHaveLength(0);
  }, 120_000);
});
