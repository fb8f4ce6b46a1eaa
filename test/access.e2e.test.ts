/**
 * Access to paid and private services end to end, on real parts: a `hardhat node`, the deploy script, 4 Xnodes
 * on 127.0.0.1 (the devnet's demo services: `echo` public free on nodes 0–1, `paid` 10 OPEN / 30 days on
 * node 2, `private` allow-listed on node 3) and calls through node 0's gateway, which serves neither of the
 * two. Tokens are signed by the gateway (node 0's key), by `dsmp call --key`, or by the test as the consumer.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createWalletClient, http, parseEther, type Address } from "viem";
import { hardhat } from "viem/chains";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abis, type Deployment } from "../contracts/index.ts";
import { deploy } from "../scripts/lib/deploy.ts";
import { devAccount, devPrivateKey } from "../scripts/lib/dev-accounts.ts";
import { startDevnetXnodes, type DevnetService, type DevnetXnodes } from "../scripts/lib/devnet-xnodes.ts";
import { hardhatRpc as rpc, startHardhatNode, type HardhatNode } from "../scripts/lib/hardhat-node.ts";
import { drawFaucet } from "../worker/src/chain/actions/draw-faucet.ts";
import { subscribe } from "../worker/src/chain/actions/subscribe.ts";
import { createDsmpChainClient } from "../worker/src/chain/chain-client.ts";
import { createMemoryIo } from "../worker/src/cli/cli-io.ts";
import { runCli } from "../worker/src/cli/main.ts";
import { waitFor } from "../worker/src/discovery/discovery-network.fixture.ts";
import { allowlistLeaf, hashPair } from "../worker/src/mesh/access/allowlist-proof.ts";
import { ACCESS_HEADER, ALLOWLIST_PROOF_HEADER, encodeAccessToken, signAccessToken } from "../worker/src/mesh/access/request-token.ts";
import type { UsageRecord } from "../worker/src/mesh/access/usage-ledger.ts";

const NODES = 4;
/** The devnet grants its private service to dev account NODES + 2; NODES + 3 is our paying subscriber. */
const ALLOWED = NODES + 2;
const SUBSCRIBER = NODES + 3;
/** Allow-listed by Merkle root only (set in the test). */
const MEMBER = NODES + 4;

interface Answer {
  status: number;
  body: string;
  json: { error?: string; reason?: string; serviceId?: string } | undefined;
}

describe("access to paid and private services", () => {
  let chain: HardhatNode;
  let net: DevnetXnodes;
  let deployment: Deployment;
  let deploymentsFile: string;
  let paid: DevnetService;
  let priv: DevnetService;
  let echo: DevnetService;
  const root = mkdtempSync(join(tmpdir(), "dsmp-access-"));

  beforeAll(async () => {
    chain = await startHardhatNode();
    const outDir = join(root, "deployments");
    deployment = await deploy({ rpcUrl: chain.rpcUrl, privateKey: devPrivateKey(0), outDir });
    deploymentsFile = join(outDir, `${deployment.chainId}.json`);
    net = await startDevnetXnodes({ rpcUrl: chain.rpcUrl, deployment, deploymentsFile, count: NODES, rootDir: join(root, "nodes"), ephemeralPorts: true });
    paid = net.services.find((s) => s.name === "paid")!;
    priv = net.services.find((s) => s.name === "private")!;
    echo = net.services.find((s) => s.name === "echo")!;
  }, 120_000);

  afterAll(async () => {
    await net?.stop();
    await chain?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const gateway = () => net.nodes[0]!.gatewayUrl;

  async function call(serviceId: bigint, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(`${gateway()}/svc/${serviceId}/hello`, { method: "POST", body: "hi", headers });
    const body = await res.text();
    let json: Answer["json"];
    try {
      json = JSON.parse(body) as Answer["json"];
    } catch {
      json = undefined;
    }
    return { status: res.status, body, json };
  }

  /** A token for `serviceId` signed by dev account `index`. */
  async function tokenOf(index: number, serviceId: bigint, expiresIn = 60): Promise<string> {
    const token = await signAccessToken({
      account: privateKeyToAccount(devPrivateKey(index)),
      domain: { chainId: deployment.chainId, registry: deployment.contracts.ServiceRegistry!.address },
      serviceId,
      expiry: Math.floor(Date.now() / 1000) + expiresIn,
    });
    return encodeAccessToken(token);
  }

  /** Calls until the service's provider is discovered (anything but 503 no-providers), bounded. */
  async function callOnceFound(serviceId: bigint, headers: () => Promise<Record<string, string>> = async () => ({})): Promise<Answer> {
    return waitFor(`a provider of service ${serviceId}`, async () => {
      const answer = await call(serviceId, await headers());
      return answer.status === 503 ? undefined : answer;
    }, { timeoutMs: 30_000, intervalMs: 100 });
  }

  async function metrics(node: number): Promise<string> {
    return (await fetch(`${net.nodes[node]!.apiUrl}/metrics`)).text();
  }

  it("public free echo still answers without any token", async () => {
    const answer = await callOnceFound(echo.id);
    expect(answer).toMatchObject({ status: 200, body: "hi" });
  });

  it("private service: the gateway's own (not allow-listed) key gets 403, the allow-listed consumer 200", async () => {
    expect(net.nodes[0]!.status().gatewayConsumer).toBe(net.nodes[0]!.identity.address);
    const denied = await callOnceFound(priv.id);
    expect(denied.status).toBe(403);
    expect(denied.json).toMatchObject({ error: "access-denied-upstream", serviceId: String(priv.id) });
    expect(denied.json!.reason).toMatch(/^not-allowed: /);

    const allowed = await call(priv.id, { [ACCESS_HEADER]: await tokenOf(ALLOWED, priv.id) });
    expect(allowed).toMatchObject({ status: 200, body: "hi" });

    const other = await call(priv.id, { [ACCESS_HEADER]: await tokenOf(SUBSCRIBER, priv.id) });
    expect(other.status).toBe(403);
    expect(await metrics(3)).toMatch(/dsmp_access_denied_total\{reason="not-allowed"\} [2-9]/);
  });

  it("a node's gateway serves a service the node alone provides (no dial to itself), through the same access checks", async () => {
    // Node 3 is the private service's only provider: its gateway's calls go to its own provider in memory.
    const self = net.nodes[3]!;
    const url = `${self.gatewayUrl}/svc/${priv.id}/hello`;
    const allowed = await waitFor("node 3's gateway to find its own provider record", async () => {
      const res = await fetch(url, { method: "POST", body: "local", headers: { [ACCESS_HEADER]: await tokenOf(ALLOWED, priv.id) } });
      return res.status === 503 ? undefined : res;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toBe("local");
    expect(allowed.headers.get("x-dsmp-provider")).toBe(self.identity.peerId.toString());
    expect(allowed.headers.get("x-dsmp-attempts")).toBe("1");
    // Its own key is not allow-listed: refused by its own provider exactly as a remote gateway's call is.
    const denied = await fetch(url, { method: "POST", body: "local" });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { reason: string }).reason).toMatch(/^not-allowed: /);
  });

  it("`dsmp call --key` signs as the allow-listed consumer", async () => {
    const io = createMemoryIo();
    const args = ["call", String(priv.id), "hello", "--gateway", gateway(), "--data", "from the cli", "--json"];
    const global = ["--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--key", devPrivateKey(ALLOWED)];
    expect(await runCli([...args, ...global], io)).toBe(0);
    expect(JSON.parse(io.out())).toMatchObject({ status: 200, body: "from the cli" });

    const denied = createMemoryIo();
    expect(await runCli([...args, "--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--key", devPrivateKey(SUBSCRIBER)], denied)).toBe(1);
    expect(denied.err()).toContain(`service ${priv.id} answered 403`);
  });

  it("private service allow-listed by Merkle root: the member with its proof gets 200, without it 403", async () => {
    // A three-member tree built as OpenZeppelin's StandardMerkleTree does; the chain must agree with our proof.
    const member = devAccount(MEMBER).address.toLowerCase() as Address;
    // The third member is node 0's own address: the account its gateway signs tokens with.
    const gatewayConsumer = net.nodes[0]!.identity.address.toLowerCase() as Address;
    const others = ["0x00000000000000000000000000000000000000a1", gatewayConsumer] as const;
    const [l0, l1, l2] = [allowlistLeaf(member), allowlistLeaf(others[0]), allowlistLeaf(others[1])];
    const root = hashPair(hashPair(l0, l1), l2);
    const proof = [l1, l2];
    const owner = createWalletClient({ chain: { ...hardhat, rpcUrls: { default: { http: [chain.rpcUrl] } } }, transport: http(chain.rpcUrl), account: devAccount(NODES + 1) });
    const registry = { address: deployment.contracts.ServiceRegistry!.address, abi: abis.ServiceRegistry } as const;
    const consumer = await createDsmpChainClient({ rpcUrl: chain.rpcUrl, deployment });
    await consumer.public.waitForTransactionReceipt({ hash: await owner.writeContract({ ...registry, functionName: "setAllowlistRoot", args: [priv.id, root] }) });
    expect(await consumer.public.readContract({ ...registry, functionName: "isAllowed", args: [priv.id, member, proof] })).toBe(true);

    const args = ["call", String(priv.id), "hello", "--gateway", gateway(), "--json", "--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--key", devPrivateKey(MEMBER)];
    const io = await waitFor("the provider to index the root", async () => {
      const attempt = createMemoryIo();
      return (await runCli([...args, "--proof", proof.join(",")], attempt)) === 0 ? attempt : undefined;
    }, { timeoutMs: 20_000, intervalMs: 100 });
    expect(JSON.parse(io.out())).toMatchObject({ status: 200 });
    const without = createMemoryIo();
    expect(await runCli(args, without)).toBe(1);
    expect(without.err()).toContain(`service ${priv.id} answered 403`);

    // Through a gateway that signs for itself: its client hands it the proof of the gateway's own account.
    const gatewayProof = [hashPair(l0, l1)];
    expect(await consumer.public.readContract({ ...registry, functionName: "isAllowed", args: [priv.id, gatewayConsumer, gatewayProof] })).toBe(true);
    const viaGateway = await call(priv.id, { [ALLOWLIST_PROOF_HEADER]: gatewayProof.join(",") });
    expect(viaGateway).toMatchObject({ status: 200, body: "hi" });
    const noProof = await call(priv.id);
    expect(noProof.status).toBe(403);
    expect(noProof.json!.reason).toMatch(/^not-allowed: /);
    const malformed = await call(priv.id, { [ALLOWLIST_PROOF_HEADER]: "0x1234" });
    expect(malformed.status).toBe(400);
    expect(malformed.json!.reason).toContain(ALLOWLIST_PROOF_HEADER);
  });

  it("refuses a replayed token, an expired one and one for another service with 401", async () => {
    const token = await tokenOf(ALLOWED, priv.id);
    expect((await call(priv.id, { [ACCESS_HEADER]: token })).status).toBe(200);
    const replayed = await call(priv.id, { [ACCESS_HEADER]: token });
    expect(replayed.status).toBe(401);
    expect(replayed.json).toMatchObject({ error: "access-denied-upstream", reason: expect.stringMatching(/^replayed: /) });

    const expired = await call(priv.id, { [ACCESS_HEADER]: await tokenOf(ALLOWED, priv.id, -120) });
    expect(expired.json).toMatchObject({ error: "access-denied-upstream", reason: expect.stringMatching(/^expired: /) });
    const wrongService = await call(priv.id, { [ACCESS_HEADER]: await tokenOf(ALLOWED, paid.id) });
    expect(wrongService.json).toMatchObject({ error: "access-denied-upstream", reason: expect.stringMatching(/^wrong-service: /) });
    const garbage = await call(priv.id, { [ACCESS_HEADER]: "bm90IGEgdG9rZW4" });
    expect(garbage.json).toMatchObject({ error: "access-denied-upstream", reason: expect.stringMatching(/^token-malformed: /) });
  });

  it("paid service: 403 before subscribing, 200 after, metered on the provider, 403 again after expiry", async () => {
    const subscriberToken = async () => ({ [ACCESS_HEADER]: await tokenOf(SUBSCRIBER, paid.id) });
    const before = await callOnceFound(paid.id, subscriberToken);
    expect(before.status).toBe(403);
    expect(before.json!.reason).toMatch(/^not-subscribed: /);
    // The gateway's own node key has no subscription either.
    expect((await call(paid.id)).status).toBe(403);

    const consumer = await createDsmpChainClient({ rpcUrl: chain.rpcUrl, deployment, account: devAccount(SUBSCRIBER) });
    await drawFaucet(consumer, { amount: parseEther("100") });
    const { paidUntil } = await subscribe(consumer, { serviceId: paid.id, periods: 1 });
    expect(paidUntil).toBeGreaterThan(BigInt(Math.floor(Date.now() / 1000)));

    // Bounded wait for the provider's chain view to index the subscription.
    const after = await waitFor("the provider to see the subscription", async () => {
      const answer = await call(paid.id, await subscriberToken());
      return answer.status === 200 ? answer : undefined;
    }, { timeoutMs: 20_000, intervalMs: 100 });
    expect(after.body).toBe("hi");

    // `dsmp call --key` as the subscriber: the web UI's "subscribe in the browser, then call" path.
    const io = createMemoryIo();
    const cli = ["call", String(paid.id), "x", "--gateway", gateway(), "--json", "--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile];
    expect(await runCli([...cli, "--key", devPrivateKey(SUBSCRIBER)], io)).toBe(0);
    expect(JSON.parse(io.out())).toMatchObject({ status: 200 });

    // The provider (node 2) recorded both calls with the consumer's signed token.
    const subscriber = devAccount(SUBSCRIBER).address.toLowerCase();
    const usage = (await (await fetch(`${net.nodes[2]!.apiUrl}/v1/usage?serviceId=${paid.id}&consumer=${subscriber}`)).json()) as {
      records: UsageRecord[];
      total: number;
      summary: Record<string, { calls: number }>;
    };
    expect(usage.total).toBe(2);
    expect(usage.records[0]).toMatchObject({ serviceId: String(paid.id), consumer: subscriber, status: 200, provider: net.nodes[2]!.identity.address });
    expect(usage.records[0]!.signature).toMatch(/^0x[0-9a-f]{130}$/);
    expect(usage.records[0]!.nonce).toMatch(/^0x[0-9a-f]{64}$/);
    expect(usage.records.find((r) => r.requestBytes === 2)).toBeDefined(); // "hi"
    expect(usage.summary[String(paid.id)]!.calls).toBe(2);
    const providerMetrics = await metrics(2);
    expect(providerMetrics).toMatch(new RegExp(`dsmp_usage_calls_total\\{service="${paid.id}"\\} 2`));
    expect(providerMetrics).toMatch(/dsmp_access_denied_total\{reason="not-subscribed"\} [1-9]/);
    expect((await fetch(`${net.nodes[2]!.apiUrl}/v1/usage?limit=x`)).status).toBe(400);

    // 31 days later on the chain's clock, the subscription has lapsed.
    await rpc(chain.rpcUrl, "evm_increaseTime", [31 * 86_400]);
    await rpc(chain.rpcUrl, "evm_mine", []);
    const lapsed = await waitFor("the provider to see the subscription lapse", async () => {
      const answer = await call(paid.id, await subscriberToken());
      return answer.status === 403 ? answer : undefined;
    }, { timeoutMs: 20_000, intervalMs: 100 });
    expect(lapsed.json!.reason).toMatch(/^not-subscribed: /);
  });
});
