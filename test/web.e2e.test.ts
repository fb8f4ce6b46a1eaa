/**
 * The web UI end to end in a real browser: a `hardhat node`, the deploy script, 3 Xnodes (the devnet's demo
 * services), the UI built with Vite and served by node 0's control API, Debian's chromium driven by
 * playwright-core, and an injected EIP-1193 test wallet (window.ethereum + EIP-6963) whose `request` is
 * forwarded to a viem wallet client holding a devnet key. Consumer: `dsmp call --key` refused (403) → connect →
 * subscribe to the paid service → Subscriptions.isActive on-chain → the same `dsmp call` succeeds. Submitter: a
 * task submitted from the page is finalized by the 3 nodes (they run tasks: DSMP_REDIS_URL) and its result shows;
 * a credited worker operator withdraws the rewards and releases the collateral. Operator: stake → register an
 * Xnode (key generated in the browser) → request unbond → the countdown shows. Screenshots go to test-results/web/.
 *
 * Skips (saying so) only when /usr/bin/chromium is missing; .ci/run installs it.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { build } from "vite";
import { createPublicClient, createWalletClient, http, parseEther, type Address, type Hex } from "viem";
import { hardhat } from "viem/chains";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abis, type Deployment } from "../contracts/index.ts";
import { deploy } from "../scripts/lib/deploy.ts";
import { devAccount, devPrivateKey } from "../scripts/lib/dev-accounts.ts";
import { startDevnetXnodes, type DevnetXnodes } from "../scripts/lib/devnet-xnodes.ts";
import { startHardhatNode, type HardhatNode } from "../scripts/lib/hardhat-node.ts";
import { createMemoryIo } from "../worker/src/cli/cli-io.ts";
import { runCli } from "../worker/src/cli/main.ts";
import { waitFor } from "../worker/src/discovery/discovery-network.fixture.ts";
import { formatOpen } from "../web/src/format.ts";
import { createUndrawnTask } from "./undrawn-task.fixture.ts";

const CHROMIUM = "/usr/bin/chromium";
const ROOT = new URL("..", import.meta.url).pathname;
const SHOTS = join(ROOT, "test-results", "web");
const NODES = 3;
/** Devnet accounts for the browser: with 3 nodes the devnet uses 1–3 (operators), 4 (owner), 5 (allow-listed). */
const CONSUMER = 7;
const OPERATOR = 8;
/** Redis for the nodes' task runners (each node's queue prefix holds its fresh random address: no clash). */
const REDIS_URL = process.env.DSMP_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

if (!existsSync(CHROMIUM)) console.warn(`web.e2e: SKIPPED — ${CHROMIUM} not found (apt-get install chromium; .ci/run does it)`);

/**
 * The page side of the test wallet: an EIP-1193 provider whose request() crosses to Node through
 * `__dsmpWallet` (exposeFunction), announced as window.ethereum and over EIP-6963.
 */
const WALLET_INIT_SCRIPT = `(() => {
  const provider = {
    isDsmpTestWallet: true,
    async request({ method, params }) {
      // A real wallet answers a signature or a transaction only after its user looked at the prompt: let the page
      // draw what it shows while it waits (else an instant answer can batch that state away before it is drawn).
      if (method === "eth_signTypedData_v4" || method === "eth_sendTransaction") {
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))); // two frames: the state was drawn
      }
      const answer = JSON.parse(await window.__dsmpWallet(method, JSON.stringify(params ?? [])));
      if (answer.error) throw Object.assign(new Error(answer.error.message), answer.error);
      return answer.result;
    },
    on() { return provider; },
    removeListener() { return provider; },
  };
  window.ethereum = provider;
  const info = { uuid: "5b1d7a8e-0d55-4c3e-9d44-3e7a6f1c0a11", name: "DSMP Test Wallet", rdns: "org.dsmp.testwallet",
    icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 1 1'/%3E" };
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
  // Every transaction state the UI shows, in order (pending can be brief on an automining chain).
  window.__txLog = [];
  new MutationObserver((records) => {
    for (const r of records) {
      const el = r.target;
      if (el.dataset && el.dataset.testid && el.dataset.status) window.__txLog.push(el.dataset.testid + ":" + el.dataset.status + ":" + el.textContent);
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-status"] });
})();`;

/** The Node side: a viem wallet client for a devnet key answers what a wallet answers; the rest goes to the chain. */
function walletBackend(rpcUrl: string, key: Hex) {
  const chain = { ...hardhat, rpcUrls: { default: { http: [rpcUrl] } } };
  const wallet = createWalletClient({ chain, transport: http(rpcUrl), account: devAccountFromKey(key) });
  const pub = createPublicClient({ chain, transport: http(rpcUrl) });
  let authorized = false; // like a real wallet: no accounts until the page asks to connect
  return async (method: string, paramsJson: string): Promise<string> => {
    const params = JSON.parse(paramsJson) as unknown[];
    try {
      let result: unknown;
      switch (method) {
        case "eth_accounts":
          result = authorized ? [wallet.account.address] : [];
          break;
        case "eth_requestAccounts":
          authorized = true;
          result = [wallet.account.address];
          break;
        case "eth_chainId":
          result = `0x${chain.id.toString(16)}`;
          break;
        case "wallet_switchEthereumChain":
          result = null;
          break;
        case "wallet_revokePermissions":
          authorized = false;
          result = null;
          break;
        case "wallet_requestPermissions":
          authorized = true;
          result = [{ parentCapability: "eth_accounts" }];
          break;
        case "wallet_getPermissions":
          result = authorized ? [{ parentCapability: "eth_accounts" }] : [];
          break;
        case "eth_signTypedData_v4": {
          const data = JSON.parse(params[1] as string) as { domain: never; types: Record<string, never>; primaryType: string; message: never };
          const { EIP712Domain: _domain, ...types } = data.types;
          result = await wallet.account.signTypedData({ domain: data.domain, types, primaryType: data.primaryType, message: data.message });
          break;
        }
        case "eth_sendTransaction": {
          const tx = params[0] as { to: Address; data?: Hex; value?: Hex; gas?: Hex };
          result = await wallet.sendTransaction({ to: tx.to, data: tx.data, value: tx.value ? BigInt(tx.value) : undefined, gas: tx.gas ? BigInt(tx.gas) : undefined });
          break;
        }
        default:
          result = await pub.request({ method, params } as never);
      }
      return JSON.stringify({ result });
    } catch (err) {
      const e = err as { code?: number; shortMessage?: string; message: string; data?: unknown; cause?: { data?: unknown; code?: number } };
      return JSON.stringify({ error: { code: e.cause?.code ?? e.code ?? -32603, message: e.shortMessage ?? e.message, data: e.cause?.data ?? e.data } });
    }
  };
}

function devAccountFromKey(key: Hex) {
  for (const i of [CONSUMER, OPERATOR, 1, 2, 3]) if (devPrivateKey(i) === key) return devAccount(i);
  throw new Error("unknown test key");
}

describe.skipIf(!existsSync(CHROMIUM))("web UI in a real browser", () => {
  let chain: HardhatNode;
  let net: DevnetXnodes;
  let deployment: Deployment;
  let browser: Browser;
  let webUrl: string;
  let deploymentsFile: string;
  const redisBefore = process.env.DSMP_REDIS_URL;
  const root = mkdtempSync(join(tmpdir(), "dsmp-web-"));
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    const webDir = join(root, "web-dist");
    await build({ configFile: join(ROOT, "web", "vite.config.ts"), logLevel: "warn", build: { outDir: webDir, emptyOutDir: true } });
    chain = await startHardhatNode();
    const outDir = join(root, "deployments");
    deployment = await deploy({ rpcUrl: chain.rpcUrl, privateKey: devPrivateKey(0), outDir });
    // OPEN for the browser's accounts (the deployer holds the supply).
    const viemChain = { ...hardhat, rpcUrls: { default: { http: [chain.rpcUrl] } } };
    const pub = createPublicClient({ chain: viemChain, transport: http(chain.rpcUrl) });
    const deployer = createWalletClient({ chain: viemChain, transport: http(chain.rpcUrl), account: devAccount(0) });
    for (const i of [CONSUMER, OPERATOR]) {
      const hash = await deployer.writeContract({ address: deployment.contracts.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [devAccount(i).address, parseEther("1000")] });
      await pub.waitForTransactionReceipt({ hash });
    }
    deploymentsFile = join(outDir, `${deployment.chainId}.json`);
    // The nodes run tasks (startXnode's task runner is on when DSMP_REDIS_URL is set and TaskManager deployed).
    process.env.DSMP_REDIS_URL = REDIS_URL;
    net = await startDevnetXnodes({
      rpcUrl: chain.rpcUrl,
      deployment,
      deploymentsFile,
      count: NODES,
      rootDir: join(root, "nodes"),
      ephemeralPorts: true,
      webDir,
      // The Network page's test sends its own challenge (a prover answers a verifier once a minute), at a
      // reference rate an honest node meets while the browser and the chain load the machine.
      resourceProof: { intervalMs: 3_600_000, minWorkPerCoreSecond: 50_000_000 },
    });
    webUrl = `${net.nodes[0]!.apiUrl}/`;
    // Task collateral comes from the operators' free stake (the devnet bonds exactly the node stake); the nodes
    // pay gas for their round transactions.
    for (const [i, node] of net.nodes.entries()) {
      const operator = createWalletClient({ chain: viemChain, transport: http(chain.rpcUrl), account: devAccount(i + 1) });
      const c = deployment.contracts;
      await pub.waitForTransactionReceipt({ hash: await deployer.writeContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [devAccount(i + 1).address, parseEther("100")] }) });
      await pub.waitForTransactionReceipt({ hash: await operator.writeContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "approve", args: [c.Staking!.address, parseEther("100")] }) });
      await pub.waitForTransactionReceipt({ hash: await operator.writeContract({ address: c.Staking!.address, abi: abis.Staking, functionName: "stake", args: [parseEther("100")] }) });
      await pub.waitForTransactionReceipt({ hash: await deployer.sendTransaction({ to: node.identity.address, value: parseEther("10") }) });
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    mkdirSync(SHOTS, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await net?.stop();
    await chain?.stop();
    if (redisBefore === undefined) delete process.env.DSMP_REDIS_URL;
    else process.env.DSMP_REDIS_URL = redisBefore;
    rmSync(root, { recursive: true, force: true });
  });

  async function openAs(index: number, path = "/"): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    contexts.push(context);
    await context.exposeFunction("__dsmpWallet", walletBackend(chain.rpcUrl, devPrivateKey(index)));
    await context.addInitScript(WALLET_INIT_SCRIPT);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(new URL(path, webUrl).toString());
    await page.getByRole("button", { name: "Connect DSMP Test Wallet" }).click();
    await expect.poll(() => page.getByTestId("account").getAttribute("title"), { timeout: 15_000 }).toBe(devAccount(index).address);
    expect(errors).toEqual([]);
    return page;
  }

  const txLog = (page: Page, id: string) => page.evaluate((id) => (globalThis as unknown as { __txLog: string[] }).__txLog.filter((l) => l.startsWith(`${id}:`)), id);

  it("is served by the node with its chain config, and answers client-side routes with the app", async () => {
    const config = (await (await fetch(`${net.nodes[0]!.apiUrl}/v1/web-config`)).json()) as { chainId: number; contracts: Record<string, string> };
    expect(config.chainId).toBe(31337);
    expect(config.contracts.Subscriptions?.toLowerCase()).toBe(deployment.contracts.Subscriptions!.address.toLowerCase());
    const spa = await fetch(`${net.nodes[0]!.apiUrl}/services/1`);
    expect(spa.headers.get("content-type")).toContain("text/html");
    expect(await spa.text()).toContain('<div id="root">');
    expect((await fetch(`${net.nodes[0]!.apiUrl}/v1/nope`)).status).toBe(404);
  });

  it("the dev burner connects without a wallet; the pages are keyboard reachable and every control is labelled", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(webUrl);
    expect(await page.getByRole("button", { name: "Connect browser wallet" }).count()).toBe(0); // no window.ethereum here
    await page.getByRole("button", { name: "Connect dev burner (devnet only)" }).click();
    await expect.poll(() => page.getByTestId("account").getAttribute("title"), { timeout: 15_000 }).toBe(devAccount(9).address);
    expect(await page.locator(".wallet").textContent()).toContain("via dev burner (devnet only)");

    // Keyboard: Tab from the top of a fresh load reaches the navigation; Enter follows the link.
    await page.goto(webUrl);
    await page.getByTestId("account").waitFor();
    let reached = false;
    for (let i = 0; i < 12 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = (await page.evaluate("document.activeElement?.textContent")) === "Network";
    }
    expect(reached).toBe(true);
    await page.keyboard.press("Enter");
    await expect.poll(() => new URL(page.url()).pathname).toBe("/network");

    for (const path of ["/", "/operate", "/leases", "/tasks", "/network"]) {
      await page.goto(new URL(path, webUrl).toString());
      await page.getByRole("main").waitFor();
      await page.waitForLoadState("networkidle").catch(() => {});
      // A control without a name: no label (wrapping or for=), no aria-label(ledby), no text.
      const unnamed = await page.evaluate(`[...document.querySelectorAll("input, select, textarea, button")]
        .filter((el) => !(el.labels?.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")) && !(el.tagName === "BUTTON" && el.textContent.trim()))
        .map((el) => el.outerHTML.slice(0, 100))`);
      expect(unnamed, path).toEqual([]);
    }
  });

  it("consumer: connect → subscribe to the paid service (approve + subscribe, pending → confirmed) → active on-chain → dsmp call succeeds", async () => {
    const paid = net.services.find((s) => s.name === "paid")!;
    const priv = net.services.find((s) => s.name === "private")!;
    const consumer = devAccount(CONSUMER).address;
    // `dsmp call` as the consumer (--key: the CLI signs the access token itself, the gateway forwards it).
    const gateway = net.nodes[0]!.gatewayUrl;
    const callPaid = async () => {
      const io = createMemoryIo();
      const code = await runCli(["call", String(paid.id), "hello", "--gateway", gateway, "--data", `from ${consumer}`, "--key", devPrivateKey(CONSUMER), "--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--json"], io);
      return { code, answer: io.out() === "" ? undefined : (JSON.parse(io.out()) as { status: number; body: string }) };
    };
    // Before subscribing the gate refuses the consumer (once node 0's gateway has found the provider).
    const refused = await waitFor("node 0's gateway to reach the paid service's provider", async () => {
      const r = await callPaid();
      return r.answer?.status === 403 ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(refused.code).not.toBe(0);
    expect(JSON.parse(refused.answer!.body)).toMatchObject({ error: "access-denied-upstream", reason: expect.stringMatching(/^not-subscribed/) });
    const page = await openAs(CONSUMER);

    await expect.poll(() => page.getByRole("link", { name: "paid" }).count(), { timeout: 20_000 }).toBe(1);
    await expect.poll(() => page.getByTestId("node-indicator").getAttribute("data-online"), { timeout: 15_000 }).toBe("true");
    await page.screenshot({ path: join(SHOTS, "services.png"), fullPage: true });

    await page.getByRole("link", { name: "paid" }).click();
    await expect.poll(() => page.getByTestId("subscription-status").textContent(), { timeout: 15_000 }).toBe("Not subscribed");
    await page.getByLabel(/Periods of/).fill("2");
    await page.getByRole("button", { name: "Subscribe" }).click();
    await expect.poll(() => page.getByTestId("subscribe-tx").getAttribute("data-status"), { timeout: 30_000 }).toBe("confirmed");
    const states = (await txLog(page, "subscribe-tx")).map((l) => l.split(":").slice(1).join(":"));
    // approve and subscribe each went signing → pending; the action ended confirmed.
    expect(states.filter((s) => s.startsWith("pending")).length).toBe(2);
    expect(states.some((s) => s.startsWith("pending:approve OPEN: pending"))).toBe(true);
    expect(states.some((s) => s.startsWith("pending:subscribe: pending"))).toBe(true);
    expect(states.at(-1)).toMatch(/^confirmed:confirmed: subscribed for 2 × 30d/);
    await expect.poll(() => page.getByTestId("subscription-status").getAttribute("data-active"), { timeout: 15_000 }).toBe("true");

    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const args = [paid.id, consumer] as const;
    expect(await pub.readContract({ address: deployment.contracts.Subscriptions!.address, abi: abis.Subscriptions, functionName: "isActive", args })).toBe(true);
    const sub = await pub.readContract({ address: deployment.contracts.Subscriptions!.address, abi: abis.Subscriptions, functionName: "getSubscription", args });
    expect(sub.balance).toBeGreaterThan(parseEther("19"));

    // Renew one period with an ERC-2612 permit: one signature, one transaction, no approval.
    const expiresBefore = await pub.readContract({ address: deployment.contracts.Subscriptions!.address, abi: abis.Subscriptions, functionName: "expiresAt", args });
    const logBefore = (await txLog(page, "subscribe-tx")).length;
    await page.getByLabel(/pay with a permit signature/).check();
    await page.getByLabel(/Periods of/).fill("1");
    await page.getByRole("button", { name: "Renew" }).click();
    await expect.poll(async () => (await txLog(page, "subscribe-tx")).at(-1) ?? "", { timeout: 30_000 }).toMatch(/^subscribe-tx:confirmed:confirmed: renewed for 1 × 30d \(10 OPEN\) with a permit/);
    const renewStates = (await txLog(page, "subscribe-tx")).slice(logBefore).map((l) => l.split(":").slice(1).join(":"));
    expect(renewStates.some((l) => l.startsWith("signing:sign permit"))).toBe(true);
    expect(renewStates.filter((l) => l.startsWith("pending")).map((l) => l.split(":")[1])).toEqual(["renew"]);
    const expiresAfter = await pub.readContract({ address: deployment.contracts.Subscriptions!.address, abi: abis.Subscriptions, functionName: "expiresAt", args });
    expect(expiresAfter - expiresBefore).toBe(30n * 86_400n);

    // Cancel shows the refund before signing (not signed here).
    await page.getByRole("button", { name: "Cancel subscription…" }).click();
    await expect.poll(() => page.getByTestId("refund-preview").textContent()).toMatch(/refunds ≈?\d+(\.\d+)? OPEN/);
    await page.getByRole("button", { name: "Keep subscription" }).click();
    await page.screenshot({ path: join(SHOTS, "service-subscribed.png"), fullPage: true });

    // The same call as that consumer now passes the gate (node 0's gateway does not serve the service itself).
    const allowed = await callPaid();
    expect(allowed.code).toBe(0);
    expect(allowed.answer).toMatchObject({ status: 200, body: `from ${consumer}` });
    // Node 0's gateway saw those calls: its golden signals (GET /v1/services/<id>/stats) show on the page.
    await page.goto(new URL(`/services/${paid.id}`, webUrl).toString());
    const total = page.getByTestId("golden-signals").locator("tbody tr").first().locator("th, td");
    await expect.poll(async () => Number(await total.nth(1).textContent()), { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
    expect(await total.nth(0).textContent()).toBe("all providers");
    expect(await total.nth(2).textContent()).toMatch(/^\d+(\.\d)? %$/);
    expect(await total.nth(4).textContent()).toMatch(/^\d+\.\d ms$/);
    expect(await page.getByTestId("golden-signals").locator("tbody tr").count()).toBeGreaterThanOrEqual(2); // + the provider's row

    // A private service says "not allowed" to an account off its allow-list.
    await page.goto(new URL(`/services/${priv.id}`, webUrl).toString());
    await expect.poll(() => page.getByTestId("not-allowed").textContent(), { timeout: 20_000 }).toContain("Not allowed");
  });

  it("consumer: pay per call — deposit into UsageEscrow from the page (agreeing to the price), calls pass, a withdrawal request shows the delay", async () => {
    const metered = net.services.find((s) => s.name === "metered")!;
    const consumer = devAccount(CONSUMER).address;
    const gateway = net.nodes[0]!.gatewayUrl;
    const callMetered = async () => {
      const io = createMemoryIo();
      // A per-call token names its provider (node 1 serves `metered`).
      const provider = net.nodes[1]!.identity.peerId.toString();
      await runCli(["call", String(metered.id), "hello", "--gateway", gateway, "--data", "metered", "--provider", provider, "--key", devPrivateKey(CONSUMER), "--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--json"], io);
      return io.out() === "" ? undefined : (JSON.parse(io.out()) as { status: number; body: string });
    };
    const refused = await waitFor("node 0's gateway to reach a metered provider", async () => {
      const r = await callMetered();
      return r?.status === 403 ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(JSON.parse(refused.body)).toMatchObject({ reason: expect.stringMatching(/^escrow-missing/) });

    const page = await openAs(CONSUMER, `/services/${metered.id}`);
    await expect.poll(() => page.getByTestId("escrow-status").getAttribute("data-empty"), { timeout: 20_000 }).toBe("true");
    await page.getByLabel("Deposit (OPEN)").fill("0.05");
    await page.getByRole("button", { name: "Deposit" }).click();
    await expect.poll(() => page.getByTestId("escrow-tx").getAttribute("data-status"), { timeout: 30_000 }).toBe("confirmed");
    expect((await txLog(page, "escrow-tx")).at(-1)).toMatch(/confirmed: deposited 0\.05 OPEN at 0\.01 OPEN per call/);
    await expect.poll(() => page.getByTestId("escrow-status").textContent(), { timeout: 15_000 }).toMatch(/0\.05 OPEN in escrow at 0\.01 OPEN per call: covers 5 calls/);
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const account = await pub.readContract({ address: deployment.contracts.UsageEscrow!.address, abi: abis.UsageEscrow, functionName: "accountOf", args: [metered.id, consumer] });
    expect([account.balance, account.pricePerCall]).toEqual([parseEther("0.05"), parseEther("0.01")]);

    // The providers index the deposit and serve the consumer's calls.
    const served = await waitFor("the providers to index the deposit", async () => {
      const r = await callMetered();
      return r?.status === 200 ? r : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    expect(served.body).toBe("metered");
    await page.screenshot({ path: join(SHOTS, "service-escrow.png"), fullPage: true });

    // Withdraw all: the delay (1 h on this chain) shows; the request can be cancelled.
    await page.getByRole("button", { name: "Withdraw all…" }).click();
    await expect.poll(() => page.getByTestId("escrow-withdrawal").getAttribute("data-state"), { timeout: 30_000 }).toBe("waiting");
    expect(await page.getByTestId("escrow-withdrawal").textContent()).toMatch(/Withdrawal of 0\.05 OPEN requested: possible from .* \(in (1h|59m)/);
    expect(await page.getByTestId("escrow-status").textContent()).toMatch(/covers 0 calls/);
    await page.getByRole("button", { name: "Cancel withdrawal" }).click();
    await expect.poll(() => page.getByTestId("escrow-withdrawal").count(), { timeout: 30_000 }).toBe(0);
  });

  it("lessee: an offer is listed, a lease opens, its accrued cost shows, and closing early shows the refund first", async () => {
    // Node 0's operator (dev account 1) offers capacity: 0.001 OPEN/s, 1 min – 1 day, 1 min notice.
    const viemChain = { ...hardhat, rpcUrls: { default: { http: [chain.rpcUrl] } } };
    const pub = createPublicClient({ chain: viemChain, transport: http(chain.rpcUrl) });
    const operator = createWalletClient({ chain: viemChain, transport: http(chain.rpcUrl), account: devAccount(1) });
    const leases = deployment.contracts.LeaseEscrow!.address;
    const hash = await operator.writeContract({
      address: leases,
      abi: abis.LeaseEscrow,
      functionName: "postOffer",
      args: [net.nodes[0]!.identity.address, { cpuMillicores: 1_000, memoryMiB: 1_024, storageGiB: 10, gpus: 0 }, parseEther("0.001"), 60n, 86_400n, 60n, 2],
    });
    expect((await pub.waitForTransactionReceipt({ hash })).status).toBe("success");

    const page = await openAs(CONSUMER, "/leases");
    await expect.poll(() => page.getByRole("cell", { name: "3.6 OPEN / hour" }).count(), { timeout: 15_000 }).toBe(1);
    await page.getByLabel("Offer").selectOption({ label: "#1 — 3.6 OPEN/h" });
    await page.getByLabel("Deposit (OPEN)").fill("3.6");
    await page.getByRole("button", { name: "Open lease" }).click();
    await expect.poll(() => page.getByTestId("lease-tx").getAttribute("data-status"), { timeout: 30_000 }).toBe("confirmed");
    expect(await page.getByTestId("lease-tx").textContent()).toContain("lease opened on offer #1 with 3.6 OPEN (≈ 1h)");
    const ids = await pub.readContract({ address: leases, abi: abis.LeaseEscrow, functionName: "leasesOfLessee", args: [devAccount(CONSUMER).address] });
    expect(ids).toEqual([1n]);

    await page.getByRole("button", { name: "Close lease #1…" }).click();
    const close = page.getByRole("button", { name: /^Close lease #1 and refund ≈?3\.5\d* OPEN$/ });
    await close.waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(SHOTS, "leases.png"), fullPage: true });
    const balanceBefore = await pub.readContract({ address: deployment.contracts.OpenToken!.address, abi: abis.OpenToken, functionName: "balanceOf", args: [devAccount(CONSUMER).address] });
    await close.click();
    await expect.poll(() => page.getByTestId("lease-tx").textContent(), { timeout: 30_000 }).toMatch(/^confirmed: lease #1 closing; refund about/);
    const lease = await pub.readContract({ address: leases, abi: abis.LeaseEscrow, functionName: "getLease", args: [1n] });
    expect([2, 3]).toContain(lease.status); // closing (notice period running) or already ended
    const balanceAfter = await pub.readContract({ address: deployment.contracts.OpenToken!.address, abi: abis.OpenToken, functionName: "balanceOf", args: [devAccount(CONSUMER).address] });
    expect(balanceAfter - balanceBefore).toBeGreaterThan(parseEther("3.5"));
  });

  it("submitter: a task (module + input handed to node 0) is created, assigned and finalized by the nodes; the result shows", async () => {
    const page = await openAs(CONSUMER, "/tasks");
    const wasm = readFileSync(join(ROOT, "examples", "wordcount.wasm"));
    await page.getByLabel("WebAssembly module").setInputFiles({ name: "wordcount.wasm", mimeType: "application/wasm", buffer: wasm });
    await page.getByLabel("Input text").fill("hello web ui\nsecond line\n");
    await page.getByLabel("Committee size n").fill("3");
    await page.getByLabel("Quorum q").fill("2");
    await page.getByLabel("Commit window (s)").fill("30");
    await page.getByLabel("Reveal window (s)").fill("30");
    await page.getByRole("button", { name: "Submit task" }).click();
    await expect.poll(() => page.getByTestId("task-tx").getAttribute("data-status"), { timeout: 60_000 }).toBe("confirmed");
    expect(await page.getByTestId("task-tx").textContent()).toMatch(/^confirmed: task #1 created and assigned \(reward 10 OPEN, n 3, q 2\)/);
    const steps = (await txLog(page, "task-tx")).filter((l) => l.startsWith("task-tx:pending")).map((l) => l.split(":")[2]);
    expect(steps).toEqual(["approve OPEN", "createTask", "assign"]);
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const tm = deployment.contracts.TaskManager!.address;
    const committee = await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "committeeOf", args: [1n] });
    expect(new Set(committee.map((a) => a.toLowerCase()))).toEqual(new Set(net.nodes.map((n) => n.identity.address.toLowerCase())));
    await page.screenshot({ path: join(SHOTS, "tasks.png"), fullPage: true });
    // The nodes fetch the blobs from node 0, run the module, commit, reveal and report: finalized on-chain.
    await expect.poll(() => page.getByTestId("task-stage").getAttribute("data-stage"), { timeout: 90_000, interval: 500 }).toBe("finalized");
    const task = await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "getTask", args: [1n] });
    expect(task.status).toBe(3);
    // wordcount: 5 words, 2 lines, each u32 little-endian — not text, so shown as hex.
    await expect.poll(() => page.getByTestId("task-result").textContent(), { timeout: 15_000 }).toBe("0x0500000002000000");
    await expect.poll(() => page.getByTestId("task-list").locator("tbody tr").first().textContent(), { timeout: 10_000 }).toContain("finalized");
    // The on-chain history: created, one seat per slot, the round, the result.
    await expect.poll(async () => (await page.getByTestId("task-history").locator("li").allTextContents()).map((t) => t.replace(/^block \d+: /, "").replace(/0x[0-9a-fA-F]{4}…[0-9a-fA-F]{4}/, "0x…").split(/[:(]/)[0]!.trim()), { timeout: 10_000 }).toEqual([
      "created",
      "slot 0 → 0x…",
      "slot 1 → 0x…",
      "slot 2 → 0x…",
      "round 0 started",
      "finalized",
    ]);
    await page.screenshot({ path: join(SHOTS, "tasks.png"), fullPage: true });
  });

  it("worker operator: task rewards and held collateral show on Operate; withdraw and release them", async () => {
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const tm = deployment.contracts.TaskManager!.address;
    // Operators 1–3 run the devnet's nodes; the signers of task #1's result were credited.
    const credited: { index: number; rewards: bigint }[] = [];
    for (const index of [1, 2, 3]) {
      const rewards = await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "rewardsOf", args: [devAccount(index).address] });
      if (rewards > 0n) credited.push({ index, rewards });
    }
    expect(credited.length).toBeGreaterThanOrEqual(2); // q = 2
    const { index, rewards } = credited[0]!;
    const operator = devAccount(index).address;
    const [held, inUse] = await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "collateralOf", args: [operator] });
    expect(held).toBeGreaterThan(0n);
    expect(inUse).toBe(0n); // the task is over; its seat's collateral stays held for the next seat until released
    const page = await openAs(index, "/operate");
    const fmt = formatOpen; // the page's own formatting (4 decimals at most, "≈" when cut)
    await expect.poll(() => page.getByTestId("task-rewards").textContent(), { timeout: 15_000 }).toBe(fmt(rewards));
    expect(await page.getByTestId("task-collateral").textContent()).toBe(`${fmt(held)} / 0 OPEN`);
    const balanceBefore = await pub.readContract({ address: deployment.contracts.OpenToken!.address, abi: abis.OpenToken, functionName: "balanceOf", args: [operator] });
    await page.getByRole("button", { name: "Withdraw rewards" }).click();
    await expect.poll(() => page.getByTestId("earnings-tx").getAttribute("data-status"), { timeout: 30_000 }).toBe("confirmed");
    const balanceAfter = await pub.readContract({ address: deployment.contracts.OpenToken!.address, abi: abis.OpenToken, functionName: "balanceOf", args: [operator] });
    expect(balanceAfter - balanceBefore).toBe(rewards);
    expect(await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "rewardsOf", args: [operator] })).toBe(0n);
    await page.getByRole("button", { name: "Release unused collateral" }).click();
    await expect.poll(() => page.getByTestId("earnings-tx").textContent(), { timeout: 30_000 }).toMatch(/^confirmed: released .* of task collateral/);
    expect(await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "collateralOf", args: [operator] })).toEqual([0n, 0n]);
    await expect.poll(() => page.getByTestId("task-collateral").textContent(), { timeout: 10_000 }).toBe("0 OPEN / 0 OPEN");
  });

  it("operator: stake → register an Xnode → request unbond shows the countdown; a revert is decoded", async () => {
    const operator = devAccount(OPERATOR).address;
    const page = await openAs(OPERATOR, "/operate");
    await page.getByLabel("Amount to stake (OPEN)").fill("150");
    await page.getByRole("button", { name: "Stake", exact: true }).click();
    await expect.poll(() => page.getByTestId("stake-tx").getAttribute("data-status"), { timeout: 30_000 }).toBe("confirmed");
    await expect.poll(() => page.getByTestId("bonded").textContent(), { timeout: 10_000 }).toBe("150 OPEN");

    await page.getByRole("button", { name: "Generate node key" }).click();
    const nodeText = (await page.getByTestId("node-address").textContent()) ?? "";
    const nodeAddress = /0x[0-9a-fA-F]{40}/.exec(nodeText)?.[0] as Address;
    expect(nodeAddress).toMatch(/^0x/);
    await page.getByRole("button", { name: "Register Xnode" }).click();
    await expect.poll(() => page.getByTestId("register-tx").getAttribute("data-status"), { timeout: 30_000 }).toBe("confirmed");
    await expect.poll(() => page.getByTestId("my-nodes").textContent(), { timeout: 10_000 }).toContain("active");
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const node = await pub.readContract({ address: deployment.contracts.XnodeRegistry!.address, abi: abis.XnodeRegistry, functionName: "getNode", args: [nodeAddress] });
    expect(node.operator).toBe(operator);
    expect(node.status).toBe(1);
    // Change what it advertises from the page (XnodeRegistry.updateResources): the form starts from the chain's figures.
    expect(await page.getByLabel("New CPU (millicores)").inputValue()).toBe("4000");
    await page.getByLabel("New CPU (millicores)").fill("6000");
    await page.getByLabel("New capacity slots").fill("2");
    await page.getByRole("button", { name: "Update resources" }).click();
    await expect.poll(() => page.getByTestId("update-tx").getAttribute("data-status"), { timeout: 30_000 }).toBe("confirmed");
    expect(await page.getByTestId("update-tx").textContent()).toContain("now advertises 6000 millicores (unproven until challenged again)");
    await expect.poll(() => page.getByTestId("my-nodes").textContent(), { timeout: 10_000 }).toContain("6 CPU");
    const updated = await pub.readContract({ address: deployment.contracts.XnodeRegistry!.address, abi: abis.XnodeRegistry, functionName: "getNode", args: [nodeAddress] });
    expect(updated.resources.cpuMillicores).toBe(6000);
    expect(updated.slots).toBe(2);

    // 150 staked, 100 bonded to the node: unbonding 500 is refused, and the reason reads as a sentence.
    await page.getByLabel("Amount to unbond (OPEN)").fill("500");
    await page.getByRole("button", { name: "Request unbond" }).click();
    await expect.poll(() => page.getByTestId("stake-tx").getAttribute("data-status"), { timeout: 15_000 }).toBe("error");
    expect(await page.getByTestId("stake-tx").textContent()).toMatch(/request unbond failed: not enough free stake: have 50 OPEN, need 500 OPEN/);

    await page.getByLabel("Amount to unbond (OPEN)").fill("30");
    await page.getByRole("button", { name: "Request unbond" }).click();
    await expect.poll(() => page.getByTestId("stake-tx").getAttribute("data-status"), { timeout: 30_000 }).toBe("confirmed");
    await expect.poll(() => page.getByTestId("unbonding").getAttribute("data-state"), { timeout: 10_000 }).toBe("waiting");
    expect(await page.getByTestId("unbonding").textContent()).toMatch(/^30 OPEN unbonding, released in \d+d/);
    const info = await pub.readContract({ address: deployment.contracts.Staking!.address, abi: abis.Staking, functionName: "stakeOf", args: [operator] });
    expect(info.unbonding).toBe(parseEther("30"));
    await page.screenshot({ path: join(SHOTS, "operate.png"), fullPage: true });

    await page.getByRole("link", { name: "Network" }).click();
    await expect.poll(() => page.getByRole("img", { name: /Most-subscribed services/ }).getAttribute("aria-label"), { timeout: 15_000 }).toMatch(/paid #\d+: 1 subscribers/);
    // Traffic through node 0's gateway while the page scrapes the node's /metrics: the latency chart fills in.
    const echo = net.services.find((s) => s.name === "echo")!;
    const latency = page.getByRole("img", { name: /Gateway latency through this node/ });
    await waitFor("three latency points on the chart", async () => {
      await Promise.all(Array.from({ length: 5 }, () => fetch(`${net.nodes[0]!.gatewayUrl}/svc/${echo.id}/x`, { method: "POST", body: "x" }).then((r) => r.text())));
      return (await latency.count()) === 1 && (await latency.locator("circle").count()) >= 6; // p50 and p99 points
    }, { timeoutMs: 30_000, intervalMs: 250 });
    expect(await latency.getAttribute("aria-label")).toMatch(/p50: \d+(\.\d)? ms; p99: \d+(\.\d)? ms/);
    // Open Observability: node 0 (which serves the page) shows how the network sees node 1, and its fault log.
    const observed = page.getByTestId(`observed-${net.nodes[1]!.identity.address.toLowerCase()}`);
    await expect.poll(() => observed.textContent(), { timeout: 30_000 }).toMatch(/^up · \d+\.\d % uptime · \d+\.\d ms$/);
    expect(await page.getByTestId("fault-log").textContent()).not.toContain("not reported yet");
    // Proof of Resource: node 0 challenges node 2 now; the page shows the verdict, and node 0 as "this node".
    const challenged = await fetch(`${net.nodes[0]!.apiUrl}/v1/resource-proofs/${net.nodes[2]!.identity.address}/challenge`, { method: "POST" });
    expect(challenged.status).toBe(200);
    const verdict = ((await challenged.json()) as { verdict?: { passed: boolean } }).verdict;
    const proof = page.getByTestId(`proof-${net.nodes[2]!.identity.address.toLowerCase()}`);
    await expect.poll(() => proof.textContent(), { timeout: 30_000 }).toMatch(verdict?.passed === true ? /^proven · \d+(\.\d)? of \d+ CPU shown$/ : /^failed \(/);
    expect(verdict?.passed).toBe(true);
    expect(await page.getByTestId(`proof-${net.nodes[0]!.identity.address.toLowerCase()}`).textContent()).toBe("this node (checked by the others)");
    expect(await page.getByTestId(`proof-${net.nodes[1]!.identity.address.toLowerCase()}`).textContent()).toMatch(/^(not checked yet|proven · .*)$/);
    await page.screenshot({ path: join(SHOTS, "network.png"), fullPage: true });
  });

  // Last: it moves the chain's clock forward.
  it("submitter: a task nobody finished can be refunded from the page once its final deadline passed (disabled before, with the time)", async () => {
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const tm = deployment.contracts.TaskManager!.address;
    // A task whose draw nobody runs (the submitter's `assign` never comes): it stays pending until its deadline.
    const reward = parseEther("4");
    const { taskId: id, fee } = await createUndrawnTask({ rpcUrl: chain.rpcUrl, deployment, submitter: devAccount(CONSUMER), n: 3, q: 2, reward, finalDeadlineIn: 120, label: "web claim" });

    const page = await openAs(CONSUMER, "/tasks");
    await page.getByTestId("task-list").getByRole("button", { name: `#${id}` }).click();
    const claim = page.getByRole("button", { name: "Claim refund" });
    await expect.poll(() => claim.count(), { timeout: 15_000 }).toBe(1);
    expect(await claim.isDisabled()).toBe(true);
    expect(await page.getByTestId("task-claim-reason").textContent()).toMatch(/possible after the final deadline, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    // Another account sees no button.
    const other = await openAs(OPERATOR, "/tasks");
    await other.getByTestId("task-list").getByRole("button", { name: `#${id}` }).click();
    await expect.poll(() => other.getByTestId("task-stage").getAttribute("data-stage"), { timeout: 15_000 }).toBe("created");
    // Decided (not still loading) and hidden for this account.
    await expect.poll(() => other.getByTestId("task-claim").getAttribute("data-claim"), { timeout: 15_000 }).toBe("hidden");
    expect(await other.getByRole("button", { name: "Claim refund" }).count()).toBe(0);
    expect(await page.getByTestId("task-claim").getAttribute("data-claim")).toBe("not-yet");

    // Move the chain's clock past the final deadline (a devnet's clock moves with blocks: one carries the new time).
    await pub.request({ method: "evm_increaseTime" as never, params: [300] as never });
    await pub.request({ method: "evm_mine" as never, params: [] as never });
    await expect.poll(() => claim.isEnabled(), { timeout: 20_000 }).toBe(true);
    expect(await page.getByTestId("task-claim").getAttribute("data-claim")).toBe("claimable");
    const balanceBefore = await pub.readContract({ address: deployment.contracts.OpenToken!.address, abi: abis.OpenToken, functionName: "balanceOf", args: [devAccount(CONSUMER).address] });
    await claim.click();
    await expect.poll(() => page.getByTestId("claim-tx").getAttribute("data-status"), { timeout: 30_000 }).toBe("confirmed");
    expect(await page.getByTestId("claim-tx").textContent()).toContain(`confirmed: refunded ${formatOpen(reward + fee)} (reward + fee) of task #${id}`);
    const balanceAfter = await pub.readContract({ address: deployment.contracts.OpenToken!.address, abi: abis.OpenToken, functionName: "balanceOf", args: [devAccount(CONSUMER).address] });
    expect(balanceAfter - balanceBefore).toBe(reward + fee);
    expect((await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "getTask", args: [id] })).status).toBe(4);
    await expect.poll(() => page.getByTestId("task-stage").getAttribute("data-stage"), { timeout: 15_000 }).toBe("refunded");
  });
});
