/**
 * Per-call settlement end to end, on real parts: a `hardhat node`, the deploy script (UsageEscrow included),
 * 4 Xnodes on 127.0.0.1 with the devnet's `metered` service (0.01 OPEN per call, served by nodes 1 and 2)
 * and calls through node 0's gateway with tokens the consumers sign. Checks that providers refuse calls the
 * consumer's escrow does not cover, claim what they served (automatically when the consumer asks to withdraw,
 * or on `dsmp usage claim`), that a token pays only the provider it names, and where the money goes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEther, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abis, type Deployment } from "../contracts/index.ts";
import { deploy } from "../scripts/lib/deploy.ts";
import { devAccount, devPrivateKey } from "../scripts/lib/dev-accounts.ts";
import { startDevnetXnodes, type DevnetService, type DevnetXnodes } from "../scripts/lib/devnet-xnodes.ts";
import { hardhatRpc as rpc, startHardhatNode, type HardhatNode } from "../scripts/lib/hardhat-node.ts";
import { claimUsage } from "../worker/src/chain/actions/claim-usage.ts";
import { depositEscrow } from "../worker/src/chain/actions/deposit-escrow.ts";
import { drawFaucet } from "../worker/src/chain/actions/draw-faucet.ts";
import { getEscrow } from "../worker/src/chain/actions/get-escrow.ts";
import { getService } from "../worker/src/chain/actions/get-service.ts";
import { updateService } from "../worker/src/chain/actions/update-service.ts";
import { requestEscrowWithdrawal } from "../worker/src/chain/actions/withdraw-escrow.ts";
import { createDsmpChainClient, type DsmpChainClient } from "../worker/src/chain/chain-client.ts";
import { createMemoryIo } from "../worker/src/cli/cli-io.ts";
import { runCli } from "../worker/src/cli/main.ts";
import { waitFor } from "../worker/src/discovery/discovery-network.fixture.ts";
import { ACCESS_HEADER, encodeAccessToken, signAccessToken } from "../worker/src/mesh/access/request-token.ts";
import type { SettlementRound } from "../worker/src/mesh/access/usage-settler.ts";

const NODES = 4;
const OWNER = NODES + 1;
const CONSUMER_C = NODES + 5;
const CONSUMER_D = NODES + 6;
const CONSUMER_E = NODES + 7;
const CONSUMER_F = NODES + 8;
const PRICE = parseEther("0.01");
const FEE_BPS = 250n;
const WITHDRAWAL_DELAY = 5n;

interface Answer {
  status: number;
  body: string;
  reason: string | undefined;
}

describe("per-call settlement through UsageEscrow", () => {
  let chain: HardhatNode;
  let net: DevnetXnodes;
  let deployment: Deployment;
  let deploymentsFile: string;
  let metered: DevnetService;
  const root = mkdtempSync(join(tmpdir(), "dsmp-usage-"));

  beforeAll(async () => {
    chain = await startHardhatNode();
    const outDir = join(root, "deployments");
    // A 5 s withdrawal delay: the test waits it out on the chain's own clock instead of moving that clock
    // (a chain clock ahead of the consumers' would shift the price eras of §8.7.1).
    deployment = await deploy({ rpcUrl: chain.rpcUrl, privateKey: devPrivateKey(0), outDir, usageWithdrawalDelay: WITHDRAWAL_DELAY });
    deploymentsFile = join(outDir, `${deployment.chainId}.json`);
    net = await startDevnetXnodes({ rpcUrl: chain.rpcUrl, deployment, deploymentsFile, count: NODES, rootDir: join(root, "nodes"), ephemeralPorts: true });
    metered = net.services.find((s) => s.name === "metered")!;
  }, 120_000);

  afterAll(async () => {
    await net?.stop();
    await chain?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const client = (account: number) => createDsmpChainClient({ rpcUrl: chain.rpcUrl, deployment, account: devAccount(account) });
  const tokenBalance = async (who: Address) =>
    (await client(0)).public.readContract({ address: deployment.contracts.OpenToken!.address as Address, abi: abis.OpenToken, functionName: "balanceOf", args: [who] });

  let turn = 0;
  /**
   * One call through node 0's gateway with a token `consumer` signs, valid `lifetime` seconds, naming
   * `provider` (a node index; by default nodes 1 and 2 in turn: the gateway routes a token that names a
   * provider to that provider only); `provider: null` signs a v 1 token, good at any provider.
   */
  async function call(consumer: number, lifetime = 60, provider: number | null = 1 + (turn++ % 2)): Promise<Answer> {
    const token = await signAccessToken({
      account: privateKeyToAccount(devPrivateKey(consumer)),
      domain: { chainId: deployment.chainId, registry: deployment.contracts.ServiceRegistry!.address },
      serviceId: metered.id,
      provider: provider === null ? undefined : net.nodes[provider]!.identity.address,
      expiry: Math.floor(Date.now() / 1000) + lifetime,
    });
    const res = await fetch(`${net.nodes[0]!.gatewayUrl}/svc/${metered.id}/hello`, { method: "POST", body: "hi", headers: { [ACCESS_HEADER]: encodeAccessToken(token) } });
    const body = await res.text();
    let reason: string | undefined;
    try {
      reason = (JSON.parse(body) as { reason?: string }).reason;
    } catch {
      reason = undefined;
    }
    return { status: res.status, body, reason };
  }

  /** Calls until the answer is not 503 (providers not discovered yet) and matches `until`, bounded. */
  const callUntil = (consumer: number, what: string, until: (a: Answer) => boolean, lifetime = 60) =>
    waitFor(what, async () => {
      const answer = await call(consumer, lifetime);
      return answer.status !== 503 && until(answer) ? answer : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });

  async function fund(account: number, deposit: bigint): Promise<DsmpChainClient> {
    const c = await client(account);
    await drawFaucet(c, { amount: parseEther("10") });
    if (deposit > 0n) await depositEscrow(c, { serviceId: metered.id, amount: deposit });
    return c;
  }

  const operatorOf = (node: number) => devAccount(node + 1).address;
  /** The usage ledger of `node` for the metered service and `consumer` (a dev account index, or an address). */
  const served = async (node: number, consumer: number | Address) =>
    (await net.nodes[node]!.usage.query({ serviceId: String(metered.id), consumer: typeof consumer === "number" ? devAccount(consumer).address : consumer, limit: 1000 })).records;

  async function claimViaCli(node: number): Promise<SettlementRound> {
    const io = createMemoryIo();
    expect(await runCli(["usage", "claim", "--api", net.nodes[node]!.apiUrl, "--json"], io)).toBe(0);
    return JSON.parse(io.out()) as SettlementRound;
  }

  it("refuses a consumer without escrow (403 escrow-missing) and a token that names no provider (401 token-unbound); the settlement state is on the control API", async () => {
    const answer = await callUntil(CONSUMER_C, "a provider of the metered service", () => true);
    expect(answer.status).toBe(403);
    expect(answer.reason).toMatch(/^escrow-missing: /);
    // A v 1 token is no evidence a provider could claim: refused before the escrow is looked at.
    const unbound = await call(CONSUMER_C, 60, null);
    expect(unbound.status).toBe(401);
    expect(unbound.reason).toMatch(/^token-unbound: /);
    // A token naming a node that does not serve the service: the gateway has no provider to send it to.
    const elsewhere = await call(CONSUMER_C, 60, 0);
    expect(elsewhere.status).toBe(503);
    expect(elsewhere.reason).toMatch(/names provider .* not among the providers found/);
    const status = (await (await fetch(`${net.nodes[1]!.apiUrl}/v1/usage/claims`)).json()) as { enabled: boolean; autoClaim: boolean; pending: number };
    expect(status).toMatchObject({ enabled: true, autoClaim: true, pending: 0 });
  });

  it("serves calls the escrow covers; a withdrawal request makes the providers claim them at once; the consumer gets the rest back after the delay", async () => {
    const c = await fund(CONSUMER_C, 5n * PRICE);
    const operatorsBefore = await Promise.all([1, 2].map((n) => tokenBalance(operatorOf(n))));
    const first = await callUntil(CONSUMER_C, "the providers to index the deposit", (a) => a.status === 200);
    expect(first.body).toBe("hi");
    for (let i = 0; i < 3; i++) expect((await call(CONSUMER_C)).status).toBe(200);
    const perNode = [(await served(1, CONSUMER_C)).length, (await served(2, CONSUMER_C)).length];
    expect(perNode[0]! + perNode[1]!).toBe(4);

    // The consumer asks for everything back: the providers see WithdrawalRequested and claim within a round.
    const { withdrawableAt } = await requestEscrowWithdrawal(c, { serviceId: metered.id, amount: 5n * PRICE });
    // Too early: `dsmp escrow withdraw` refuses and says when (the delay is 5 s; this runs at once).
    const early = createMemoryIo();
    const withdrawCli = ["escrow", "withdraw", String(metered.id), "--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--key", devPrivateKey(CONSUMER_C)];
    expect(await runCli(withdrawCli, early)).toBe(1);
    expect(early.err()).toMatch(/is possible from .*run `dsmp escrow withdraw \d+` again then/);
    const escrow = await waitFor("both providers to claim", async () => {
      const e = await getEscrow(c, { serviceId: metered.id, consumer: c.wallet!.account.address });
      return e.balance === PRICE ? e : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    expect(escrow.pendingWithdrawal).toBe(5n * PRICE);

    // Each operator got its node's calls at the agreed price, minus the 2.5 % protocol fee (rounded up).
    for (const [i, node] of [1, 2].entries()) {
      const gross = BigInt(perNode[i]!) * PRICE;
      const fee = (gross * FEE_BPS + 9_999n) / 10_000n;
      expect(await tokenBalance(operatorOf(node)) - operatorsBefore[i]!).toBe(gross - fee);
      if (perNode[i]! > 0) {
        const metrics = await (await fetch(`${net.nodes[node]!.apiUrl}/metrics`)).text();
        expect(metrics).toMatch(new RegExp(`dsmp_usage_claim_calls_total\\{result="paid"\\} ${perNode[i]}\\b`));
        expect(metrics).toMatch(/dsmp_usage_claims_total\{outcome="mined",trigger="withdrawal"\} 1\b/);
      }
      expect(net.nodes[node]!.settlement!.unclaimed(metered.id, c.wallet!.account.address)).toBe(0);
    }

    // With the pending withdrawal counted out, the escrow covers nothing more.
    const refused = await callUntil(CONSUMER_C, "the providers to see the withdrawal request", (a) => a.status === 403);
    expect(refused.reason).toMatch(/^escrow-insufficient: /);

    // After the delay the consumer takes min(requested, what is left).
    await waitFor("the withdrawal delay to pass on the chain", async () => {
      await rpc(chain.rpcUrl, "evm_mine", []);
      return (await c.public.getBlock()).timestamp >= withdrawableAt ? true : undefined;
    }, { timeoutMs: 20_000, intervalMs: 500 });
    const before = await tokenBalance(c.wallet!.account.address);
    const done = createMemoryIo();
    expect(await runCli([...withdrawCli, "--json"], done)).toBe(0);
    expect(JSON.parse(done.out())).toMatchObject({ withdrawn: String(PRICE), balance: "0" });
    expect(await tokenBalance(c.wallet!.account.address) - before).toBe(PRICE);
  });

  it("pays a token only to the provider it names: another node claiming it gets bad-signature, the named one already-paid, and no money moves", async () => {
    const [of1, of2] = [await served(1, CONSUMER_C), await served(2, CONSUMER_C)];
    expect(of1.length + of2.length).toBe(4);
    expect(of1.length).toBeGreaterThan(0);
    const asCalls = (records: typeof of1) => records.map((r) => ({ consumer: r.consumer!, expiry: r.expiry!, nonce: r.nonce!, signature: r.signature! }));
    // Node 2, an active staked node of the same service, claims the calls node 1 served (as a node copying a
    // pending claim from the mempool would) and its own, already paid, calls.
    const node2 = await createDsmpChainClient({ rpcUrl: chain.rpcUrl, deployment, account: net.nodes[2]!.identity.account });
    const before = await tokenBalance(operatorOf(2));
    const stolen = await claimUsage(node2, { serviceId: metered.id, calls: asCalls(of1) });
    expect(stolen.paid).toEqual([]);
    expect(stolen.rejected.map((r) => r.reason)).toEqual(of1.map(() => "bad-signature"));
    if (of2.length > 0) {
      const again = await claimUsage(node2, { serviceId: metered.id, calls: asCalls(of2) });
      expect(again.rejected.map((r) => r.reason)).toEqual(of2.map(() => "already-paid"));
    }
    expect(await tokenBalance(operatorOf(2))).toBe(before);
  });

  it("`dsmp call --key` on a per-call service signs a token naming one provider — one the gateway lists, or --provider — and the gateway sends the call there", async () => {
    await fund(CONSUMER_F, 3n * PRICE);
    const cli = ["call", String(metered.id), "hello", "--data", "hi", "--json", "--gateway", net.nodes[0]!.gatewayUrl, "--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--key", devPrivateKey(CONSUMER_F)];
    // The gateway lists the providers it finds, with their node addresses (what a token names).
    const listed = (await (await fetch(`${net.nodes[0]!.gatewayUrl}/providers/${metered.id}`)).json()) as { providers: Array<{ peerId: string; node: string }> };
    const metering = [1, 2].map((n) => ({ peerId: net.nodes[n]!.identity.peerId.toString(), node: net.nodes[n]!.identity.address.toLowerCase() }));
    expect(listed.providers.map(({ peerId, node }) => ({ peerId, node })).sort((a, b) => a.peerId.localeCompare(b.peerId))).toEqual(metering.sort((a, b) => a.peerId.localeCompare(b.peerId)));
    const bad = createMemoryIo();
    expect(await runCli([...cli, "--provider", "not-a-peer"], bad)).toBe(2);
    expect(bad.err()).toMatch(/--provider must be a node address/);
    const callAs = async (extra: string[]) => {
      const io = createMemoryIo();
      await runCli([...cli, ...extra], io);
      return JSON.parse(io.out()) as { status: number; provider: string | null; body: string };
    };
    // Without --provider: one of the two, picked by the CLI.
    const picked = await waitFor("the providers to index F's deposit", async () => {
      const out = await callAs([]);
      return out.status === 200 ? out : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    expect(picked.body).toBe("hi");
    expect(metering.map((m) => m.peerId)).toContain(picked.provider);
    // With --provider (a PeerId, or the node address): that one, every time.
    const target = net.nodes[2]!.identity.peerId.toString();
    expect(await callAs(["--provider", target])).toMatchObject({ status: 200, provider: target, body: "hi" });
    expect(await callAs(["--provider", net.nodes[2]!.identity.address])).toMatchObject({ status: 200, provider: target, body: "hi" });
    const [on1, on2] = [(await served(1, CONSUMER_F)).length, (await served(2, CONSUMER_F)).length];
    expect([on1, on2]).toEqual(picked.provider === target ? [0, 3] : [1, 2]);
    // The tokens the CLI signed are what the nodes are paid for.
    const rounds = [await claimViaCli(1), await claimViaCli(2)];
    expect(rounds.flatMap((r) => r.claims).reduce((sum, c) => sum + (c.paid ?? 0), 0)).toBe(3);
    expect(rounds.map((r) => r.pending)).toEqual([0, 0]);
  });

  it("node 0's gateway signs a token per attempt for the provider it picks, as its consumer key; the providers are paid for those calls", async () => {
    // The gateway's consumer key is node 0's own key: give it gas and OPEN, and an escrow for the service.
    const node0 = net.nodes[0]!.identity.account;
    await rpc(chain.rpcUrl, "hardhat_setBalance", [node0.address, "0x8ac7230489e80000"]);
    const c = await createDsmpChainClient({ rpcUrl: chain.rpcUrl, deployment, account: node0 });
    await drawFaucet(c, { amount: parseEther("10") });
    await depositEscrow(c, { serviceId: metered.id, amount: 4n * PRICE });
    const url = `${net.nodes[0]!.gatewayUrl}/svc/${metered.id}/hello`;
    await waitFor("the providers to index node 0's deposit", async () => ((await fetch(url, { method: "POST", body: "hi" })).status === 200 ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(url, { method: "POST", body: "hi" });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("hi");
    }
    const [of1, of2] = [await served(1, node0.address), await served(2, node0.address)];
    expect(of1.length + of2.length).toBe(4);
    const rounds = [await claimViaCli(1), await claimViaCli(2)];
    expect(rounds.flatMap((r) => r.claims).reduce((sum, claim) => sum + (claim.paid ?? 0), 0)).toBe(4);
    expect((await getEscrow(c, { serviceId: metered.id, consumer: node0.address })).balance).toBe(0n);
  });

  it("bounds what each provider serves by the escrow, concurrent calls too: with 1 call funded, at most one call per provider succeeds and exactly one is paid", async () => {
    const d = await fund(CONSUMER_D, PRICE);
    await callUntil(CONSUMER_D, "the providers to index D's deposit", (a) => a.status === 200);
    // Six at once: a provider counts calls from the moment it allows them, so concurrency does not get around it.
    const more = await Promise.all(Array.from({ length: 6 }, () => call(CONSUMER_D)));
    const ok = 1 + more.filter((a) => a.status === 200).length;
    // Each provider serves at most what the escrow covers beyond its own unclaimed calls: one call each here.
    expect(ok).toBeLessThanOrEqual(2);
    for (const a of more.filter((x) => x.status !== 200)) {
      expect(a.status).toBe(403);
      expect(a.reason).toMatch(/^escrow-insufficient: /);
    }
    // Claim on both nodes with the CLI: one call is paid; a second served call (if any) is held, not paid twice.
    const rounds = [await claimViaCli(1), await claimViaCli(2)];
    const paid = rounds.flatMap((r) => r.claims).reduce((sum, c) => sum + (c.paid ?? 0), 0);
    expect(paid).toBe(1);
    const held = rounds.reduce((sum, r) => sum + r.pending, 0);
    expect(held).toBe(ok - 1);
    expect((await getEscrow(d, { serviceId: metered.id, consumer: d.wallet!.account.address })).balance).toBe(0n);
    // Nothing is claimable now: a second claim sends nothing.
    const again = await claimViaCli(1);
    expect(again.claims).toEqual([]);
  });

  it("a price raise is not charged to escrow funded at the old price: providers refuse until the consumer re-agrees, and earlier calls keep their price", async () => {
    const e = await fund(CONSUMER_E, 10n * PRICE);
    // Calls before the raise carry 2 s tokens, so they expire before the re-agreement below (§8.7.1).
    await callUntil(CONSUMER_E, "the providers to index E's deposit", (a) => a.status === 200, 2);
    const owner = await client(OWNER);
    const service = await getService(owner, { serviceId: metered.id });
    await updateService(owner, { serviceId: metered.id, service: { ...service, pricing: { ...service.pricing, perCall: 2n * PRICE } } });
    const refused = await callUntil(CONSUMER_E, "the providers to see the new price", (a) => a.status === 403, 2);
    expect(refused.reason).toMatch(/^escrow-price-outdated: /);
    const beforeRaise = (await served(1, CONSUMER_E)).length + (await served(2, CONSUMER_E)).length;
    expect(beforeRaise).toBeGreaterThanOrEqual(1);
    const lastExpiry = Math.max(...(await served(1, CONSUMER_E)).concat(await served(2, CONSUMER_E)).map((r) => r.expiry!));
    await waitFor("E's old tokens to expire", async () => {
      await rpc(chain.rpcUrl, "evm_mine", []);
      return (await e.public.getBlock()).timestamp > BigInt(lastExpiry) ? true : undefined;
    }, { timeoutMs: 20_000, intervalMs: 500 });
    // `dsmp escrow deposit <id> 0` agrees to the new price.
    const io = createMemoryIo();
    const cli = ["escrow", "deposit", String(metered.id), "0", "--json", "--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--key", devPrivateKey(CONSUMER_E)];
    expect(await runCli(cli, io)).toBe(0);
    expect(JSON.parse(io.out())).toMatchObject({ pricePerCall: String(2n * PRICE), balance: String(10n * PRICE) });
    await callUntil(CONSUMER_E, "the providers to index the re-agreement", (a) => a.status === 200);
    const rounds = [await claimViaCli(1), await claimViaCli(2)];
    const gross = rounds.flatMap((r) => r.claims).reduce((sum, c) => sum + BigInt(c.gross ?? "0"), 0n);
    // The calls before the raise are charged the old price, the one after the re-agreement the new.
    expect(gross).toBe(BigInt(beforeRaise) * PRICE + 2n * PRICE);
    const shown = createMemoryIo();
    expect(await runCli(["escrow", "show", String(metered.id), "--json", "--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--key", devPrivateKey(CONSUMER_E)], shown)).toBe(0);
    const left = 10n * PRICE - gross;
    expect(JSON.parse(shown.out())).toMatchObject({ balance: String(left), pricePerCall: String(2n * PRICE), callsCovered: String(left / (2n * PRICE)) });
  });
});
