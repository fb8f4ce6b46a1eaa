/**
 * Routing and resilience end to end (docs/mesh.md): a gateway and two providers as real libp2p nodes on
 * 127.0.0.1, each provider in front of its own HTTP backend, driven by closed-loop HTTP load.
 *  (a) a provider stopped abruptly under steady load: every idempotent call still succeeds, by retry;
 *  (b) a provider 30 ms slower than the other gets a small share of the traffic;
 *  (c) all providers failing: breakers open → 503 `all-breakers-open`; after recovery a half-open probe
 *      closes them and traffic flows again;
 *  (d) `dsmp service stat` and `/metrics` against the gateway after that traffic.
 * Waits are bounded and event-driven; nothing sleeps for a fixed time.
 */
import type { Libp2p, PeerId } from "@libp2p/interface";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMetrics, type DsmpMetrics } from "../worker/src/api/metrics.ts";
import { startApiServer, type ApiServer } from "../worker/src/api/api-server.ts";
import { createMemoryIo } from "../worker/src/cli/cli-io.ts";
import { runCli } from "../worker/src/cli/main.ts";
import { createSilentLogger } from "../worker/src/log.ts";
import { createGateway, type Gateway, type GatewayInit } from "../worker/src/mesh/gateway.ts";
import { exposeBreakerStates, meshMetricsHooks } from "../worker/src/mesh/gateway-metrics.ts";
import { httpFetch, learnAddresses, TEST_WAIT_MS, TestBackend, TestNodes, type TestResponse } from "../worker/src/mesh/mesh.fixture.ts";
import { createHttpProvider, type HttpProvider } from "../worker/src/mesh/provider-handler.ts";
import { emptyServiceStats, type ServiceStats } from "../worker/src/mesh/routing/routing-table.ts";

const SERVICE = 1n;
const nodes = new TestNodes();
let backends: TestBackend[];
let providerNodes: Libp2p[];
let providers: HttpProvider[];
let gatewayNode: Libp2p;
let gateway: Gateway | undefined;
let metrics: DsmpMetrics;
let base: string;

async function startGateway(init: GatewayInit = {}): Promise<void> {
  metrics = createMetrics(undefined, { defaultMetrics: false });
  const peers: PeerId[] = providerNodes.map((node) => node.peerId);
  gateway = createGateway({ host: "127.0.0.1", port: 0, ...init })({
    libp2p: gatewayNode,
    resolveProviders: async () => peers.map((peerId) => ({ peerId, load: 0 })),
    metrics: { requestFinished: () => {}, ...meshMetricsHooks(metrics) },
    logger: createSilentLogger(),
  });
  exposeBreakerStates(metrics, gateway);
  await gateway.start();
  base = `http://127.0.0.1:${gateway.address().port}/svc/${SERVICE}`;
}

/**
 * `workers` callers each sending GETs back to back until `until()` says stop (checked before each call), or
 * `maxRequests` in all; every response (or transport error) is kept.
 */
async function load(options: { workers: number; until: () => boolean; maxRequests?: number; path?: string; boundMs?: number }): Promise<Array<TestResponse | Error>> {
  const results: Array<TestResponse | Error> = [];
  const deadline = Date.now() + (options.boundMs ?? TEST_WAIT_MS);
  const max = options.maxRequests ?? 5_000;
  let started = 0;
  const worker = async (): Promise<void> => {
    while (!options.until() && started < max && Date.now() < deadline) {
      started += 1;
      results.push(await keepAliveFetch(`${base}${options.path ?? "/x"}`).catch((error: unknown) => error as Error));
    }
  };
  await Promise.all(Array.from({ length: options.workers }, worker));
  return results;
}

const providerOf = (response: TestResponse) => response.headers["x-dsmp-provider"];

/**
 * A GET over fetch's keep-alive pool: the load generator shares this process's event loop with the gateway,
 * the providers and the backends, and a new TCP connection per call would add CPU work (and noise) to every
 * latency the balancer measures.
 */
async function keepAliveFetch(url: string): Promise<TestResponse> {
  const response = await fetch(url, { signal: AbortSignal.timeout(TEST_WAIT_MS) });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: Object.fromEntries(response.headers), body };
}

beforeEach(async () => {
  backends = [new TestBackend(), new TestBackend()];
  const urls = await Promise.all(backends.map((backend) => backend.start()));
  [gatewayNode, ...providerNodes] = await Promise.all([nodes.start(), nodes.start(), nodes.start()]);
  await Promise.all(providerNodes.map((node) => learnAddresses(gatewayNode, node)));
  providers = await Promise.all(
    providerNodes.map(async (node, index) => {
      const provider = createHttpProvider({ backends: new Map([[SERVICE, urls[index]!]]) })({ libp2p: node });
      await provider.start();
      return provider;
    }),
  );
});

afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
  await Promise.allSettled(providers.map((provider) => provider.stop()));
  await nodes.stopAll();
  await Promise.all(backends.map((backend) => backend.stop()));
});

describe("mesh routing end to end", () => {
  it("(a) keeps every idempotent call succeeding when one of two providers is stopped under load", async () => {
    await startGateway();
    const [doomed, survivor] = providerNodes as [Libp2p, Libp2p];
    let stopped = false;
    let killed: Promise<void> | undefined;
    let afterKill = 0;
    const results = await load({
      workers: 4,
      until: () => {
        const done = backends[0]!.requests.length + backends[1]!.requests.length;
        // Kill once both providers have served, then run on for 150 more calls.
        if (!stopped && backends[0]!.requests.length >= 20 && backends[1]!.requests.length >= 20) {
          stopped = true;
          killed = Promise.resolve(doomed.stop());
        }
        if (stopped) afterKill += 1;
        return done > 0 && afterKill > 150;
      },
    });
    await killed;
    expect(stopped).toBe(true);
    const failures = results.filter((r) => r instanceof Error || r.status !== 200);
    expect(failures.map((r) => (r instanceof Error ? r.message : `${r.status} ${r.body.toString()}`))).toEqual([]);
    const responses = results as TestResponse[];
    // Retries happened (the first attempt hit the stopped provider), and the survivor took over.
    expect(responses.some((r) => Number(r.headers["x-dsmp-attempts"]) >= 2)).toBe(true);
    expect(responses.slice(-50).every((r) => providerOf(r) === survivor.peerId.toString())).toBe(true);
    expect(gateway!.stats(String(SERVICE))!.total.retries).toBeGreaterThan(0);
  });

  it("(b) sends a provider 30 ms slower than the other well under half of the traffic", async () => {
    backends[0]!.handle((req, res) => {
      const timer = setTimeout(() => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("slow");
      }, 30);
      req.once("close", () => clearTimeout(timer));
    });
    await startGateway();
    // Warm-up (not counted): the first calls to each provider and backend open connections and run cold code.
    const warmUp = await load({ workers: 1, until: () => false, maxRequests: 30 });
    expect(warmUp.every((r) => !(r instanceof Error) && r.status === 200)).toBe(true);
    // One caller: with several, every request in this one process queues behind the others' CPU work on the
    // shared event loop, which adds the same tens of ms to both providers and hides the 30 ms difference.
    const results = await load({ workers: 1, until: () => false, maxRequests: 300, boundMs: 90_000 });
    const responses = results.filter((r): r is TestResponse => !(r instanceof Error) && r.status === 200);
    expect(responses).toHaveLength(300);
    const slow = responses.filter((r) => providerOf(r) === providerNodes[0]!.peerId.toString()).length;
    const share = slow / responses.length;
    console.log(`slow provider share: ${(share * 100).toFixed(1)} % of ${responses.length} calls`);
    // No lower bound: peak EWMA has no probing of its own, so while the fast provider is idle when a request
    // arrives (one caller, ~1 ms calls over pooled sessions) the slow one may get no traffic at all.
    // Measured on a VM at load 13–16 on 2 cores, over 16 runs: 3–33 %, median ~13 %. Each stall of this
    // process lands on the request in flight, nearly always one to the fast provider, and peak EWMA then
    // steers to the slow one until the peak decays; hence the spread. An even split would be 50 %; the bound
    // leaves room for that spread (docs/mesh.md).
    expect(share).toBeLessThan(0.4);
  });

  it("(c) answers 503 all-breakers-open once every provider fails, and recovers through a half-open probe", async () => {
    for (const backend of backends) backend.handle((_req, res) => (res.writeHead(500), res.end("down")));
    await startGateway({ routing: { breaker: { failureThreshold: 3, openMs: 200, maxOpenMs: 400 } } });
    let refused: TestResponse | undefined;
    for (let call = 0; call < 20 && refused === undefined; call++) {
      const response = await httpFetch(`${base}/x`);
      if (response.status === 503) refused = response;
      else expect(response.status).toBe(500); // the backends' own answer, relayed (not retried: headers were sent)
    }
    expect(refused, "a 503 within 20 calls").toBeDefined();
    expect(refused!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(refused!.body.toString())).toEqual({ error: "all-breakers-open", reason: expect.stringContaining("all 2 providers"), serviceId: "1" });
    expect(refused!.headers["x-dsmp-attempts"]).toBe("0");
    expect(gateway!.stats("1")!.providers.map((p) => p.breaker)).toEqual(["open", "open"]);

    for (const backend of backends) backend.reset();
    // Poll until a probe gets through (bounded): the breakers turn half-open after 200 ms.
    let recovered: TestResponse | undefined;
    const deadline = Date.now() + TEST_WAIT_MS;
    while (recovered === undefined && Date.now() < deadline) {
      const response = await httpFetch(`${base}/x`);
      if (response.status === 200) recovered = response;
      else {
        expect(JSON.parse(response.body.toString())).toMatchObject({ error: "all-breakers-open" });
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
    expect(recovered?.headers["x-dsmp-attempts"]).toBe("1");
    const after = await load({ workers: 2, until: () => false, maxRequests: 40 });
    expect(after.every((r) => !(r instanceof Error) && r.status === 200)).toBe(true);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/dsmp_mesh_denied_total\{service="1",reason="all-breakers-open"\} [1-9]/);
  });

  describe("(d) golden signals", () => {
    let api: ApiServer | undefined;
    afterEach(async () => {
      await api?.close();
      api = undefined;
    });

    it("`dsmp service stat` and /metrics report the traffic", async () => {
      await startGateway();
      api = await startApiServer({
        host: "127.0.0.1",
        port: 0,
        registry: metrics.registry,
        logger: createSilentLogger(),
        routes: [{ method: "GET", pattern: "/v1/services/:id/stats", handler: async (req) => gateway!.stats(req.params.id!) ?? emptyServiceStats(req.params.id!) }],
      });
      const results = await load({ workers: 2, until: () => false, maxRequests: 100 });
      const notFound = await load({ workers: 1, until: () => false, maxRequests: 10, path: "/status/500" });
      expect([...results, ...notFound].every((r) => !(r instanceof Error))).toBe(true);

      const io = createMemoryIo();
      expect(await runCli(["service", "stat", "1", "--api", api.url, "--json"], io)).toBe(0);
      const stats = JSON.parse(io.out()) as ServiceStats;
      expect(stats.serviceId).toBe("1");
      expect(stats.total.requests).toBe(110);
      expect(stats.total.successRate).toBeCloseTo(100 / 110, 6);
      expect(stats.total.rps).toBeGreaterThan(0);
      expect(stats.total.p50Ms!).toBeGreaterThan(0);
      expect(stats.total.p50Ms!).toBeLessThanOrEqual(stats.total.p95Ms!);
      expect(stats.total.p95Ms!).toBeLessThanOrEqual(stats.total.p99Ms!);
      expect(stats.providers.map((p) => p.provider).sort()).toEqual(providerNodes.map((n) => n.peerId.toString()).sort());
      expect(stats.providers.reduce((sum, p) => sum + p.requests, 0)).toBe(110);
      expect(stats.providers.every((p) => p.breaker === "closed" || p.breaker === "open")).toBe(true);

      const table = createMemoryIo({ isTTY: true });
      expect(await runCli(["service", "stat", "1", "--api", api.url], table)).toBe(0);
      const lines = table.out().trimEnd().split("\n");
      expect(lines[0]).toMatch(/^PROVIDER\s+SUCCESS\s+RPS\s+LATENCY_P50\s+LATENCY_P95\s+LATENCY_P99\s+RETRIES\s+BREAKER$/);
      expect(lines).toHaveLength(4);
      expect(lines[3]).toMatch(/^\(total\)\s+90\.91%\s+[\d.]+rps\s+[\d.]+m?s\s+[\d.]+m?s\s+[\d.]+m?s\s+\d+$/);

      const none = createMemoryIo();
      expect(await runCli(["service", "stat", "7", "--api", api.url], none)).toBe(0);
      expect(none.out()).toContain("no calls to service 7");

      const text = await metrics.registry.metrics();
      expect(text).toMatch(/dsmp_mesh_requests_total\{service="1"\} 110/);
      expect(text).toMatch(/dsmp_mesh_responses_total\{service="1",status_class="5xx",classification="failure"\} 10/);
      expect(text).toMatch(/dsmp_mesh_attempts_total\{service="1",provider="12D3\w+",outcome="2xx"\} \d+/);
      expect(text).toMatch(/dsmp_mesh_response_latency_seconds_bucket\{le="0.005",service="1"\} \d+/);
      expect(text).toMatch(/dsmp_mesh_breaker_state\{service="1",provider="12D3\w+"\} [0-2]/);
    });
  });
});
