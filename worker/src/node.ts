/**
 * The Xnode: composition root of the worker library (DESIGN §10, STYLE §2/§5). Builds the services in order —
 * identity → metrics → chain view → libp2p → discovery → mesh (provider + gateway) → control API — and stops
 * them in reverse, each step isolated so one failing teardown does not leak the rest. A process may run several
 * Xnodes (tests, benchmarks); only the CLI traps signals.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ConnectionGater, PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { bytesToHex, createPublicClient, formatUnits, getAddress, hexToBytes, http, isAddress, type Abi, type Address, type Hex, type LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { abis } from "@dsmp/contracts";
import { startApiServer, type ApiServer } from "./api/api-server.ts";
import { createStaticFileHandler } from "./api/static-files.ts";
import { createMetrics, type DsmpMetrics } from "./api/metrics.ts";
import { readDeploymentFile } from "./chain/deployment-file.ts";
import { ChainIndexer } from "./chain/indexer.ts";
import { DSMP_STATE_CONTRACTS, dsmpStateReducer, type DsmpState } from "./chain/dsmp-state.ts";
import type { DsmpConfig } from "./config.ts";
import { createServiceAnnouncer, type ServiceAnnouncer } from "./discovery/announcer.ts";
import { chainViewEligibility, nodeAddressOfPeerId } from "./discovery/provider-eligibility.ts";
import { createServiceResolver, type ServiceResolver } from "./discovery/resolver.ts";
import { ApiBadRequestError, ApiNotFoundError, ChainMismatchError, NodeIdentityMismatchError, NodeStartError, type MeshErrorCode } from "./errors.ts";
import { loadOrCreateKeystore } from "./identity/keystore.ts";
import { isValidPrivateKey, type NodeIdentity } from "./identity/node-identity.ts";
import { createLogger, type Logger } from "./log.ts";
import { createGateway, type Gateway } from "./mesh/gateway.ts";
import { exposeBreakerStates, meshMetricsHooks } from "./mesh/gateway-metrics.ts";
import { emptyServiceStats } from "./mesh/routing/routing-table.ts";
import { createHttpProvider, type HttpProvider } from "./mesh/provider-handler.ts";
import { localProviderDialer } from "./mesh/local-provider-dialer.ts";
import { isOpenService, verifyAccess } from "./mesh/access/access-policy.ts";
import { DEFAULT_REPLAY_CACHE_CAPACITY, ReplayCache } from "./mesh/access/replay-cache.ts";
import { ACCESS_HEADER, DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS, encodeAccessToken, signAccessToken, type AccessDomain } from "./mesh/access/request-token.ts";
import { MAX_USAGE_QUERY_LIMIT, UsageLedger } from "./mesh/access/usage-ledger.ts";
import { UsageSettler } from "./mesh/access/usage-settler.ts";
import { createDsmpLibp2p, libp2pInitFromConfig, type DsmpLibp2p } from "./p2p/libp2p-node.ts";
import { dsmpDhtSelectors, dsmpDhtValidators, unixSecondsNow } from "./p2p/service-record-dht.ts";
import { createDsmpChainClient, type DsmpChainClient } from "./chain/chain-client.ts";
import { createBlobService, type BlobService } from "./tasks/blob-protocol.ts";
import { createBlobStore, isBlobHash, type BlobStore } from "./tasks/blob-store.ts";
import { dialCommittee, peerIdFromRegistry } from "./tasks/committee-dial.ts";
import { createTaskRunner, taskQueuePrefix, type TaskRunner, type TaskRunnerInit } from "./tasks/task-runner.ts";
import { ObservabilityService, type ObservedNode } from "./observability/observability-service.ts";
import { DEFAULT_PROOF_MAX_AGE_MS } from "./observability/aggregate-observations.ts";
import { createResourceProofProtocol, DEFAULT_MIN_INTERVAL_PER_VERIFIER_MS } from "./resource-proof/resource-proof-protocol.ts";
import { ResourceProofService } from "./resource-proof/resource-proof-service.ts";
import { DEFAULT_TARGET_SECONDS, proverWorkBudget } from "./resource-proof/resource-proof-verdict.ts";

/** Providers whose parsed PeerId the gateway keeps (cleared when full: a cache, not a registry). */
const MAX_CACHED_PROVIDER_PEERS = 4096;

/** Provider-side mesh errors that are this node's failures (reported as errors to Open Observability). */
const SERVER_SIDE_FAILURES: ReadonlySet<MeshErrorCode | "peer-reset"> = new Set(["busy", "backend-unavailable", "backend-failed", "deadline-exceeded", "internal"]);

/** A service this node provides: the on-chain id and the backend that answers it. */
export interface ServedService {
  serviceId: bigint;
  backend: URL;
  version?: string;
  pricePerCall?: bigint;
}

/** An RPC URL fit for logs and errors: hosted endpoints carry API keys in their path, query or user info. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const hidden = u.pathname.length > 1 || u.search !== "" || u.username !== "";
    return `${u.protocol}//${u.host}${hidden ? "/…" : ""}`;
  } catch {
    return "(invalid URL)";
  }
}

export interface XnodeInit {
  config: DsmpConfig;
  serve?: ServedService[];
  /** Keystore passphrase; default: the environment variable named by `config.node.passphraseEnv`. */
  passphrase?: string;
  logger?: Logger;
  /** Chain view poll interval (ms). */
  chainPollMs?: number;
  /** DHT self-query interval at start (ms): small in tests and on the devnet. */
  dhtInitialQuerySelfIntervalMs?: number;
  /** Allow/deny rules for libp2p connections (tests shape topologies with it). Default: allow all. */
  connectionGater?: ConnectionGater;
  /**
   * The consumer whose key the gateway signs access tokens with for paid and private services
   * (docs/access.md). Default: the key in the environment variable `config.gateway.consumerKeyEnv` names,
   * else the node's own key. A client that sends its own `dsmp-access` header
   * (`dsmp call --key`) is forwarded as it is.
   */
  consumerAccount?: Pick<LocalAccount, "address" | "signTypedData">;
  /** Nonces the provider remembers at most. @default {@link DEFAULT_REPLAY_CACHE_CAPACITY} */
  replayCacheCapacity?: number;
  /** Serve the web UI (static files) from the control API, plus `GET /v1/web-config` for it. */
  web?: XnodeWebOptions;
  /**
   * Task execution (docs/tasks.md). On when this is given or the environment sets DSMP_REDIS_URL, and the
   * deployment has a TaskManager; otherwise the node logs "tasks disabled" and only serves blobs.
   */
  tasks?: Partial<Pick<TaskRunnerInit, "redisUrl" | "pollMs" | "transmitStaggerMs" | "keeperStaggerMs" | "sandbox" | "testOnlyAlterOutput" | "queuePrefix">>;
}

export interface XnodeWebOptions {
  /** Directory of the built UI (`web/dist`). */
  dir: string;
  /**
   * JSON-RPC URL the browser uses. @default config.chain.rpcUrl — set it when that URL carries an API key
   * or is not reachable from browsers (it is handed to every visitor).
   */
  publicRpcUrl?: string;
}

/** What `GET /v1/web-config` answers: everything the UI needs to talk to this chain (no build-time config). */
export interface WebConfig {
  chainId: number;
  rpcUrl: string;
  /** Contract name → address, from the node's deployments file. */
  contracts: Record<string, Address>;
  node: { address: Address; peerId: string };
}

export interface XnodeStatus {
  address: Address;
  peerId: string;
  multiaddrs: string[];
  peers: number;
  chain: { chainId: number; syncedBlock: string | null; registered: boolean; nodeStatus: string | null };
  serving: { serviceId: string; backend: string }[];
  /** The account the gateway signs access tokens as: the one that must subscribe or be allow-listed. */
  gatewayConsumer: Address;
  apiUrl: string;
  gatewayUrl: string;
  metricsUrl: string;
}

export interface Xnode {
  readonly identity: NodeIdentity;
  readonly p2p: DsmpLibp2p;
  readonly chainView: ChainIndexer<DsmpState>;
  readonly resolver: ServiceResolver;
  readonly announcer: ServiceAnnouncer;
  readonly metrics: DsmpMetrics;
  /** Calls this node served, for per-call settlement and usage statistics. */
  readonly usage: UsageLedger;
  /** Per-call settlement (claims from UsageEscrow); `undefined` when the deployment has no UsageEscrow. */
  readonly settlement: UsageSettler | undefined;
  /** Content-addressed blobs (task modules, inputs, outputs) this node holds and serves over /dsmp/blob/1.0.0. */
  readonly blobs: { store: BlobStore; service: BlobService };
  /** The task pipeline, when tasks are enabled. */
  readonly tasks: TaskRunner | undefined;
  /** Open Observability (probes, signed reports, the aggregated network view); `undefined` when disabled. */
  readonly observability: ObservabilityService | undefined;
  /** Proof of Resource (compute challenges of the other Xnodes); `undefined` when disabled. */
  readonly resourceProofs: ResourceProofService | undefined;
  readonly apiUrl: string;
  readonly gatewayUrl: string;
  status(): XnodeStatus;
  stop(): Promise<void>;
}

/**
 * The account whose key the environment variable `name` holds (`gateway.consumerKeyEnv`); `undefined` when no
 * name is configured.
 * @throws {NodeStartError} the variable is unset or holds no valid key.
 */
export function consumerAccountFromEnv(name: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): LocalAccount | undefined {
  if (name === undefined) return undefined;
  const text = env[name];
  if (text === undefined || text === "") {
    throw new NodeStartError(`gateway.consumerKeyEnv names ${name}, which is not set`, { details: `export ${name}=0x<64 hex digits> (the consumer's private key), or unset gateway.consumerKeyEnv to sign with the node key` });
  }
  if (!/^0x[0-9a-fA-F]{64}$/.test(text) || !isValidPrivateKey(hexToBytes(text as Hex))) {
    throw new NodeStartError(`${name} does not hold a private key (0x followed by 64 hex digits, below the curve order)`);
  }
  return privateKeyToAccount(text as Hex);
}

export async function startXnode(init: XnodeInit): Promise<Xnode> {
  const { config } = init;
  const log = init.logger ?? createLogger({ level: config.node.logLevel });
  const cleanups: { name: string; run: () => Promise<void> }[] = [];
  const stopAll = async () => {
    for (const step of cleanups.splice(0).reverse()) {
      try {
        await step.run();
      } catch (err) {
        log.warn({ err, step: step.name }, "error while stopping");
      }
    }
  };

  try {
    mkdirSync(config.node.dataDir, { recursive: true, mode: 0o700 });
    const passphrase = init.passphrase ?? process.env[config.node.passphraseEnv];
    const { identity, created } = await loadOrCreateKeystore(config.node.keystorePath, { passphrase });
    const nodeLog = log.child({ module: "node", node: identity.address });
    nodeLog.info({ peerId: identity.peerId.toString(), created }, "identity loaded");
    const metrics = createMetrics();

    // Chain view.
    const client = createPublicClient({ transport: http(config.chain.rpcUrl, { retryCount: 2 }) });
    let chainId: number;
    try {
      chainId = await client.getChainId();
    } catch (err) {
      throw new NodeStartError(`cannot reach the chain at ${config.chain.rpcUrl}`, {
        details: "is the chain running? start a local one with `npm run devnet`",
        cause: err,
      });
    }
    if (chainId !== config.chain.chainId) {
      throw new NodeStartError(`${redactUrl(config.chain.rpcUrl)} serves chain ${chainId}, the configuration expects ${config.chain.chainId}`, {
        details: "set chain.chainId (DSMP_CHAIN_CHAIN_ID) to the chain you mean, or point chain.rpcUrl at it",
      });
    }
    const deployment = await readDeploymentFile(config.chain.deploymentsFile);
    if (deployment.chainId !== chainId) {
      throw new ChainMismatchError({ deploymentChainId: deployment.chainId, rpcChainId: chainId, rpcUrl: redactUrl(config.chain.rpcUrl), source: config.chain.deploymentsFile });
    }
    const registry = deployment.contracts.ServiceRegistry!.address;
    const chainView = new ChainIndexer<DsmpState>({
      client,
      reducer: dsmpStateReducer,
      // A transaction in the head block has 1 confirmation: the indexer counts blocks behind the head.
      confirmations: config.chain.confirmations - 1,
      pollIntervalMs: init.chainPollMs ?? 1_000,
      journalFile: join(config.node.dataDir, `chain-view-${chainId}.json`),
      // Contracts a deployment predates (e.g. TaskManager) are simply not followed.
      contracts: DSMP_STATE_CONTRACTS.filter((name) => deployment.contracts[name] !== undefined).map((name) => ({
        name,
        address: deployment.contracts[name]!.address,
        abi: abis[name as keyof typeof abis] as Abi,
        fromBlock: BigInt(deployment.contracts[name]!.blockNumber),
      })),
      onError: (err) => nodeLog.warn({ err }, "chain view sync failed; retrying"),
    });
    chainView.on("synced", ({ block }) => metrics.chainSyncedBlock.set(Number(block)));
    chainView.on("reorg", (r) => {
      metrics.chainReorgs.inc();
      nodeLog.warn({ from: r.from.toString(), to: r.to.toString() }, "chain reorg repaired");
    });
    await chainView.sync(AbortSignal.timeout(60_000));
    chainView.start();
    cleanups.push({ name: "chain view", run: () => chainView.stop() });

    // One key, two worlds: if the registry knows this address, it must be with this PeerId.
    const registered = chainView.state.nodes.get(identity.address.toLowerCase() as Address);
    if (registered && registered.peerId !== bytesToHex(identity.peerIdBytes())) {
      throw new NodeIdentityMismatchError(identity.address, registered.peerId, bytesToHex(identity.peerIdBytes()));
    }

    // libp2p.
    const p2p = await createDsmpLibp2p({
      ...libp2pInitFromConfig(config),
      privateKey: identity.privateKey,
      log: log.child({ module: "p2p" }),
      ...(init.connectionGater === undefined ? {} : { connectionGater: init.connectionGater }),
      dht: {
        validators: dsmpDhtValidators({ clock: unixSecondsNow, chainId, registry }),
        selectors: dsmpDhtSelectors(),
        ...(init.dhtInitialQuerySelfIntervalMs === undefined ? {} : { initialQuerySelfIntervalMs: init.dhtInitialQuerySelfIntervalMs }),
      },
    });
    cleanups.push({ name: "libp2p", run: () => p2p.stop() });
    const libp2p = p2p.libp2p;
    const updatePeers = () => metrics.p2pPeers.set(libp2p.getPeers().length);
    libp2p.addEventListener("peer:connect", updatePeers);
    libp2p.addEventListener("peer:disconnect", updatePeers);

    // Discovery.
    const resolver = createServiceResolver({ chainId, registry, eligibility: chainViewEligibility(chainView), logger: log.child({ module: "resolver" }) })({
      dht: libp2p.services.dht,
      peerId: libp2p.peerId,
    });
    cleanups.push({ name: "resolver", run: () => resolver.stop() });

    // Access: tokens for paid and private services, checked against the chain view (docs/access.md).
    const accessDomain: AccessDomain = { chainId, registry };
    const replay = new ReplayCache(init.replayCacheCapacity ?? DEFAULT_REPLAY_CACHE_CAPACITY);
    const consumer = init.consumerAccount ?? consumerAccountFromEnv(config.gateway.consumerKeyEnv) ?? identity.account;
    // Subscriptions end at a block timestamp: judge them at the later of the wall clock and the chain's clock.
    let chainTime = 0n;
    let chainTimeBlock: bigint | undefined;
    chainView.on("synced", ({ block }) => {
      if (block === chainTimeBlock) return;
      chainTimeBlock = block;
      client
        .getBlock({ blockNumber: block })
        .then((b) => void (b.timestamp > chainTime && (chainTime = b.timestamp)))
        .catch((err: unknown) => nodeLog.debug({ err }, "reading the block timestamp failed"));
    });
    const usage = await UsageLedger.open(join(config.node.dataDir, `usage-${chainId}.jsonl`), { logger: log });
    cleanups.push({ name: "usage ledger", run: () => usage.close() });
    // The node key's chain client: it signs usage claims and task transactions, made once, on first need.
    let nodeChainClient: Promise<DsmpChainClient> | undefined;
    const nodeChainOf = () => (nodeChainClient ??= createDsmpChainClient({ rpcUrl: config.chain.rpcUrl, deployment, account: identity.account }));
    // Per-call settlement: claims served calls from UsageEscrow with the node key (docs/access.md "Settlement").
    let settler: UsageSettler | undefined;
    if (deployment.contracts["UsageEscrow"] !== undefined) {
      const nodeChain = await nodeChainOf();
      settler = new UsageSettler({
        ledger: usage,
        chain: nodeChain,
        state: () => chainView.state,
        chainNow: () => Math.max(unixSecondsNow(), Number(chainTime)),
        stateFile: join(config.node.dataDir, `usage-claims-${chainId}.json`),
        maxDelayMs: config.usage.claimMaxDelayMs,
        auto: config.usage.autoClaim,
        logger: log,
        metrics: {
          callResult: (result, n) => metrics.usageClaimCalls.inc({ result }, n),
          claimSent: (outcome, trigger) => metrics.usageClaims.inc({ outcome, trigger }),
          claimedTokens: (gross) => metrics.usageClaimedTokens.inc(Number(formatUnits(gross, nodeChain.token.decimals))),
          unclaimed: (n) => metrics.usageUnclaimed.set(n),
        },
      });
      await settler.start();
      const started = settler;
      cleanups.push({ name: "usage settler", run: () => started.stop() });
    }

    // The active, bonded Xnodes of the chain view: Open Observability's reporters and probe targets, Proof of
    // Resource's verifiers and provers. Parsing a secp256k1 PeerId costs ~1 ms and checksumming an address a
    // keccak: once per registered node.
    const observedIdentity = new Map<Hex, Pick<ObservedNode, "address" | "peerId">>();
    const activeNodes = (): Array<ObservedNode & { cpuMillicores: number }> => {
      const active: Array<ObservedNode & { cpuMillicores: number }> = [];
      for (const n of chainView.state.nodes.values()) {
        if (n.status !== "active" || n.bond === 0n) continue;
        let known = observedIdentity.get(n.peerId);
        if (known === undefined) {
          try {
            known = { address: getAddress(n.node), peerId: peerIdFromRegistry(n.peerId) };
          } catch {
            continue; // the registry checks the PeerId matches the key; never here in practice
          }
          observedIdentity.set(n.peerId, known);
        }
        active.push({ ...known, weight: n.bond, cpuMillicores: n.resources.cpuMillicores });
      }
      return active;
    };

    // Proof of Resource: answer the other Xnodes' compute challenges, and challenge one of them per interval.
    const resourceProofSizing = {
      matrixSize: config.resourceProof.matrixSize,
      minWorkPerCoreSecond: config.resourceProof.minWorkPerCoreSecond,
      targetSeconds: DEFAULT_TARGET_SECONDS,
      allowanceMs: config.resourceProof.allowanceMs,
    };
    let resourceProofs: ResourceProofService | undefined;
    if (config.resourceProof.enabled) {
      const protocol = createResourceProofProtocol({
        // Only active, bonded Xnodes may make this node compute (each challenge costs it CPU).
        isEligibleVerifier: (peer) => {
          const id = peer.toString();
          return activeNodes().some((n) => n.peerId.toString() === id);
        },
        minIntervalPerVerifierMs: Math.min(DEFAULT_MIN_INTERVAL_PER_VERIFIER_MS, config.resourceProof.intervalMs),
        // No verifier may ask for more than 4× what the default sizing asks of the CPU this node advertises.
        maxWork: () => proverWorkBudget(chainView.state.nodes.get(identity.address.toLowerCase() as Address)?.resources.cpuMillicores ?? 1_000),
      })({ libp2p, logger: log });
      await protocol.start();
      cleanups.push({ name: "resource-proof protocol", run: () => protocol.stop() });
      metrics.addResourceProverSource(() => protocol.stats);
      resourceProofs = new ResourceProofService({
        protocol,
        self: getAddress(identity.address),
        nodes: activeNodes,
        sizing: resourceProofSizing,
        intervalMs: config.resourceProof.intervalMs,
        logger: log.child({ module: "resource-proof" }),
        metrics: { verdict: (reason) => metrics.resourceProofVerdicts.inc({ outcome: reason }) },
      });
      metrics.addResourceProofSource(() => resourceProofs!.view());
    }

    // A verdict counts for two rounds of every checker's rotation (each challenges one node per interval), at
    // least 15 minutes: long enough for a quorum of checkers to have a fresh one.
    const proofMaxAgeMs = (): number => Math.max(DEFAULT_PROOF_MAX_AGE_MS, 2 * activeNodes().length * config.resourceProof.intervalMs);

    // Open Observability: probes of the other Xnodes and the calls served here, reported on gossipsub.
    const observability = config.observability.enabled
      ? new ObservabilityService({
          domain: { chainId, registry: deployment.contracts.XnodeRegistry!.address },
          account: identity.account,
          pubsub: libp2p.services.pubsub,
          // Timed here: libp2p's ping answers whole milliseconds, and loopback round trips are a fraction of one.
          ping: async (peer, options) => {
            if (libp2p.getConnections(peer).length === 0) await libp2p.dial(peer, options);
            const started = performance.now();
            await libp2p.services.ping.ping(peer, options);
            return performance.now() - started;
          },
          nodes: activeNodes,
          // This node's Proof of Resource verdicts travel in its reports; the view weighs everyone's by stake.
          proofs: resourceProofs === undefined ? undefined : () => resourceProofs!.reportable(proofMaxAgeMs()),
          proofMaxAgeMs,
          advertisedOf: (address) => chainView.state.nodes.get(address.toLowerCase() as Address)?.resources.cpuMillicores,
          services: () => {
            const active = new Set<string>();
            for (const [id, service] of chainView.state.services) if (service.status === "active") active.add(id.toString());
            return active;
          },
          intervalMs: config.observability.intervalMs,
          probesPerInterval: config.observability.probesPerInterval,
          minReporters: config.observability.minReporters,
          logger: log.child({ module: "observability" }),
          metrics: {
            received: (outcome) => metrics.observabilityReports.inc({ outcome }),
            published: (outcome) => metrics.observabilityPublished.inc({ outcome }),
            probed: (ok) => metrics.observabilityProbes.inc({ outcome: ok ? "ok" : "failed" }),
            fault: (event) => metrics.observabilityFaults.inc({ kind: event.kind }),
          },
        })
      : undefined;

    // Mesh: inbound provider, outbound gateway.
    const serve = init.serve ?? [];
    // Label by service only for services this node serves: peers may name any id (bounded label values).
    const servedIds = new Set(serve.map((s) => s.serviceId.toString()));
    const serviceLabel = (id: string | undefined) => (id !== undefined && servedIds.has(id) ? id : "other");
    const provider: HttpProvider = createHttpProvider({
      backends: new Map(serve.map((s) => [s.serviceId, s.backend])),
      metrics: {
        requestStarted: () => metrics.p2pStreamsOpened.inc({ protocol: "/dsmp/http/1.0.0", direction: "inbound" }),
        requestFinished: (e) => {
          const service = serviceLabel(e.serviceId);
          const outcome = "status" in e.outcome ? `${Math.floor(e.outcome.status / 100)}xx` : e.outcome.error;
          metrics.providerRequests.inc({ service, outcome });
          metrics.providerSeconds.observe({ service }, e.durationSeconds);
          if (observability !== undefined && service !== "other") {
            const failed = "status" in e.outcome ? e.outcome.status >= 500 : SERVER_SIDE_FAILURES.has(e.outcome.error);
            // A caller that gave up or was refused (4xx) is not a call this node failed.
            if ("status" in e.outcome || failed) observability.served(service, failed, e.durationSeconds * 1000);
          }
        },
      },
      authorize: async ({ serviceId, head }) => {
        // Every dsmp-access value: more than one is token-malformed (protocol.md §8.2).
        const values = head.headers.filter(([name]) => name === ACCESS_HEADER).map(([, value]) => value);
        const header = values.length === 0 ? undefined : values.length === 1 ? values[0]! : values;
        const now = unixSecondsNow();
        const decision = await verifyAccess(
          { serviceId, header },
          {
            domain: accessDomain,
            provider: identity.address,
            state: chainView.state,
            now,
            chainNow: chainTime > BigInt(now) ? chainTime : BigInt(now),
            replay,
            escrow: settler === undefined ? undefined : { unclaimed: (id, who) => settler!.unclaimed(id, who) },
          },
        );
        if (!decision.allow) {
          metrics.accessDenied.inc({ reason: decision.reason });
          const code = decision.status === 401 ? "unauthorized" : decision.status === 403 ? "forbidden" : "busy";
          return { allow: false, code, message: `${decision.reason}: ${decision.message}` };
        }
        const token = decision.token;
        // Counted from now, so concurrent calls of one consumer cannot each pass the escrow check for one call.
        if (token !== undefined) settler?.reserve(serviceId, token.consumer);
        return {
          allow: true,
          onUnserved: () => {
            if (token !== undefined) settler?.release(serviceId, token.consumer);
          },
          onServed: (call) => {
            metrics.usageCalls.inc({ service: serviceLabel(serviceId.toString()) });
            usage.append({
              serviceId: serviceId.toString(),
              consumer: token?.consumer ?? null,
              provider: identity.address,
              time: Date.now(),
              status: call.status,
              requestBytes: call.requestBytes,
              responseBytes: call.responseBytes,
              durationMs: Math.round(call.durationMs * 1000) / 1000,
              nonce: token?.nonce ?? null,
              expiry: token?.expiry ?? null,
              signature: token?.signature ?? null,
            });
          },
        };
      },
    })({
      libp2p,
      logger: log, // the provider names its module itself (mesh-provider)
    });
    await provider.start();
    cleanups.push({ name: "provider", run: () => provider.stop() });
    // Created after the provider so it stops before it: withdraw our records while we still answer.
    const announcer = createServiceAnnouncer({ chainId, registry, logger: log /* it names its module itself */ })({
      dht: libp2p.services.dht,
      identity,
      getMultiaddrs: () => libp2p.getMultiaddrs(),
    });
    cleanups.push({ name: "announcer", run: () => announcer.stop({ signal: AbortSignal.timeout(10_000) }) });
    // Every gateway call resolves its service's providers (from the resolver's cache, mostly). Parsing a
    // secp256k1 PeerId costs ~0.2–1.4 ms and a peer-store merge is a datastore write: both once per provider and
    // address set, not per call. (A dial to a provider whose addresses the peer store dropped looks it up in
    // the DHT.)
    const providerPeers = new Map<string, { peerId: PeerId; addresses: string }>();
    const providerPeer = async (text: string, addresses: readonly string[]): Promise<PeerId> => {
      const joined = addresses.join(" ");
      let known = providerPeers.get(text);
      if (known === undefined) {
        if (providerPeers.size >= MAX_CACHED_PROVIDER_PEERS) providerPeers.clear();
        known = { peerId: peerIdFromString(text), addresses: "" };
        providerPeers.set(text, known);
      }
      if (known.addresses !== joined) {
        await libp2p.peerStore.merge(known.peerId, { multiaddrs: addresses.map((a) => multiaddr(a)) });
        known.addresses = joined;
      }
      return known.peerId;
    };
    const gateway: Gateway = createGateway({
      host: config.gateway.host,
      port: config.gateway.port,
      // Public free services (per this node's chain view) go without a token; anything else, including a
      // service the view does not know yet, gets one signed by the consumer key for the chosen provider
      // (v 2: good at that provider only, and the evidence per-call settlement pays it for).
      signAccess: async (serviceId, peer, _signal, proof) => {
        const service = chainView.state.services.get(serviceId);
        if (service !== undefined && service.status === "active" && isOpenService(service)) return undefined;
        const token = await signAccessToken({
          account: consumer,
          domain: accessDomain,
          serviceId,
          provider: nodeAddressOfPeerId(peer.toMultihash().bytes),
          expiry: unixSecondsNow() + DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS,
          proof,
        });
        return encodeAccessToken(token);
      },
    })({
      // Calls to services this node provides itself go to its own provider in memory (libp2p cannot dial self).
      libp2p: localProviderDialer(libp2p, libp2p.peerId, provider),
      logger: log, // the gateway names its module itself
      resolveProviders: async (serviceId, signal) => {
        const started = performance.now();
        try {
          const result = await resolver.resolveProviders(serviceId, signal);
          metrics.dhtLookups.inc({ outcome: result.source === "cache" ? "cached" : result.providers.length ? "found" : "empty" });
          if (result.source === "network") {
            metrics.dhtLookupSeconds.observe((performance.now() - started) / 1000);
            metrics.dhtLookupHops.observe(result.stats.providerQuery.hops);
          }
          const peers = [];
          for (const p of result.providers) peers.push({ peerId: await providerPeer(p.peerId, p.multiaddrs), load: p.load });
          // Open Observability: providers the network sees down get no traffic while another one remains that
          // this gateway's own breakers have not opened (the view may be wrong; then the breakers decide).
          const down = observability?.downPeers();
          if (down === undefined || down.size === 0) return peers;
          const up = peers.filter((p) => !down.has(p.peerId.toString()));
          if (up.length === 0 || up.length === peers.length) return peers;
          const service = serviceId.toString();
          const open = new Set(gateway.breakerStates().flatMap((b) => (b.serviceId === service && b.state === "open" ? [b.provider] : [])));
          if (up.every((p) => open.has(p.peerId.toString()))) return peers;
          metrics.gatewayProvidersSkipped.inc({ reason: "observed-down" }, peers.length - up.length);
          return up;
        } catch (err) {
          metrics.dhtLookups.inc({ outcome: "error" });
          throw err;
        }
      },
      metrics: {
        requestFinished: (e) => {
          const service = e.serviceId ?? "none";
          metrics.gatewayRequests.inc({ service, status_class: `${Math.floor(e.status / 100)}xx` });
          metrics.gatewaySeconds.observe({ service }, e.durationSeconds);
          if (e.attempts > 0) metrics.p2pStreamsOpened.inc({ protocol: "/dsmp/http/1.0.0", direction: "outbound" }, e.attempts);
          if (e.status >= 500) metrics.gatewayErrors.inc({ service, reason: String(e.status) });
        },
        ...meshMetricsHooks(metrics),
      },
    });
    exposeBreakerStates(metrics, gateway);
    await gateway.start();
    cleanups.push({ name: "gateway", run: () => gateway.stop() });
    if (resourceProofs !== undefined) {
      resourceProofs.start();
      const started = resourceProofs;
      cleanups.push({ name: "resource proofs", run: () => started.stop() });
    }
    if (observability !== undefined) {
      observability.start();
      metrics.addObservationSource(() => observability.view());
      cleanups.push({ name: "observability", run: () => observability.stop() });
    }
    const gw = gateway.address();
    const gatewayUrl = `http://${gw.host}:${gw.port}`;

    // Announce what we serve (after the provider is listening).
    for (const s of serve) {
      announcer
        .announce({ serviceId: s.serviceId, version: s.version ?? "1", pricePerCall: s.pricePerCall ?? 0n })
        .then((r) => nodeLog.info({ serviceId: s.serviceId.toString(), storedOn: r.storedOn, providedTo: r.providedTo }, "service announced"))
        .catch((err) => nodeLog.warn({ err, serviceId: s.serviceId.toString() }, "announce failed; the announcer retries"));
    }

    // Blobs and tasks.
    const blobStore = createBlobStore({ dir: join(config.node.dataDir, "blobs") });
    const blobService = createBlobService({ store: blobStore })({ libp2p, logger: log });
    await blobService.start();
    cleanups.push({ name: "blob service", run: () => blobService.stop() });
    const taskRedisUrl = init.tasks?.redisUrl ?? process.env["DSMP_REDIS_URL"];
    const taskManager = deployment.contracts["TaskManager"];
    let tasks: TaskRunner | undefined;
    if (taskRedisUrl === undefined || taskManager === undefined) {
      nodeLog.info({ reason: taskRedisUrl === undefined ? "no Redis URL (set DSMP_REDIS_URL)" : "no TaskManager in the deployment" }, "tasks disabled");
    } else {
      const taskChain = await nodeChainOf();
      const fromBlock = BigInt(taskManager.blockNumber);
      tasks = createTaskRunner({
        keeperStaggerMs: config.tasks.keeperStaggerMs,
        ...init.tasks,
        redisUrl: taskRedisUrl,
        queuePrefix: init.tasks?.queuePrefix ?? (await taskQueuePrefix(taskChain, taskManager.address, fromBlock, identity.address)),
        chain: taskChain,
        taskManager: taskManager.address,
        fromBlock,
      })({
        account: identity.account,
        pubsub: libp2p.services.pubsub,
        blobs: blobService,
        store: blobStore,
        peers: () => libp2p.getPeers(),
        connectCommittee: (members, signal) => {
          dialCommittee(libp2p, members, (m) => chainView.state.nodes.get(m.toLowerCase() as Address)?.peerId, signal, nodeLog);
        },
        logger: log,
        metrics,
      });
      await tasks.start();
      const runner = tasks;
      cleanups.push({ name: "tasks", run: () => runner.stop() });
      nodeLog.info({ taskManager: taskManager.address }, "tasks enabled");
    }

    let api: ApiServer | undefined;
    const status = (): XnodeStatus => {
      const view = chainView.state.nodes.get(identity.address.toLowerCase() as Address);
      return {
        address: identity.address,
        peerId: identity.peerId.toString(),
        multiaddrs: libp2p.getMultiaddrs().map((a) => a.toString()),
        peers: libp2p.getPeers().length,
        chain: {
          chainId,
          syncedBlock: chainView.syncedBlock?.toString() ?? null,
          registered: view !== undefined,
          nodeStatus: view?.status ?? null,
        },
        serving: serve.map((s) => ({ serviceId: s.serviceId.toString(), backend: s.backend.toString() })),
        gatewayConsumer: consumer.address,
        apiUrl: api?.url ?? "",
        gatewayUrl,
        metricsUrl: api ? `${api.url}/metrics` : "",
      };
    };
    api = await startApiServer({
      host: config.api.host,
      port: config.api.port,
      allowedHosts: config.api.allowedHosts,
      registry: metrics.registry,
      logger: log,
      checks: [
        { name: "chain", check: async () => ({ ok: chainView.syncedBlock !== undefined, detail: `synced to ${chainView.syncedBlock ?? "nothing"}` }) },
        { name: "p2p", check: async () => ({ ok: libp2p.status === "started", detail: `${libp2p.getPeers().length} peers` }) },
      ],
      routes: [
        { method: "GET", pattern: "/v1/status", handler: async () => status() },
        {
          // Hand a blob (task module or input) to this node, which then serves it to task committees.
          method: "POST",
          pattern: "/v1/blobs",
          handler: async (req) => {
            const body = req.body as { base64?: unknown } | undefined;
            if (typeof body?.base64 !== "string") throw new ApiBadRequestError('body must be {"base64": "<bytes>"}');
            return { hash: await blobStore.put(Buffer.from(body.base64, "base64")) };
          },
        },
        {
          method: "GET",
          pattern: "/v1/blobs/:hash",
          handler: async (req) => {
            const hash = req.params.hash!.toLowerCase();
            if (!isBlobHash(hash)) throw new ApiBadRequestError(`not a sha256 hash: "${req.params.hash}"`);
            const blob = await blobStore.get(hash);
            if (blob === undefined) throw new ApiNotFoundError(`no blob ${hash} on this node`);
            return { hash, base64: Buffer.from(blob).toString("base64") };
          },
        },
        {
          method: "GET",
          pattern: "/v1/tasks",
          handler: async () => ({
            enabled: tasks !== undefined,
            queue: tasks === undefined ? null : await tasks.queue.counts(),
            jobs: tasks === undefined ? [] : [...tasks.outcomes].map(([taskId, outcome]) => ({ taskId, ...outcome })),
            rounds: tasks === undefined ? [] : [...tasks.rounds].map(([taskId, r]) => ({ taskId, ...r.summary() })),
          }),
        },
        {
          // The network as this node sees it (docs/observability.md): Xnodes up/down, uptime, services, fault log.
          method: "GET",
          pattern: "/v1/observability",
          handler: async () => {
            if (observability === undefined) throw new ApiNotFoundError("Open Observability is disabled on this node (observability.enabled / DSMP_OBSERVABILITY_ENABLED)");
            return observability.view();
          },
        },
        {
          // Proof of Resource as this node has checked it (docs/proof-of-resource.md): per Xnode, advertised
          // vs proven CPU, the latest verdict, and the failure log.
          method: "GET",
          pattern: "/v1/resource-proofs",
          handler: async () => {
            if (resourceProofs === undefined) throw new ApiNotFoundError("Proof of Resource is disabled on this node (resourceProof.enabled / DSMP_RESOURCE_PROOF_ENABLED)");
            return resourceProofs.view();
          },
        },
        {
          // Challenge one Xnode now (`dsmp network prove`): answers with the plan, the verdict or the refusal.
          method: "POST",
          pattern: "/v1/resource-proofs/:node/challenge",
          handler: async (req) => {
            if (resourceProofs === undefined) throw new ApiNotFoundError("Proof of Resource is disabled on this node (resourceProof.enabled / DSMP_RESOURCE_PROOF_ENABLED)");
            if (!isAddress(req.params.node!)) throw new ApiBadRequestError(`node must be an Xnode address (0x + 40 hex digits), got "${req.params.node}"`);
            const wanted = getAddress(req.params.node!);
            if (wanted === getAddress(identity.address)) throw new ApiBadRequestError("a node does not challenge itself; ask another node's API");
            const target = activeNodes().find((n) => n.address === wanted);
            if (target === undefined) throw new ApiNotFoundError(`${wanted} is not an active, bonded Xnode in this node's chain view`);
            return resourceProofs.challenge(target);
          },
        },
        {
          method: "GET",
          pattern: "/v1/services/:id/stats",
          handler: async (req) => {
            if (!/^[1-9][0-9]{0,77}$/.test(req.params.id!)) throw new ApiBadRequestError(`service id must be a positive integer, got "${req.params.id}"`);
            return gateway.stats(req.params.id!) ?? emptyServiceStats(req.params.id!);
          },
        },
        {
          method: "GET",
          pattern: "/v1/usage",
          handler: async (req) => {
            const serviceId = req.query.get("serviceId") ?? undefined;
            const consumerFilter = req.query.get("consumer") ?? undefined;
            const limitText = req.query.get("limit") ?? undefined;
            if (serviceId !== undefined && !/^(0|[1-9][0-9]{0,77})$/.test(serviceId)) throw new ApiBadRequestError(`serviceId must be a decimal integer, got "${serviceId}"`);
            if (consumerFilter !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(consumerFilter)) throw new ApiBadRequestError(`consumer must be an address, got "${consumerFilter}"`);
            if (limitText !== undefined && (!/^[0-9]{1,5}$/.test(limitText) || Number(limitText) > MAX_USAGE_QUERY_LIMIT)) {
              throw new ApiBadRequestError(`limit must be an integer from 0 to ${MAX_USAGE_QUERY_LIMIT}, got "${limitText}"`);
            }
            const result = await usage.query({ serviceId, consumer: consumerFilter as Address | undefined, limit: limitText === undefined ? undefined : Number(limitText) });
            const summary = Object.fromEntries(usage.summary());
            return { chainId, registry, ...result, summary: serviceId === undefined ? summary : { [serviceId]: summary[serviceId] ?? { calls: 0, requestBytes: 0, responseBytes: 0 } } };
          },
        },
        {
          method: "GET",
          pattern: "/v1/usage/claims",
          handler: async () => ({ enabled: settler !== undefined, autoClaim: config.usage.autoClaim, ...(settler?.status() ?? { pending: 0, held: 0, ledgerOffset: 0 }) }),
        },
        {
          // Claim every claimable served call now (`dsmp usage claim`).
          method: "POST",
          pattern: "/v1/usage/claims",
          handler: async () => {
            if (settler === undefined) throw new ApiNotFoundError("this deployment has no UsageEscrow: per-call settlement is off");
            return settler.claimNow();
          },
        },
        {
          method: "GET",
          pattern: "/v1/services/:id/providers",
          handler: async (req) => {
            if (!/^[1-9][0-9]{0,77}$/.test(req.params.id!)) throw new ApiBadRequestError(`service id must be a positive integer, got "${req.params.id}"`);
            const result = await resolver.resolveProviders(BigInt(req.params.id!), AbortSignal.timeout(20_000));
            return { ...result, providers: result.providers.map(({ record: _record, ...p }) => p) };
          },
        },
        ...(init.web === undefined
          ? []
          : [
              {
                method: "GET" as const,
                pattern: "/v1/web-config",
                handler: async (): Promise<WebConfig> => ({
                  chainId,
                  rpcUrl: init.web!.publicRpcUrl ?? config.chain.rpcUrl,
                  contracts: Object.fromEntries(Object.entries(deployment.contracts).map(([name, c]) => [name, c.address])),
                  node: { address: identity.address, peerId: identity.peerId.toString() },
                }),
              },
            ]),
      ],
      ...(init.web === undefined ? {} : { fallback: createStaticFileHandler({ root: init.web.dir }) }),
    });
    cleanups.push({ name: "api", run: () => api!.close() });
    nodeLog.info({ api: api.url, gateway: gatewayUrl }, "xnode started");

    let stopping: Promise<void> | undefined;
    return {
      identity,
      p2p,
      chainView,
      resolver,
      announcer,
      metrics,
      usage,
      settlement: settler,
      blobs: { store: blobStore, service: blobService },
      tasks,
      observability,
      resourceProofs,
      apiUrl: api.url,
      gatewayUrl,
      status,
      stop: () => (stopping ??= stopAll().then(() => nodeLog.info("xnode stopped"))),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
