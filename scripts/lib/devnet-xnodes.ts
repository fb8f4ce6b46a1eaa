/**
 * The devnet's Xnodes: N nodes in this process on 127.0.0.1 (keys in `.devnet/node-<i>`), each registered
 * and staked by its own development operator account, an `echo` backend, and four demo services:
 * `echo` (public, free; served by nodes 0 and 1), `paid` (public, 10 OPEN per 30 days; node 2), `private`
 * (allow-listed; node 3) and `metered` (public, 0.01 OPEN per call, paid from UsageEscrow; nodes 1 and 2).
 * Used by scripts/devnet.ts and the end-to-end tests.
 */
import { availableParallelism } from "node:os";
import { createServer, type Server } from "node:http";
import type { ConnectionGater } from "@libp2p/interface";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  createPublicClient,
  createWalletClient,
  http,
  parseEther,
  type Address,
  type Hex,
} from "viem";
import { hardhat } from "viem/chains";
import { abis, type Deployment } from "../../contracts/index.ts";
import { grantAccess } from "../../worker/src/chain/actions/grant-access.ts";
import { publishService } from "../../worker/src/chain/actions/publish-service.ts";
import { registerNode } from "../../worker/src/chain/actions/register-node.ts";
import { stake } from "../../worker/src/chain/actions/stake.ts";
import { createDsmpChainClient } from "../../worker/src/chain/chain-client.ts";
import { devnetPreset, resolveConfig, type DsmpConfig, type ResourceProofOptions } from "../../worker/src/config.ts";
import { loadOrCreateKeystore } from "../../worker/src/identity/keystore.ts";
import { createSilentLogger, type Logger } from "../../worker/src/log.ts";
import { startXnode, type ServedService, type Xnode } from "../../worker/src/node.ts";
import { devAccount } from "./dev-accounts.ts";

/** Free stake each devnet operator keeps beyond its node bond, for task collateral (docs/tasks.md). */
export const DEVNET_TASK_STAKE = 100n * 10n ** 18n;

export interface DevnetService {
  id: bigint;
  name: string;
  visibility: "public" | "private";
  providers: number[];
}

export interface DevnetXnodes {
  nodes: Xnode[];
  services: DevnetService[];
  echoUrl: string;
  /**
   * Stops node `i` and starts it again from the same keystore and data directory, listening on the same
   * p2p addresses (so its identity and its multiaddrs survive); returns the new Xnode (also in `nodes[i]`).
   */
  restart(i: number): Promise<Xnode>;
  stop(): Promise<void>;
}

/** CPU each devnet Xnode advertises on registration: the machine's available parallelism. */
export const DEVNET_NODE_MILLICORES = availableParallelism() * 1_000;

export interface StartDevnetXnodesParameters {
  rpcUrl: string;
  deployment: Deployment;
  deploymentsFile: string;
  count: number;
  rootDir: string;
  /** Use free ports (tests) instead of the devnet's fixed port blocks. */
  ephemeralPorts?: boolean;
  logger?: Logger;
  progress?: (line: string) => void;
  /** Which earlier node node `i` (≥ 1) bootstraps to. Default 0 (a star); `(i) => i - 1` makes a line. */
  bootstrapOf?: (i: number) => number;
  /**
   * A connection gater for node `i`, given the nodes started before it (tests keep chosen nodes apart with
   * it). Default: none.
   */
  connectionGater?: (i: number, started: readonly Xnode[]) => ConnectionGater | undefined;
  /** Open Observability's report interval (ms; tests shorten it to see nodes go up and down sooner). */
  observabilityIntervalMs?: number | undefined;
  /** Proof of Resource settings of every node (tests slow the rotation down and lower the reference rate). */
  resourceProof?: Partial<ResourceProofOptions> | undefined;
  /** Serve the built web UI from this directory on node 0's control API (`/`, plus `/v1/web-config`). */
  webDir?: string | undefined;
}

/** Answers any method and path with 200 and the request body unchanged. */
export async function startEchoBackend(): Promise<Server> {
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": req.headers["content-type"] ?? "application/octet-stream" });
    req.pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}


export async function startDevnetXnodes(p: StartDevnetXnodesParameters): Promise<DevnetXnodes> {
  const progress = p.progress ?? (() => {});
  const chain = { ...hardhat, rpcUrls: { default: { http: [p.rpcUrl] } } };
  const pub = createPublicClient({ chain, transport: http(p.rpcUrl) });
  const wallet = (index: number) => createWalletClient({ chain, transport: http(p.rpcUrl), account: devAccount(index) });
  const c = p.deployment.contracts;
  const send = async (hash: Promise<Hex>) => {
    const receipt = await pub.waitForTransactionReceipt({ hash: await hash });
    if (receipt.status !== "success") throw new Error(`transaction ${receipt.transactionHash} reverted`);
    return receipt;
  };

  const echo = await startEchoBackend();
  const echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;

  const services: DevnetService[] = [];
  const nodes: Xnode[] = [];
  const configs: DsmpConfig[] = [];
  const served: ServedService[][] = [];
  const startNode = (i: number) => {
    const gater = p.connectionGater?.(i, nodes.slice(0, i));
    return startXnode({
      config: configs[i]!,
      serve: served[i]!,
      logger: p.logger ?? createSilentLogger(),
      chainPollMs: 250,
      dhtInitialQuerySelfIntervalMs: 100,
      ...(gater === undefined ? {} : { connectionGater: gater }),
      ...(i === 0 && p.webDir !== undefined ? { web: { dir: p.webDir } } : {}),
    });
  };
  const stopAll = async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    await new Promise((r) => echo.close(r));
  };
  try {
    // Services, published by the service owner (dev account count + 1).
    const owner = await createDsmpChainClient({ rpcUrl: p.rpcUrl, deployment: p.deployment, account: devAccount(p.count + 1) });
    const allowed = devAccount(p.count + 2).address;
    const noPrice = { perCall: 0n, perPeriod: 0n, periodSeconds: 0n, oneTime: 0n, oneTimeDuration: 0n };
    const demo = [
      { name: "echo", visibility: "public", pricing: noPrice, providers: [0, 1] },
      { name: "paid", visibility: "public", pricing: { ...noPrice, perPeriod: parseEther("10"), periodSeconds: 30n * 86_400n }, providers: [2] },
      { name: "private", visibility: "private", pricing: noPrice, providers: [3] },
      // Per call: consumers fund UsageEscrow (`dsmp escrow deposit 4 1`), the providers claim what they served.
      { name: "metered", visibility: "public", pricing: { ...noPrice, perCall: parseEther("0.01") }, providers: [1, 2] },
    ] as const;
    for (const s of demo) {
      let id = await pub.readContract({ address: c.ServiceRegistry!.address, abi: abis.ServiceRegistry, functionName: "serviceIdByName", args: [owner.wallet!.account.address, s.name] });
      if (id === 0n) {
        ({ serviceId: id } = await publishService(owner, {
          service: { name: s.name, kind: "http", visibility: s.visibility, pricing: s.pricing, manifestHash: `0x${"00".repeat(32)}`, minReplicas: 1, maxReplicas: 4, minProviderStake: 0n, metadataURI: `devnet://${s.name}` },
        }));
        if (s.visibility === "private") await grantAccess(owner, { serviceId: id, consumer: allowed });
      }
      services.push({ id, name: s.name, visibility: s.visibility, providers: s.providers.filter((i) => i < p.count) });
    }
    progress(`services: ${services.map((s) => `${s.name}=#${s.id}`).join(", ")}`);


    // Nodes: key, stake, register, start.
    for (let i = 0; i < p.count; i++) {
      const preset = devnetPreset(i, { rootDir: p.rootDir });
      const config = resolveConfig({
        preset,
        env: { HOME: process.env.HOME },
        flags: {
          node: { dataDir: join(p.rootDir, `node-${i}`), keystorePath: join(p.rootDir, `node-${i}`, "node-key.json"), logLevel: "warn" },
          chain: { rpcUrl: p.rpcUrl, deploymentsFile: p.deploymentsFile, confirmations: 1 },
          p2p: {
            bootstrap: i === 0 ? [] : [nodes[p.bootstrapOf?.(i) ?? 0]!.status().multiaddrs.find((a) => a.includes("/tcp/") && !a.includes("/ws"))!],
            ...(p.ephemeralPorts ? { listen: ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"] } : {}),
          },
          ...(p.ephemeralPorts ? { api: { port: 0 }, gateway: { port: 0 } } : {}),
          ...(p.observabilityIntervalMs === undefined ? {} : { observability: { intervalMs: p.observabilityIntervalMs } }),
          ...(p.resourceProof === undefined ? {} : { resourceProof: p.resourceProof }),
        },
      });
      const { identity } = await loadOrCreateKeystore(config.node.keystorePath);
      const node = await pub.readContract({ address: c.XnodeRegistry!.address, abi: abis.XnodeRegistry, functionName: "getNode", args: [identity.address] });
      if (node.status !== 1) {
        const operator = await createDsmpChainClient({ rpcUrl: p.rpcUrl, deployment: p.deployment, account: devAccount(i + 1) });
        const bond = await pub.readContract({ address: c.XnodeRegistry!.address, abi: abis.XnodeRegistry, functionName: "minNodeStake" });
        const free = await pub.readContract({ address: c.Staking!.address, abi: abis.Staking, functionName: "freeStakeOf", args: [operator.wallet!.account.address] });
        // The node bond plus free stake that TaskManager locks as collateral while the node holds task seats.
        const want = bond + DEVNET_TASK_STAKE;
        if (free < want) {
          const balance = await pub.readContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "balanceOf", args: [operator.wallet!.account.address] });
          if (balance < want - free) {
            // The deployer (dev account 0) holds the OPEN supply on a fresh devnet.
            await send(wallet(0).writeContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [operator.wallet!.account.address, want - free - balance] }));
          }
          await stake(operator, { amount: want - free });
        }
        // The node's own key sends its task transactions (anchor, report, proofs): it needs gas.
        if ((await pub.getBalance({ address: identity.address })) < parseEther("1")) {
          await send(wallet(0).sendTransaction({ to: identity.address, value: parseEther("10") }));
        }
        await registerNode(operator, {
          node: identity,
          // The machine's own CPU count: what Proof of Resource then checks (docs/proof-of-resource.md).
          resources: { cpuMillicores: DEVNET_NODE_MILLICORES, memoryMiB: 8_192, storageGiB: 100, gpus: 0 },
          slots: 8,
          metadataURI: `devnet://node-${i}`,
        });
      }
      configs.push(config);
      served.push(services.filter((s) => s.providers.includes(i)).map((s) => ({ serviceId: s.id, backend: new URL(echoUrl) })));
      nodes.push(await startNode(i));
      progress(`node ${i}: ${identity.address} ${identity.peerId.toString()}`);
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  const restart = async (i: number): Promise<Xnode> => {
    const old = nodes[i]!;
    const listen = old.status().multiaddrs.map((a) => a.replace(/\/p2p\/[^/]+$/, ""));
    await old.stop();
    configs[i] = { ...configs[i]!, p2p: { ...configs[i]!.p2p, listen } };
    nodes[i] = await startNode(i);
    return nodes[i]!;
  };
  return { nodes, services, echoUrl, restart, stop: stopAll };
}

