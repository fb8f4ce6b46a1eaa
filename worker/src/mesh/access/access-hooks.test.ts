/**
 * The gateway's `signAccess` and the provider's `authorize` hooks over real libp2p on 127.0.0.1: a refusal
 * reaches the HTTP client as 401/403 JSON without the backend seeing the request or another provider being
 * tried; an allowed call reaches the backend without the token header and is reported for metering.
 */
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Libp2p } from "@libp2p/interface";
import { privateKeyToAccount } from "viem/accounts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createGateway, type Gateway, type GatewayInit } from "../gateway.ts";
import { httpFetch, learnAddresses, TestBackend, TestNodes } from "../mesh.fixture.ts";
import { createHttpProvider, type HttpProvider, type ProviderAuthorize, type ServedCall } from "../provider-handler.ts";
import { nodeAddressOfPeerId } from "../../discovery/provider-eligibility.ts";
import { ACCESS_HEADER, encodeAccessToken, signAccessToken } from "./request-token.ts";

const SERVICE = 7n;
const nodes = new TestNodes();
const backend = new TestBackend();
let gatewayNode: Libp2p;
let providerNodes: Libp2p[];
let providers: HttpProvider[];
let gateway: Gateway | undefined;
let backendUrl: URL;
/** Every authorize call: the token header, the calling peer and the provider (`self`) that decided. */
let seen: Array<{ header: string | undefined; peer: string; self: string }>;
let served: ServedCall[];
let unserved: number;

/**
 * The authorize hook of the provider `self`. Allows a request whose token is "good", `for:<self>` or a
 * base64url JSON token (a real one the client signed), answers 503 busy to `busy-for:<self>`, 403 to
 * "forbidden" and 401 to anything else.
 */
const authorizeFor = (self: string): ProviderAuthorize => async ({ head, peer }) => {
  const header = head.headers.find(([name]) => name === ACCESS_HEADER)?.[1];
  seen.push({ header, peer, self });
  if (header === "good" || header === `for:${self}` || header?.startsWith("eyJ")) {
    return { allow: true, onServed: (call) => served.push(call), onUnserved: () => void unserved++ };
  }
  if (header === `busy-for:${self}`) return { allow: false, code: "busy", message: "replay-cache-full: try again shortly" };
  if (header === "forbidden") return { allow: false, code: "forbidden", message: "not-subscribed: 0xabc has no active subscription to service 7" };
  return { allow: false, code: "unauthorized", message: "token-missing: service 7 is paid" };
};

async function startGateway(init: GatewayInit): Promise<string> {
  gateway = createGateway({ host: "127.0.0.1", port: 0, ...init })({
    libp2p: gatewayNode,
    resolveProviders: async () => providerNodes.map((n) => n.peerId),
  });
  await gateway.start();
  return `http://127.0.0.1:${gateway.address().port}`;
}

beforeEach(async () => {
  seen = [];
  served = [];
  unserved = 0;
  providers = [];
  backendUrl = await backend.start();
  gatewayNode = await nodes.start();
  // secp256k1 identities, as Xnodes have: their PeerIds carry node addresses.
  providerNodes = await Promise.all([0, 1].map(async () => nodes.start({ privateKey: await generateKeyPair("secp256k1") })));
  for (const node of providerNodes) {
    await learnAddresses(gatewayNode, node);
    const provider = createHttpProvider({ backends: new Map([[SERVICE, backendUrl]]), authorize: authorizeFor(node.peerId.toString()) })({ libp2p: node });
    await provider.start();
    providers.push(provider);
  }
});

afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
  await Promise.all(providers.map((p) => p.stop()));
  await nodes.stopAll();
  await backend.stop();
  backend.reset();
});

describe("access hooks", () => {
  it("signs a token for the request, strips it before the backend and reports the served call", async () => {
    const signed: bigint[] = [];
    const url = await startGateway({ signAccess: async (serviceId) => (signed.push(serviceId), "good") });
    const res = await httpFetch(`${url}/svc/${SERVICE}/echo`, { method: "POST", body: Buffer.from("hello") });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe("hello");
    expect(signed).toEqual([SERVICE]);
    expect(seen.map((s) => s.header)).toEqual(["good"]);
    expect(backend.requests).toHaveLength(1);
    expect(backend.requests[0]!.headers[ACCESS_HEADER]).toBeUndefined();
    expect(served).toHaveLength(1);
    expect(served[0]).toMatchObject({ status: 200, requestBytes: 5, responseBytes: 5 });
    expect(unserved).toBe(0);
  });

  it("signs a token per attempt for the provider it goes to: a retry on the other provider carries a new one", async () => {
    const signedFor: string[] = [];
    const url = await startGateway({
      signAccess: async (_serviceId, peer) => {
        signedFor.push(peer.toString());
        // The first attempt's provider answers busy (retryable: the backend never saw it).
        return signedFor.length === 1 ? `busy-for:${peer.toString()}` : `for:${peer.toString()}`;
      },
    });
    const res = await httpFetch(`${url}/svc/${SERVICE}/echo`, { method: "POST", body: Buffer.from("hi") });
    expect(res.status).toBe(200);
    expect(res.headers["x-dsmp-attempts"]).toBe("2");
    expect(signedFor).toHaveLength(2);
    expect(new Set(signedFor).size).toBe(2);
    expect(seen.map((s) => [s.self, s.header])).toEqual([
      [signedFor[0], `busy-for:${signedFor[0]}`],
      [signedFor[1], `for:${signedFor[1]}`],
    ]);
    expect(res.headers["x-dsmp-provider"]).toBe(signedFor[1]);
    expect(backend.requests).toHaveLength(1);
  });

  it("a signing failure on a retry answers the first provider's failure, not the signing error", async () => {
    let calls = 0;
    const url = await startGateway({
      signAccess: async (_serviceId, peer) => {
        calls++;
        if (calls === 1) return `busy-for:${peer.toString()}`;
        throw new Error("the key store went away");
      },
    });
    const res = await httpFetch(`${url}/svc/${SERVICE}/x`);
    expect(calls).toBe(2);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body.toString())).toMatchObject({ error: "busy", reason: expect.stringContaining("replay-cache-full") });
    expect(res.headers["x-dsmp-attempts"]).toBe("1");
    expect(backend.requests).toHaveLength(0);
  });

  it("routes a client's token that names a provider to that provider alone; one naming an unknown node gets 503", async () => {
    const consumer = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
    const token = async (provider: `0x${string}`) =>
      encodeAccessToken(await signAccessToken({ account: consumer, domain: { chainId: 31337, registry: "0x5fbdb2315678afecb367f032d93f642f64180aa3" }, serviceId: SERVICE, provider, expiry: Math.floor(Date.now() / 1000) + 60 }));
    const signed: unknown[] = [];
    const url = await startGateway({ signAccess: async (...args) => (signed.push(args), "forbidden") });
    const target = providerNodes[1]!;
    const address = nodeAddressOfPeerId(target.peerId.toMultihash().bytes)!;
    for (let i = 0; i < 6; i++) {
      const res = await httpFetch(`${url}/svc/${SERVICE}/x`, { headers: { [ACCESS_HEADER]: await token(address) } });
      expect(res.status).toBe(200);
      expect(res.headers["x-dsmp-provider"]).toBe(target.peerId.toString());
    }
    expect(seen.map((s) => s.self)).toEqual(Array(6).fill(target.peerId.toString()));
    expect(signed).toEqual([]);
    const nobody = await httpFetch(`${url}/svc/${SERVICE}/x`, { headers: { [ACCESS_HEADER]: await token("0x00000000000000000000000000000000000000b2") } });
    expect(nobody.status).toBe(503);
    expect(JSON.parse(nobody.body.toString())).toMatchObject({ error: "no-providers", reason: expect.stringMatching(/names provider 0x0+b2, which is not among the providers found/) });
    expect(seen).toHaveLength(6);
  });

  it("lists the providers it finds with their node addresses at GET /providers/<id>; refuses other methods and bad ids", async () => {
    const url = await startGateway({});
    const res = await httpFetch(`${url}/providers/${SERVICE}`);
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body.toString()) as { serviceId: string; providers: Array<{ peerId: string; node: string | null; load: number | null }> };
    expect(body.serviceId).toBe(String(SERVICE));
    const expected = providerNodes.map((n) => ({ peerId: n.peerId.toString(), node: nodeAddressOfPeerId(n.peerId.toMultihash().bytes)!.toLowerCase(), load: null }));
    expect(body.providers).toEqual(expected);
    expect((await httpFetch(`${url}/providers/${SERVICE}`, { method: "POST", body: Buffer.from("x") })).status).toBe(400);
    const bad = await httpFetch(`${url}/providers/07`);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString())).toMatchObject({ error: "bad-request" });
    expect(seen).toEqual([]);
  });

  it("forwards a token the client sent instead of signing one", async () => {
    const signed: bigint[] = [];
    const url = await startGateway({ signAccess: async (serviceId) => (signed.push(serviceId), "forbidden") });
    const res = await httpFetch(`${url}/svc/${SERVICE}/x`, { headers: { [ACCESS_HEADER]: "good" } });
    expect(res.status).toBe(200);
    expect(signed).toEqual([]);
    expect(seen.map((s) => s.header)).toEqual(["good"]);
  });

  it("relays 403 with a JSON reason, contacts no backend and tries no other provider", async () => {
    const url = await startGateway({ signAccess: async () => "forbidden" });
    const res = await httpFetch(`${url}/svc/${SERVICE}/x`);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body.toString())).toEqual({
      error: "access-denied-upstream",
      reason: "not-subscribed: 0xabc has no active subscription to service 7",
      serviceId: "7",
    });
    expect(res.headers["x-dsmp-attempts"]).toBe("1");
    expect(seen).toHaveLength(1);
    expect(backend.requests).toHaveLength(0);
    expect(served).toHaveLength(0);
  });

  it("relays 401 when no token is sent", async () => {
    const url = await startGateway({ signAccess: async () => undefined });
    const res = await httpFetch(`${url}/svc/${SERVICE}/x`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body.toString())).toMatchObject({ error: "access-denied-upstream", reason: expect.stringMatching(/^token-missing/) });
    expect(seen).toMatchObject([{ header: undefined, peer: gatewayNode.peerId.toString() }]);
    expect(backend.requests).toHaveLength(0);
  });

  it("meters nothing when the backend fails an allowed call", async () => {
    backend.handle((_req, res) => res.destroy());
    const url = await startGateway({ signAccess: async () => "good" });
    const res = await httpFetch(`${url}/svc/${SERVICE}/x`, { method: "POST", body: Buffer.from("x") });
    expect(res.status).toBe(502);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(served).toEqual([]);
    // Every allowed attempt that ended without a response was released (the escrow reservation of node.ts).
    expect(unserved).toBe(seen.length);
  });

  it("answers 500 JSON when signing fails", async () => {
    const url = await startGateway({ signAccess: async () => Promise.reject(new Error("no key")) });
    const res = await httpFetch(`${url}/svc/${SERVICE}/x`);
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body.toString())).toMatchObject({ error: "internal", reason: expect.stringContaining("no key") });
    expect(seen).toHaveLength(0);
  });
});
