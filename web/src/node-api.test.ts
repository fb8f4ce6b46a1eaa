import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { getServiceStats, normalizeStats } from "./node-api.ts";

/** The shape docs/mesh.md documents for GET /v1/services/:id/stats. */
const NODE_ANSWER = {
  serviceId: "1",
  windowMs: 60000,
  total: { requests: 110, successes: 100, successRate: 0.909, rps: 21.4, p50Ms: 3.1, p95Ms: 9.8, p99Ms: 14.2, retries: 2 },
  providers: [{ provider: "12D3KooWabc", requests: 61, successes: 60, successRate: 0.98, rps: 1, p50Ms: 2, p95Ms: 3, p99Ms: 4, retries: 0, breaker: "closed", breakerValue: 0, ewmaMs: 2.7, outstanding: 0 }],
};

describe("normalizeStats", () => {
  it("reads the node's total + providers shape", () => {
    expect(normalizeStats(NODE_ANSWER)).toEqual({
      requests: 110, successRate: 0.909, rps: 21.4, p50Ms: 3.1, p95Ms: 9.8, p99Ms: 14.2,
      providers: [{ provider: "12D3KooWabc", requests: 61, successRate: 0.98, rps: 1, p50Ms: 2, p95Ms: 3, p99Ms: 4, breaker: "closed", ewmaMs: 2.7 }],
    });
  });
  it("still reads a flat answer and ignores what is not a number", () => {
    expect(normalizeStats({ p50: "4", latency: { p99: 9 }, rps: "x", uptimeRatio: 0.5 })).toEqual({ p50Ms: 4, p99Ms: 9, uptime: 0.5 });
  });
});

describe("getServiceStats against a real server", () => {
  let server: Server | undefined;
  afterEach(() => server?.close());
  it("returns the stats, and null on 404 (a node without the route)", async () => {
    server = createServer((req, res) => {
      const found = req.url === "/v1/services/1/stats";
      res.writeHead(found ? 200 : 404, { "content-type": "application/json" });
      res.end(JSON.stringify(found ? NODE_ANSWER : { error: "not-found", message: "no route" }));
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await getServiceStats(base, 1n))?.p99Ms).toBe(14.2);
    expect(await getServiceStats(base, 2n)).toBeNull();
  });
});
