/**
 * End to end on real parts: a `hardhat node`, the deploy script, 5 Xnodes on 127.0.0.1 (own keys, registered
 * and staked on-chain), the demo services announced in the Kademlia DHT, and calls through every node's
 * gateway — including nodes that do not serve the service — plus the CLI, the control API and metrics.
 * (Discovery from a node never connected to the providers, records of unregistered keys, restarts with the
 * same keystore and malformed frames: test/discovery.e2e.test.ts.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deploy } from "../scripts/lib/deploy.ts";
import { devPrivateKey } from "../scripts/lib/dev-accounts.ts";
import { DEVNET_NODE_MILLICORES, startDevnetXnodes, type DevnetXnodes } from "../scripts/lib/devnet-xnodes.ts";
import { startHardhatNode, type HardhatNode } from "../scripts/lib/hardhat-node.ts";
import { waitFor } from "../worker/src/discovery/discovery-network.fixture.ts";
import { createMemoryIo } from "../worker/src/cli/cli-io.ts";
import { runCli } from "../worker/src/cli/main.ts";
import type { ObservabilityView } from "../worker/src/observability/observability-service.ts";
import type { ResourceProofView } from "../worker/src/resource-proof/resource-proof-service.ts";
import { planChallenge } from "../worker/src/resource-proof/resource-proof-verdict.ts";


const NODES = 5;


describe("Xnodes end to end", () => {
  let chain: HardhatNode;
  let net: DevnetXnodes;
  let deploymentsFile: string;
  const root = mkdtempSync(join(tmpdir(), "dsmp-xnodes-"));

  beforeAll(async () => {
    chain = await startHardhatNode();
    const outDir = join(root, "deployments");
    const deployment = await deploy({ rpcUrl: chain.rpcUrl, privateKey: devPrivateKey(0), outDir });
    net = await startDevnetXnodes({
      rpcUrl: chain.rpcUrl,
      deployment,
      deploymentsFile: (deploymentsFile = join(outDir, `${deployment.chainId}.json`)),
      count: NODES,
      rootDir: join(root, "nodes"),
      ephemeralPorts: true,
      observabilityIntervalMs: 2_500, // the shortest allowed: Open Observability's test waits for a few intervals
      // No challenges in the background (the test sends its own; a prover answers a verifier once a minute), and a
      // reference core of 50 M multiply-adds/s, so an honest node passes even while other suites load the machine.
      resourceProof: { intervalMs: 3_600_000, minWorkPerCoreSecond: 50_000_000 },
    });
  }, 120_000);

  afterAll(async () => {
    await net?.stop();
    await chain?.stop();
    rmSync(root, { recursive: true, force: true }); // node keys live there
  });

  it("every node calls the echo service through its gateway; providers are the announced nodes", async () => {
    const echo = net.services.find((s) => s.name === "echo")!;
    const providerPeers = echo.providers.map((i) => net.nodes[i]!.identity.peerId.toString());
    for (const [i, node] of net.nodes.entries()) {
      const body = `hello from node ${i}`;
      // Bounded wait on the condition "echo answers": announcements propagate in the background.
      const res = await waitFor(`node ${i} to reach echo`, async () => {
        const r = await fetch(`${node.gatewayUrl}/svc/${echo.id}/hello?x=1`, { method: "POST", body }).catch(() => undefined);
        return r?.status === 200 ? r : undefined;
      }, { timeoutMs: 30_000, intervalMs: 100 });
      expect(await res.text()).toBe(body);
      expect(providerPeers).toContain(res.headers.get("x-dsmp-provider"));
      expect(Number(res.headers.get("x-dsmp-attempts"))).toBeGreaterThanOrEqual(1);
    }
  });

  it("reports status, health and metrics on the control API", async () => {
    const node = net.nodes[4]!;
    const status = (await (await fetch(`${node.apiUrl}/v1/status`)).json()) as { chain: { registered: boolean; nodeStatus: string }; peers: number };
    expect(status.chain.registered).toBe(true);
    expect(status.chain.nodeStatus).toBe("active");
    expect(status.peers).toBeGreaterThan(0);
    expect((await fetch(`${node.apiUrl}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${node.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/dsmp_gateway_requests_total\{service="\d+",status_class="2xx"\} [1-9]/);
    expect(metrics).toMatch(/dsmp_dht_lookups_total\{outcome="found"\} [1-9]/);
    expect(metrics).toMatch(/dsmp_p2p_streams_opened_total\{protocol="\/dsmp\/http\/1.0.0",direction="outbound"\} [1-9]/);
    expect(metrics).toMatch(/dsmp_chain_synced_block [1-9]/);
    const provider = await (await fetch(`${net.nodes[0]!.apiUrl}/metrics`)).text(); // node 0 serves echo
    expect(provider).toMatch(/dsmp_provider_requests_total\{service="\d+",outcome="2xx"\} [1-9]/);
  });

  it("`dsmp call` and `dsmp node status` work against a running node", async () => {
    const echo = net.services.find((s) => s.name === "echo")!;
    const node = net.nodes[3]!;
    const io = createMemoryIo();
    expect(await runCli(["call", String(echo.id), "hello", "--gateway", node.gatewayUrl, "--data", "hi there", "--json"], io)).toBe(0);
    expect(JSON.parse(io.out())).toMatchObject({ status: 200, body: "hi there" });

    const statusIo = createMemoryIo();
    expect(await runCli(["node", "status", "--api", node.apiUrl, "--json"], statusIo)).toBe(0);
    expect(JSON.parse(statusIo.out())).toMatchObject({ address: node.identity.address, gatewayUrl: node.gatewayUrl });

    const missing = createMemoryIo();
    expect(await runCli(["call", "999", "--gateway", node.gatewayUrl], missing)).toBe(1);
    expect(missing.err()).toContain("service 999 answered 503");

    // The gateway's golden signals for the call above, through the node's control API.
    const statIo = createMemoryIo();
    expect(await runCli(["service", "stat", String(echo.id), "--api", node.apiUrl, "--json"], statIo)).toBe(0);
    const stat = JSON.parse(statIo.out());
    expect(stat).toMatchObject({ serviceId: String(echo.id), total: { successes: expect.any(Number) } });
    expect(stat.total.requests).toBeGreaterThanOrEqual(1);
    expect(stat.providers.length).toBeGreaterThanOrEqual(1);
    const scraped = await (await fetch(`${node.apiUrl}/metrics`)).text();
    expect(scraped).toContain(`dsmp_mesh_requests_total{service="${echo.id}"}`);
  });

  it("answers 503 JSON for a service nobody provides", async () => {
    const res = await fetch(`${net.nodes[0]!.gatewayUrl}/svc/999/x`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ serviceId: "999" });
  });

  it("Proof of Resource: a node proves another's advertised CPU; one that advertises 100 cores fails; the network agrees", async () => {
    const [verifier, honest, inflated] = [net.nodes[0]!, net.nodes[1]!, net.nodes[2]!];
    // Honest: node 1 advertises the machine's cores (the devnet's registration), sized at this test's
    // reference rate (e.g. 2 cores: one product of 512×512, due within 1 342 + 250 ms).
    const proveIo = createMemoryIo();
    expect(await runCli(["network", "prove", honest.identity.address, "--api", verifier.apiUrl, "--json"], proveIo)).toBe(0);
    const proved = JSON.parse(proveIo.out());
    const expectedPlan = planChallenge(DEVNET_NODE_MILLICORES, { matrixSize: 512, minWorkPerCoreSecond: 50_000_000, targetSeconds: 0.5, allowanceMs: 250 });
    expect(proved).toMatchObject({ node: honest.identity.address, plan: expectedPlan, verdict: { passed: true, reason: "proven" } });
    expect(proved.elapsedMs).toBeLessThanOrEqual(proved.plan.deadlineMs);
    expect(proved.verdict.provenMillicores).toBeGreaterThanOrEqual(DEVNET_NODE_MILLICORES / 2); // what a pass requires

    // Inflated: node 2's operator (dev account 3) raises its advertised CPU to 100 cores with `dsmp node update`.
    const updateIo = createMemoryIo();
    const env = { DSMP_RPC_URL: chain.rpcUrl, DSMP_DEPLOYMENT: deploymentsFile, DSMP_PRIVATE_KEY: devPrivateKey(3) };
    expect(await runCli(["node", "update", inflated.identity.address, "--cpu", "100000"], updateIo, { env })).toBe(0);
    expect(updateIo.out()).toContain(`node ${inflated.identity.address} now advertises 100000 millicores`);
    const proofsOf = async (): Promise<ResourceProofView> => (await (await fetch(`${verifier.apiUrl}/v1/resource-proofs`)).json()) as ResourceProofView;
    await waitFor("node 0 to see node 2's new resources", async () => ((await proofsOf()).nodes.find((n) => n.node === inflated.identity.address)?.advertisedMillicores === 100_000 ? true : undefined), { timeoutMs: 30_000, intervalMs: 200 });
    const inflatedIo = createMemoryIo();
    expect(await runCli(["network", "prove", inflated.identity.address, "--api", verifier.apiUrl], inflatedIo)).toBe(0);
    // 100 cores × 50 M × 0.5 s = 2.5 G: 3 pairs of 1 024 (3.2 G), due within 644 + 250 ms; 2 cores take seconds.
    expect(inflatedIo.out()).toMatch(/challenge: 3 product\(s\) of 1024×1024 matrices \(3221 M multiply-adds\), answer due within 895 ms/);
    expect(inflatedIo.out()).toMatch(/verdict: FAILED \(too-slow\)/);

    // The view, the CLI table and the metrics say the same.
    const view = await proofsOf();
    expect(view.nodes.find((n) => n.node === honest.identity.address)).toMatchObject({ state: "proven", advertisedMillicores: DEVNET_NODE_MILLICORES });
    const failedNode = view.nodes.find((n) => n.node === inflated.identity.address)!;
    expect(failedNode).toMatchObject({ state: "failed", reason: "too-slow", advertisedMillicores: 100_000 });
    expect(failedNode.provenMillicores).toBeLessThan(50_000);
    expect(view.failures[0]).toMatchObject({ node: inflated.identity.address, reason: "too-slow" });
    const tableIo = createMemoryIo();
    expect(await runCli(["network", "proofs", "--api", verifier.apiUrl], tableIo)).toBe(0);
    expect(tableIo.out()).toMatch(new RegExp(`${inflated.identity.address}\\s+failed\\s+100\\s`));
    expect(tableIo.out()).toContain("too-slow");
    const metrics = await (await fetch(`${verifier.apiUrl}/metrics`)).text();
    expect(metrics).toContain('dsmp_resource_proofs_total{outcome="proven"} 1');
    expect(metrics).toContain('dsmp_resource_proofs_total{outcome="too-slow"} 1');
    expect(metrics).toContain(`dsmp_resource_proof_proven{node="${inflated.identity.address}"} 0`);

    // Verdicts travel in the signed Open Observability reports, and the network judges a node only when checkers
    // holding more than ⅔ of the other nodes' stake have a verdict: nodes 3 and 4 check nodes 1 and 2 too (3 of
    // 4 others each, equal bonds). Node 3 then sees node 1 proven and node 2 failed, in `dsmp network status`
    // and its metrics — and what node 0 alone said was not enough before.
    const networkOf3 = async (): Promise<ObservabilityView> => (await (await fetch(`${net.nodes[3]!.apiUrl}/v1/observability`)).json()) as ObservabilityView;
    // Node 0's verdict on node 1 arrives (counted as one checker), and alone it decides nothing.
    await waitFor("node 3 to receive node 0's verdicts", async () => ((await networkOf3()).nodes.find((n) => n.node === honest.identity.address)?.proof.checkers === 1 ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });
    expect((await networkOf3()).nodes.find((n) => n.node === honest.identity.address)!.proof.state).toBe("unchecked");
    for (const checker of [net.nodes[3]!, net.nodes[4]!]) {
      for (const target of [honest, inflated]) {
        const io = createMemoryIo();
        expect(await runCli(["network", "prove", target.identity.address, "--api", checker.apiUrl, "--json"], io)).toBe(0);
        expect(JSON.parse(io.out()).verdict.passed).toBe(target === honest);
      }
    }
    await waitFor("node 3 to aggregate the checkers' verdicts", async () => {
      const nodes = (await networkOf3()).nodes;
      const [one, two] = [honest, inflated].map((x) => nodes.find((n) => n.node === x.identity.address)?.proof.state);
      return one === "proven" && two === "failed" ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    expect((await networkOf3()).nodes.find((n) => n.node === inflated.identity.address)!.proof).toMatchObject({ state: "failed", checkers: 3 });
    const statusIo = createMemoryIo();
    expect(await runCli(["network", "status", "--api", net.nodes[3]!.apiUrl], statusIo)).toBe(0);
    expect(statusIo.out()).toMatch(new RegExp(`${inflated.identity.address}\\t.*\\tfailed \\(3\\)`));
    expect(await (await fetch(`${net.nodes[3]!.apiUrl}/metrics`)).text()).toContain(`dsmp_observed_node_proven{node="${honest.identity.address}"} 1`);
    expect(await (await fetch(`${honest.apiUrl}/metrics`)).text()).toContain('dsmp_resource_prover_challenges{outcome="answered"} 3');

    // A second challenge within the prover's minute is refused as rate-limited: deferred, never counted as a refusal.
    const again = createMemoryIo();
    expect(await runCli(["network", "prove", honest.identity.address, "--api", verifier.apiUrl, "--json"], again)).toBe(0);
    const refused = JSON.parse(again.out());
    expect(refused).toMatchObject({ node: honest.identity.address, refusal: "rate-limited" });
    expect(refused).not.toHaveProperty("verdict");
    expect((await proofsOf()).nodes.find((n) => n.node === honest.identity.address)).toMatchObject({ state: "proven", refusalsInARow: 0 });

    // Bad input: not an address (CLI), a node the chain view does not know (API 404), itself (API 400).
    expect(await runCli(["network", "prove", "0x1234", "--api", verifier.apiUrl], createMemoryIo())).toBe(2);
    expect((await fetch(`${verifier.apiUrl}/v1/resource-proofs/0x000000000000000000000000000000000000dEaD/challenge`, { method: "POST" })).status).toBe(404);
    expect((await fetch(`${verifier.apiUrl}/v1/resource-proofs/${verifier.identity.address}/challenge`, { method: "POST" })).status).toBe(400);
  }, 120_000);

  // Last: it stops node 4.
  it("Open Observability: every node sees the others up, serves' traffic is reported, a stopped node goes down everywhere", async () => {
    const addresses = net.nodes.map((n) => n.identity.address);
    const viewOf = async (i: number): Promise<ObservabilityView> => (await (await fetch(`${net.nodes[i]!.apiUrl}/v1/observability`)).json()) as ObservabilityView;
    const stateIn = (view: ObservabilityView, address: string) => view.nodes.find((n) => n.node === address);

    for (const i of addresses.keys()) {
      await waitFor(`node ${i} to hold a report of every node and see the other ${NODES - 1} up`, async () => {
        const view = await viewOf(i);
        return view.reporters === NODES && addresses.every((a, j) => j === i || stateIn(view, a)?.state === "up") ? true : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500 });
    }
    const view = await viewOf(2);
    expect(view.observer).toBe(addresses[2]);
    expect(view.reporters).toBe(NODES);
    for (const [j, a] of addresses.entries()) {
      if (j === 2) continue;
      expect(stateIn(view, a)).toMatchObject({ availability: 1 });
      expect(stateIn(view, a)!.uptime).toBeGreaterThan(0);
      expect(stateIn(view, a)!.rttMs).toBeGreaterThan(0);
    }

    // Calls served by the echo providers (nodes 0 and 1) show up in every node's view of the service.
    const echo = net.services.find((s) => s.name === "echo")!;
    await waitFor("node 3 to see echo's served calls", async () => {
      await fetch(`${net.nodes[3]!.gatewayUrl}/svc/${echo.id}/x`, { method: "POST", body: "ping" });
      const service = (await viewOf(3)).services.find((s) => s.serviceId === String(echo.id));
      return service !== undefined && service.requestsPerSecond > 0 ? service : undefined;
    }, { timeoutMs: 30_000, intervalMs: 300 });
    const metrics = await (await fetch(`${net.nodes[3]!.apiUrl}/metrics`)).text();
    expect(metrics).toContain(`dsmp_observed_node_up{node="${addresses[0]}"} 1`);
    expect(metrics).toMatch(/dsmp_observability_reports_total\{outcome="accepted"\} [1-9]/);
    expect(metrics).toMatch(/dsmp_observability_probes_total\{outcome="ok"\} [1-9]/);

    // Stop node 4: the others' probes fail, and each of them logs it down.
    const stopped = addresses[4]!;
    await net.nodes[4]!.stop();
    for (const i of [0, 1, 2, 3]) {
      const seen = await waitFor(`node ${i} to see node 4 down`, async () => {
        const v = await viewOf(i);
        return stateIn(v, stopped)?.state === "down" ? v : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500 });
      expect(stateIn(seen, stopped)!.availability).toBe(0);
      expect(seen.faults.map((f) => [f.node, f.kind])).toContainEqual([stopped, "down"]);
      expect(stateIn(seen, addresses[(i + 1) % 4]!)!.state).toBe("up");
    }
    const io = createMemoryIo();
    expect(await runCli(["network", "status", "--api", net.nodes[0]!.apiUrl], io)).toBe(0);
    expect(io.out()).toMatch(new RegExp(`${stopped}\tdown\t0\.0%`));
    expect(io.out()).toContain(`${stopped}  down`);

    // Stop echo's provider node 1: once node 2 sees it down, its gateway sends echo calls to node 0 only — every
    // call served on the first attempt, none tried on the dead provider still listed in the DHT.
    await net.nodes[1]!.stop();
    await waitFor("node 2 to see node 1 down", async () => stateIn(await viewOf(2), addresses[1]!)?.state === "down" || undefined, { timeoutMs: 60_000, intervalMs: 500 });
    const node0 = net.nodes[0]!.identity.peerId.toString();
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${net.nodes[2]!.gatewayUrl}/svc/${echo.id}/x`, { method: "POST", body: `after ${i}` });
      expect(await res.text()).toBe(`after ${i}`);
      expect([res.headers.get("x-dsmp-provider"), res.headers.get("x-dsmp-attempts")]).toEqual([node0, "1"]);
    }
    expect(await (await fetch(`${net.nodes[2]!.apiUrl}/metrics`)).text()).toMatch(/dsmp_gateway_providers_skipped_total\{reason="observed-down"\} ([2-9]\d|\d{3,})/);
  }, 240_000);
});
