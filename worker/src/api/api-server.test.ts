import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { ApiBadRequestError } from "../errors.ts";
import { createSilentLogger } from "../log.ts";
import { hostNameOf, isAllowedHostHeader, startApiServer, type ApiServer, type HealthCheck } from "./api-server.ts";
import { createMetrics } from "./metrics.ts";

const servers: ApiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(checks: HealthCheck[] = [], allowedHosts?: string[]) {
  const metrics = createMetrics(new Registry());
  const server = await startApiServer({
    host: "127.0.0.1",
    ...(allowedHosts === undefined ? {} : { allowedHosts }),
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
    expect(text).toContain("dsmp_process_cpu_seconds_total");
    expect(text).toContain("dsmp_nodejs_eventloop_lag_seconds");
    expect(text).not.toContain("dsmp_process_process_");
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

/** A GET with a chosen (or no) Host header: fetch always sends the URL's own. */
function getWithHost(url: string, host: string | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", setHost: false, headers: host === undefined ? {} : { host }, signal: AbortSignal.timeout(5_000) }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("Host header check (DNS rebinding)", () => {
  it.each([
    { header: "localhost", bind: "127.0.0.1", allowed: [], ok: true },
    { header: "LOCALHOST:4662", bind: "127.0.0.1", allowed: [], ok: true },
    { header: "127.0.0.1:4662", bind: "127.0.0.1", allowed: [], ok: true },
    { header: "[::1]:4662", bind: "127.0.0.1", allowed: [], ok: true },
    { header: "localhost.:4662", bind: "127.0.0.1", allowed: [], ok: true },
    { header: "10.0.0.5:4662", bind: "10.0.0.5", allowed: [], ok: true },
    { header: "[fd00::1]:4662", bind: "fd00::1", allowed: [], ok: true },
    { header: "xnode.lan:4662", bind: "0.0.0.0", allowed: ["xnode.lan"], ok: true },
    { header: "Xnode.LAN", bind: "0.0.0.0", allowed: ["xnode.lan"], ok: true },
    { header: "evil.example", bind: "127.0.0.1", allowed: [], ok: false },
    { header: "evil.example:4662", bind: "127.0.0.1", allowed: ["xnode.lan"], ok: false },
    { header: "localhost.evil.example", bind: "127.0.0.1", allowed: [], ok: false },
    { header: "127.0.0.1.nip.io", bind: "127.0.0.1", allowed: [], ok: false },
    { header: "10.0.0.6", bind: "0.0.0.0", allowed: [], ok: false },
    { header: "localhost:4662@evil.example", bind: "127.0.0.1", allowed: [], ok: false },
    { header: "", bind: "127.0.0.1", allowed: [], ok: false },
    { header: undefined, bind: "127.0.0.1", allowed: [], ok: false },
  ])("$header (bind $bind, allowed $allowed) → $ok", ({ header, bind, allowed, ok }) => {
    expect(isAllowedHostHeader(header, bind, allowed)).toBe(ok);
  });

  it("parses host names out of Host values", () => {
    expect(hostNameOf("Example.COM.:80")).toBe("example.com");
    expect(hostNameOf("[::1]")).toBe("[::1]");
    expect(hostNameOf("a b")).toBeUndefined();
    expect(hostNameOf("x:99999999")).toBeUndefined();
  });

  it("answers loopback and allowed names, refuses others with 421 and a JSON reason on every path", async () => {
    const { server } = await start([], ["xnode.lan"]);
    const port = new URL(server.url).port;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `xnode.lan:${port}`]) {
      expect((await getWithHost(`${server.url}/healthz`, host)).status).toBe(200);
    }
    for (const path of ["/healthz", "/metrics", "/v1/services/1", "/v1/nothing"]) {
      const refused = await getWithHost(`${server.url}${path}`, `rebound.example:${port}`);
      expect(refused.status).toBe(421);
      expect(JSON.parse(refused.body)).toMatchObject({ error: "API_HOST_NOT_ALLOWED" });
      expect(refused.body).toContain("rebound.example");
    }
    expect((await getWithHost(`${server.url}/v1/services/1`, undefined)).status).toBeGreaterThanOrEqual(400);
    // the CLI's fetch sends the URL's own host, which is the bind address
    expect((await fetch(`${server.url}/v1/services/1`)).status).toBe(200);
  });
});
