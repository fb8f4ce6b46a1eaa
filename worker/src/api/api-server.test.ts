import { afterEach, describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { ApiBadRequestError } from "../errors.ts";
import { createSilentLogger } from "../log.ts";
import { startApiServer, type ApiServer, type HealthCheck } from "./api-server.ts";
import { createMetrics } from "./metrics.ts";

const servers: ApiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(checks: HealthCheck[] = []) {
  const metrics = createMetrics(new Registry());
  const server = await startApiServer({
    host: "127.0.0.1",
    port: 0,
    registry: metrics.registry,
    checks,
    logger: createSilentLogger(),
    routes: [
      { method: "GET", pattern: "/v1/services/:id", handler: async (req) => ({ id: BigInt(req.params.id!), q: req.query.get("q") }) },
      {
        method: "POST",
        pattern: "/v1/echo",
        handler: async (req) => {
          if (req.body === undefined) throw new ApiBadRequestError("body required");
          return req.body;
        },
      },
      { method: "GET", pattern: "/v1/boom", handler: async () => { throw new Error("secret internals"); } },
    ],
  });
  servers.push(server);
  return { server, metrics };
}

describe("control API server", () => {
  it("answers /healthz with every check, 503 when one fails", async () => {
    const { server } = await start([
      { name: "chain", check: async () => ({ ok: true }) },
      { name: "p2p", check: async () => ({ ok: false, detail: "no peers" }) },
      { name: "redis", check: async () => { throw new Error("ECONNREFUSED"); } },
    ]);
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: "degraded",
      checks: [
        { name: "chain", ok: true },
        { name: "p2p", ok: false, detail: "no peers" },
        { name: "redis", ok: false, detail: "ECONNREFUSED" },
      ],
    });
    const { server: healthy } = await start([{ name: "chain", check: async () => ({ ok: true }) }]);
    expect((await fetch(`${healthy.url}/healthz`)).status).toBe(200);
  });

  it("serves Prometheus text with dsmp_ metrics", async () => {
    const { server, metrics } = await start();
    metrics.gatewayRequests.inc({ service: "1", status_class: "2xx" });
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toContain('dsmp_gateway_requests_total{service="1",status_class="2xx"} 1');
    expect(text).toContain("dsmp_dht_lookup_seconds_bucket");
    expect(text).toContain("dsmp_process_");
  });

  it("routes JSON with parameters, bigints as strings, typed errors as 4xx and others as an opaque 500", async () => {
    const { server } = await start();
    expect(await (await fetch(`${server.url}/v1/services/12?q=x`)).json()).toEqual({ id: "12", q: "x" });
    const echo = await fetch(`${server.url}/v1/echo`, { method: "POST", body: JSON.stringify({ a: 1 }) });
    expect(await echo.json()).toEqual({ a: 1 });

    const noBody = await fetch(`${server.url}/v1/echo`, { method: "POST" });
    expect(noBody.status).toBe(400);
    expect(await noBody.json()).toMatchObject({ error: "API_BAD_REQUEST", message: "body required" });

    const badJson = await fetch(`${server.url}/v1/echo`, { method: "POST", body: "{nope" });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ error: "API_BAD_REQUEST", message: "request body is not JSON" });

    const tooBig = await fetch(`${server.url}/v1/echo`, { method: "POST", body: "x".repeat((1 << 20) + 1) });
    expect(tooBig.status).toBe(400);

    const badSegment = await fetch(`${server.url}/v1/services/%E0%A4%A`);
    expect(badSegment.status).toBe(400);
    expect(await badSegment.json()).toMatchObject({ error: "API_BAD_REQUEST" });

    const missing = await fetch(`${server.url}/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: "API_NOT_FOUND" });

    const boom = await fetch(`${server.url}/v1/boom`);
    expect(boom.status).toBe(500);
    expect(await boom.text()).not.toContain("secret internals");
  });

  it("closes idempotently", async () => {
    const { server } = await start();
    await Promise.all([server.close(), server.close()]);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});
