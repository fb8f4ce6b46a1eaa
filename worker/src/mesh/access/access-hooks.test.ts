/**
 * The gateway's `signAccess` and the provider's `authorize` hooks over real libp2p on 127.0.0.1: a refusal
 * reaches the HTTP client as 401/403 JSON without the backend seeing the request or another provider being
 * tried; an allowed call reaches the backend without the token header and is reported for metering.
 */
import type { Libp2p } from "@libp2p/interface";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createGateway, type Gateway, type GatewayInit } from "../gateway.ts";
import { httpFetch, learnAddresses, TestBackend, TestNodes } from "../mesh.fixture.ts";
import { createHttpProvider, type HttpProvider, type ProviderAuthorize, type ServedCall } from "../provider-handler.ts";
import { ACCESS_HEADER } from "./request-token.ts";

const SERVICE = 7n;
const nodes = new TestNodes();
const backend = new TestBackend();
let gatewayNode: Libp2p;
let providerNodes: Libp2p[];
let providers: HttpProvider[];
let gateway: Gateway | undefined;
let backendUrl: URL;
let seen: Array<{ header: string | undefined; peer: string }>;
let served: ServedCall[];
let unserved: number;

/** Allows a request whose token is "good", answers 403 to "forbidden" and 401 to anything else. */
const authorize: ProviderAuthorize = async ({ head, peer }) => {
  const header = head.headers.find(([name]) => name === ACCESS_HEADER)?.[1];
  seen.push({ header, peer });
  if (header === "good") return { allow: true, onServed: (call) => served.push(call), onUnserved: () => void unserved++ };
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
  providerNodes = await Promise.all([nodes.start(), nodes.start()]);
  for (const node of providerNodes) {
    await learnAddresses(gatewayNode, node);
    const provider = createHttpProvider({ backends: new Map([[SERVICE, backendUrl]]), authorize })({ libp2p: node });
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
    expect(seen).toEqual([{ header: undefined, peer: gatewayNode.peerId.toString() }]);
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
