/**
 * Node configuration: one options type per subsystem, defaults as named constants (with the reason for
 * each value), merged in layers `defaults < preset < file < env < flags` and validated once with zod.
 *
 * Environment variables are listed in {@link CONFIG_ENV_VARS}: `DSMP_<SECTION>_<FIELD>`; lists are
 * comma-separated (an empty value clears the list), booleans are `true|false|1|0`, and an empty scalar
 * counts as unset.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { multiaddr } from "@multiformats/multiaddr";
import { z } from "zod";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { DEFAULT_LOG_LEVEL, LOG_LEVELS, type LogLevel } from "./log.ts";
import { MAX_MATRIX_SIZE, MIN_MATRIX_SIZE } from "./resource-proof/matrix-challenge.ts";
import { DEFAULT_ALLOWANCE_MS, DEFAULT_MATRIX_SIZE, DEFAULT_MIN_WORK_PER_CORE_SECOND } from "./resource-proof/resource-proof-verdict.ts";

// ---------------------------------------------------------------------------------------------------------
// Defaults

/** Directory under `$HOME` for node state; the current directory's `.dsmp` when `HOME` is unset. */
export const DEFAULT_DATA_DIR_NAME = ".dsmp";
/** File name of the keystore inside the data directory, when `node.keystorePath` is not set. */
export const KEYSTORE_FILE_NAME = "node-key.json";
/**
 * Name of the environment variable holding the keystore passphrase. The passphrase itself is never a
 * config value: config files get copied and pasted, environment variables of a service manager less so.
 */
export const DEFAULT_PASSPHRASE_ENV = "DSMP_KEYSTORE_PASSPHRASE";
/**
 * Ports come in a block: p2p TCP, p2p WebSocket, control API, gateway. 4660–4663 is clear of IPFS
 * (4001/5001/8080) and Ethereum (8545/30303), so a DSMP node runs beside both on one machine.
 * QUIC listens on UDP {@link DEFAULT_P2P_QUIC_PORT}: the TCP and UDP port spaces are separate, so it
 * shares the TCP port's number and one firewall rule pair (tcp+udp 4660) opens both.
 */
export const DEFAULT_P2P_TCP_PORT = 4660;
export const DEFAULT_P2P_QUIC_PORT = DEFAULT_P2P_TCP_PORT;
export const DEFAULT_P2P_WS_PORT = 4661;
export const DEFAULT_API_PORT = 4662;
export const DEFAULT_GATEWAY_PORT = 4663;
/** Devnet node `i` uses each default port + `i × 10`: up to 100 nodes on one host, blocks never overlap. */
export const DEVNET_PORT_STRIDE = 10;
export const DEVNET_MAX_NODES = 100;
/**
 * `wan`: the public-internet DHT, which keeps only publicly routable addresses in its routing table.
 * `lan` keeps private and loopback addresses too — required for a devnet on 127.0.0.1, harmful on the
 * internet (peers would be told to dial each other's private addresses).
 */
export const DEFAULT_DHT_MODE: DhtMode = "wan";
/**
 * Prefix of every DSMP libp2p protocol (`/dsmp/kad/1.0.0`, …). A separate prefix keeps our DHT apart
 * from IPFS's (`/ipfs/kad/1.0.0`): its peers do not know our record validators and would drop our records.
 */
export const DEFAULT_PROTOCOL_PREFIX = "/dsmp";
/** A local Hardhat node (`npm run devnet`); real deployments set `chain.rpcUrl` and `chain.chainId`. */
export const DEFAULT_RPC_URL = "http://127.0.0.1:8545";
export const DEFAULT_CHAIN_ID = 31337;
/**
 * Blocks a transaction must be buried under before the node acts on it (viem's `confirmations`; 1 = the
 * including block). Right for instant-finality and local chains; raise it on chains that reorganise,
 * at the cost of reacting that many blocks later.
 */
export const DEFAULT_CONFIRMATIONS = 1;
export const MAX_CONFIRMATIONS = 256;
/**
 * The control API and the gateway listen on loopback only: the API drives a node that holds a staked key,
 * and the gateway signs requests for the local consumer. Exposing either is an explicit choice.
 */
export const DEFAULT_API_HOST = "127.0.0.1";
export const DEFAULT_GATEWAY_HOST = "127.0.0.1";
/**
 * Host names the control API answers besides loopback and its bind host (api-server.ts rejects any other
 * `Host` header: a web page whose DNS name was rebound to 127.0.0.1 must not drive the node). Empty: an
 * API bound to 0.0.0.0 and reached by name or by a LAN address needs those names listed here.
 */
export const DEFAULT_API_ALLOWED_HOSTS: readonly string[] = [];
/** The Redis every node-svc machine runs; each Xnode should have its own (queues are node-local). */
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
/** Metrics are cheap (counters and a few histograms) and the observability protocol relies on them. */
export const DEFAULT_METRICS_ENABLED = true;
/**
 * Stagger between the task committee members that move a stalled task on (ms; docs/tasks.md "Who reallocates").
 * More than a block time plus propagation: 15 s covers Ethereum's 12 s blocks.
 */
export const DEFAULT_TASK_KEEPER_STAGGER_MS = 15_000;
/** Providers claim per-call payment automatically (docs/access.md "Settlement"). */
export const DEFAULT_USAGE_AUTO_CLAIM = true;
/**
 * Longest a served per-call call waits before its claim (ms): one transaction then pays for every call of the
 * service served meanwhile. Withdrawal requests and calls near their claim window are claimed sooner.
 */
export const DEFAULT_USAGE_CLAIM_MAX_DELAY_MS = 10 * 60_000;

/** Open Observability (docs/observability.md): one signed report per node every 5 s. */
export const DEFAULT_OBSERVABILITY_INTERVAL_MS = 5_000;
export const DEFAULT_OBSERVABILITY_PROBES_PER_INTERVAL = 16;
/** One reporter suffices on a small network; raise it where many nodes probe each other. */
export const DEFAULT_OBSERVABILITY_MIN_REPORTERS = 1;

/** Proof of Resource (docs/proof-of-resource.md): this node challenges one other Xnode a minute. */
export const DEFAULT_RESOURCE_PROOF_INTERVAL_MS = 60_000;

// ---------------------------------------------------------------------------------------------------------
// Options types (resolved: every field present)

export type DhtMode = "lan" | "wan";

export interface NodeOptions {
  /** Node state (keystore, caches). @default `$HOME/.dsmp` */
  dataDir: string;
  /** @default `<dataDir>/node-key.json` */
  keystorePath: string;
  /** Environment variable holding the keystore passphrase. @default {@link DEFAULT_PASSPHRASE_ENV} */
  passphraseEnv: string;
  /** @default DEFAULT_LOG_LEVEL (`info`, log.ts) */
  logLevel: LogLevel;
}

export interface P2pOptions {
  /** Multiaddrs to listen on. @default TCP 4660, QUIC on UDP 4660 and WebSocket 4661 on all interfaces */
  listen: string[];
  /** Multiaddrs to announce instead of the listen addresses (behind NAT / port mapping). @default [] */
  announce: string[];
  /** Peers to join through, each with `/p2p/<peerId>`. @default [] (no public DSMP network exists yet) */
  bootstrap: string[];
  /** @default {@link DEFAULT_DHT_MODE} */
  dhtMode: DhtMode;
  /** @default {@link DEFAULT_PROTOCOL_PREFIX} */
  protocolPrefix: string;
}

export interface ChainOptions {
  /** @default {@link DEFAULT_RPC_URL} */
  rpcUrl: string;
  /** @default {@link DEFAULT_CHAIN_ID} */
  chainId: number;
  /** Contract addresses, written by `scripts/deploy.ts`. @default `deployments/<chainId>.json` */
  deploymentsFile: string;
  /** @default {@link DEFAULT_CONFIRMATIONS} */
  confirmations: number;
}

export interface ApiOptions {
  /** @default {@link DEFAULT_API_HOST} */
  host: string;
  /** 0 picks a free port (tests). @default {@link DEFAULT_API_PORT} */
  port: number;
  /** Extra `Host` header names (no port) the API accepts. @default {@link DEFAULT_API_ALLOWED_HOSTS} */
  allowedHosts: string[];
}

export interface GatewayOptions {
  /** @default {@link DEFAULT_GATEWAY_HOST} */
  host: string;
  /** @default {@link DEFAULT_GATEWAY_PORT} */
  port: number;
  /**
   * Name of the environment variable holding the private key (0x + 64 hex) the gateway signs access tokens
   * for paid and private services with (docs/access.md). The name, not the key, so keys stay out of config
   * files. @default unset: the node's own key
   */
  consumerKeyEnv?: string | undefined;
}

export interface RedisOptions {
  /** `redis://` or `rediss://` URL. @default {@link DEFAULT_REDIS_URL} */
  url: string;
}

export interface MetricsOptions {
  /** Serve `/metrics` on the API port. @default {@link DEFAULT_METRICS_ENABLED} */
  enabled: boolean;
}

export interface TaskOptions {
  /** Stagger between keepers of a stalled task (ms). @default {@link DEFAULT_TASK_KEEPER_STAGGER_MS} */
  keeperStaggerMs: number;
}

export interface UsageOptions {
  /** Claim per-call payment without being asked. @default {@link DEFAULT_USAGE_AUTO_CLAIM} */
  autoClaim: boolean;
  /** Claim a service's calls at the latest this long after the oldest was served (ms). @default {@link DEFAULT_USAGE_CLAIM_MAX_DELAY_MS} */
  claimMaxDelayMs: number;
}

export interface ObservabilityOptions {
  /** Probe other Xnodes, publish signed reports and aggregate the network's (docs/observability.md). @default true */
  enabled: boolean;
  /** Interval between two reports (ms). @default {@link DEFAULT_OBSERVABILITY_INTERVAL_MS} */
  intervalMs: number;
  /** Xnodes probed per interval (a rotating sample). @default {@link DEFAULT_OBSERVABILITY_PROBES_PER_INTERVAL} */
  probesPerInterval: number;
  /** Reporters needed before a node is judged up or down. @default {@link DEFAULT_OBSERVABILITY_MIN_REPORTERS} */
  minReporters: number;
}

export interface ResourceProofOptions {
  /** Answer compute challenges and challenge the other Xnodes (docs/proof-of-resource.md). @default true */
  enabled: boolean;
  /** Interval between two challenges this node sends (ms). @default {@link DEFAULT_RESOURCE_PROOF_INTERVAL_MS} */
  intervalMs: number;
  /** n of the challenge's matrices. @default 512 */
  matrixSize: number;
  /** Multiply-adds per second of one reference core (what a millicore is a thousandth of). @default 250 000 000 */
  minWorkPerCoreSecond: number;
  /** Allowance on top of the time bound for the round trip and scheduling (ms). @default 250 */
  allowanceMs: number;
}

export interface DsmpConfig {
  node: NodeOptions;
  p2p: P2pOptions;
  chain: ChainOptions;
  api: ApiOptions;
  gateway: GatewayOptions;
  redis: RedisOptions;
  metrics: MetricsOptions;
  tasks: TaskOptions;
  usage: UsageOptions;
  observability: ObservabilityOptions;
  resourceProof: ResourceProofOptions;
}

export type ConfigSection = keyof DsmpConfig;

/** A partial configuration: what a preset, the CLI flags or (after parsing) a config file provide. */
export type ConfigLayer = {
  [S in ConfigSection]?: { [F in keyof DsmpConfig[S]]?: DsmpConfig[S][F] | undefined } | undefined;
};

// ---------------------------------------------------------------------------------------------------------
// Schema

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);

function isMultiaddrString(value: string): boolean {
  try {
    multiaddr(value);
    return true;
  } catch {
    return false;
  }
}

const multiaddrString = z.string().refine(isMultiaddrString, { message: "not a valid multiaddr" });
const bootstrapAddr = multiaddrString.refine((value) => value.includes("/p2p/"), {
  message: "a bootstrap multiaddr must end in /p2p/<peerId>",
});

function urlWithProtocol(protocols: readonly string[]) {
  const names = protocols.map((p) => p.slice(0, -1)).join(", ");
  return z.string().refine((value) => URL.canParse(value) && protocols.includes(new URL(value).protocol), {
    message: `expected a URL with scheme ${names}`,
  });
}

const NodeOptionsSchema = z
  .object({
    dataDir: z.string().min(1),
    keystorePath: z.string().min(1).optional(),
    passphraseEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "not a valid environment variable name"),
    logLevel: z.enum(LOG_LEVELS),
  })
  .strict();

const P2pOptionsSchema = z
  .object({
    listen: z.array(multiaddrString),
    announce: z.array(multiaddrString),
    bootstrap: z.array(bootstrapAddr),
    dhtMode: z.enum(["lan", "wan"]),
    protocolPrefix: z.string().regex(/^\/[a-z0-9][a-z0-9._-]*$/, "must look like /dsmp: a slash and a lowercase name"),
  })
  .strict();

const ChainOptionsSchema = z
  .object({
    rpcUrl: urlWithProtocol(["http:", "https:", "ws:", "wss:"]),
    chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    deploymentsFile: z.string().min(1).optional(),
    confirmations: z.number().int().min(1).max(MAX_CONFIRMATIONS),
  })
  .strict();

const EndpointSchema = z.object({ host, port }).strict();
/** A host name or IP literal as it appears in a `Host` header, without the port (`[::1]` keeps its brackets). */
const hostName = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)$/, "expected a host name or IP address without a port");
const ApiOptionsSchema = z.object({ host, port, allowedHosts: z.array(hostName) }).strict();

const ConfigSchema: z.ZodType<DsmpConfig, z.ZodTypeDef, unknown> = z
  .object({
    node: NodeOptionsSchema,
    p2p: P2pOptionsSchema,
    chain: ChainOptionsSchema,
    api: ApiOptionsSchema,
    gateway: z
      .object({ host, port, consumerKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "not a valid environment variable name").optional() })
      .strict(),
    redis: z.object({ url: urlWithProtocol(["redis:", "rediss:"]) }).strict(),
    metrics: z.object({ enabled: z.boolean() }).strict(),
    tasks: z.object({ keeperStaggerMs: z.number().int().min(1_000).max(3_600_000) }).strict(),
    usage: z.object({ autoClaim: z.boolean(), claimMaxDelayMs: z.number().int().min(1_000).max(7 * 86_400_000) }).strict(),
    observability: z
      .object({
        enabled: z.boolean(),
        // Above the 2 s probe timeout, and short enough that reports stay within the 60 s freshness bound.
        intervalMs: z.number().int().min(2_500).max(30_000),
        probesPerInterval: z.number().int().min(1).max(128),
        minReporters: z.number().int().min(1).max(100),
      })
      .strict(),
    resourceProof: z
      .object({
        enabled: z.boolean(),
        // A prover answers one challenge per verifier per minute; faster only makes sense on a devnet.
        intervalMs: z.number().int().min(5_000).max(86_400_000),
        matrixSize: z.number().int().min(MIN_MATRIX_SIZE).max(MAX_MATRIX_SIZE),
        minWorkPerCoreSecond: z.number().int().min(1_000_000).max(1_000_000_000_000),
        allowanceMs: z.number().int().min(0).max(60_000),
      })
      .strict(),
  })
  .strict()
  .transform(
    (c): DsmpConfig => ({
      ...c,
      node: { ...c.node, keystorePath: c.node.keystorePath ?? join(c.node.dataDir, KEYSTORE_FILE_NAME) },
      chain: { ...c.chain, deploymentsFile: c.chain.deploymentsFile ?? `deployments/${c.chain.chainId}.json` },
    }),
  );

// ---------------------------------------------------------------------------------------------------------
// Layers

/** The defaults as a layer. Paths derived from other fields (`keystorePath`, `deploymentsFile`) stay unset. */
export function defaultConfigLayer(env: Readonly<Record<string, string | undefined>> = {}): ConfigLayer {
  const home = env["HOME"];
  return {
    node: {
      dataDir: home === undefined || home === "" ? DEFAULT_DATA_DIR_NAME : join(home, DEFAULT_DATA_DIR_NAME),
      passphraseEnv: DEFAULT_PASSPHRASE_ENV,
      logLevel: DEFAULT_LOG_LEVEL,
    },
    p2p: {
      listen: [
        `/ip4/0.0.0.0/tcp/${DEFAULT_P2P_TCP_PORT}`,
        `/ip4/0.0.0.0/udp/${DEFAULT_P2P_QUIC_PORT}/quic-v1`,
        `/ip4/0.0.0.0/tcp/${DEFAULT_P2P_WS_PORT}/ws`,
      ],
      announce: [],
      bootstrap: [],
      dhtMode: DEFAULT_DHT_MODE,
      protocolPrefix: DEFAULT_PROTOCOL_PREFIX,
    },
    chain: { rpcUrl: DEFAULT_RPC_URL, chainId: DEFAULT_CHAIN_ID, confirmations: DEFAULT_CONFIRMATIONS },
    api: { host: DEFAULT_API_HOST, port: DEFAULT_API_PORT, allowedHosts: [...DEFAULT_API_ALLOWED_HOSTS] },
    gateway: { host: DEFAULT_GATEWAY_HOST, port: DEFAULT_GATEWAY_PORT },
    redis: { url: DEFAULT_REDIS_URL },
    metrics: { enabled: DEFAULT_METRICS_ENABLED },
    tasks: { keeperStaggerMs: DEFAULT_TASK_KEEPER_STAGGER_MS },
    usage: { autoClaim: DEFAULT_USAGE_AUTO_CLAIM, claimMaxDelayMs: DEFAULT_USAGE_CLAIM_MAX_DELAY_MS },
    observability: {
      enabled: true,
      intervalMs: DEFAULT_OBSERVABILITY_INTERVAL_MS,
      probesPerInterval: DEFAULT_OBSERVABILITY_PROBES_PER_INTERVAL,
      minReporters: DEFAULT_OBSERVABILITY_MIN_REPORTERS,
    },
    resourceProof: {
      enabled: true,
      intervalMs: DEFAULT_RESOURCE_PROOF_INTERVAL_MS,
      matrixSize: DEFAULT_MATRIX_SIZE,
      minWorkPerCoreSecond: DEFAULT_MIN_WORK_PER_CORE_SECOND,
      allowanceMs: DEFAULT_ALLOWANCE_MS,
    },
  };
}

export interface DevnetPresetOptions {
  /** Parent of the nodes' data directories. @default `.devnet` */
  rootDir?: string;
}

/**
 * Devnet node `index` (0-based): loopback addresses, LAN DHT, each default port shifted by
 * `index × DEVNET_PORT_STRIDE`, data in `<rootDir>/node-<index>`, the local Hardhat chain.
 * Bootstrap addresses need node 0's PeerId, so the devnet script adds them after node 0 starts.
 */
export function devnetPreset(index: number, options: DevnetPresetOptions = {}): ConfigLayer {
  if (!Number.isInteger(index) || index < 0 || index >= DEVNET_MAX_NODES) {
    throw new ConfigError([
      { path: "", message: `devnet node index must be an integer in [0, ${DEVNET_MAX_NODES}), got ${index}`, origin: "preset" },
    ]);
  }
  const shift = index * DEVNET_PORT_STRIDE;
  return {
    node: { dataDir: join(options.rootDir ?? ".devnet", `node-${index}`) },
    p2p: {
      listen: [
        `/ip4/127.0.0.1/tcp/${DEFAULT_P2P_TCP_PORT + shift}`,
        `/ip4/127.0.0.1/udp/${DEFAULT_P2P_QUIC_PORT + shift}/quic-v1`,
        `/ip4/127.0.0.1/tcp/${DEFAULT_P2P_WS_PORT + shift}/ws`,
      ],
      dhtMode: "lan",
    },
    chain: { rpcUrl: DEFAULT_RPC_URL, chainId: DEFAULT_CHAIN_ID },
    api: { host: "127.0.0.1", port: DEFAULT_API_PORT + shift },
    gateway: { host: "127.0.0.1", port: DEFAULT_GATEWAY_PORT + shift },
  };
}

type EnvKind = "string" | "list" | "int" | "bool";

interface EnvVar {
  name: string;
  section: ConfigSection;
  field: string;
  kind: EnvKind;
}

/** Every environment variable the configuration reads. */
export const CONFIG_ENV_VARS: readonly EnvVar[] = [
  { name: "DSMP_NODE_DATA_DIR", section: "node", field: "dataDir", kind: "string" },
  { name: "DSMP_NODE_KEYSTORE_PATH", section: "node", field: "keystorePath", kind: "string" },
  { name: "DSMP_NODE_PASSPHRASE_ENV", section: "node", field: "passphraseEnv", kind: "string" },
  { name: "DSMP_NODE_LOG_LEVEL", section: "node", field: "logLevel", kind: "string" },
  { name: "DSMP_P2P_LISTEN", section: "p2p", field: "listen", kind: "list" },
  { name: "DSMP_P2P_ANNOUNCE", section: "p2p", field: "announce", kind: "list" },
  { name: "DSMP_P2P_BOOTSTRAP", section: "p2p", field: "bootstrap", kind: "list" },
  { name: "DSMP_P2P_DHT_MODE", section: "p2p", field: "dhtMode", kind: "string" },
  { name: "DSMP_P2P_PROTOCOL_PREFIX", section: "p2p", field: "protocolPrefix", kind: "string" },
  { name: "DSMP_CHAIN_RPC_URL", section: "chain", field: "rpcUrl", kind: "string" },
  { name: "DSMP_CHAIN_ID", section: "chain", field: "chainId", kind: "int" },
  { name: "DSMP_CHAIN_DEPLOYMENTS_FILE", section: "chain", field: "deploymentsFile", kind: "string" },
  { name: "DSMP_CHAIN_CONFIRMATIONS", section: "chain", field: "confirmations", kind: "int" },
  { name: "DSMP_API_HOST", section: "api", field: "host", kind: "string" },
  { name: "DSMP_API_PORT", section: "api", field: "port", kind: "int" },
  { name: "DSMP_API_ALLOWED_HOSTS", section: "api", field: "allowedHosts", kind: "list" },
  { name: "DSMP_GATEWAY_HOST", section: "gateway", field: "host", kind: "string" },
  { name: "DSMP_GATEWAY_PORT", section: "gateway", field: "port", kind: "int" },
  { name: "DSMP_GATEWAY_CONSUMER_KEY_ENV", section: "gateway", field: "consumerKeyEnv", kind: "string" },
  { name: "DSMP_REDIS_URL", section: "redis", field: "url", kind: "string" },
  { name: "DSMP_METRICS_ENABLED", section: "metrics", field: "enabled", kind: "bool" },
  { name: "DSMP_TASKS_KEEPER_STAGGER_MS", section: "tasks", field: "keeperStaggerMs", kind: "int" },
  { name: "DSMP_USAGE_AUTO_CLAIM", section: "usage", field: "autoClaim", kind: "bool" },
  { name: "DSMP_USAGE_CLAIM_MAX_DELAY_MS", section: "usage", field: "claimMaxDelayMs", kind: "int" },
  { name: "DSMP_OBSERVABILITY_ENABLED", section: "observability", field: "enabled", kind: "bool" },
  { name: "DSMP_OBSERVABILITY_INTERVAL_MS", section: "observability", field: "intervalMs", kind: "int" },
  { name: "DSMP_OBSERVABILITY_PROBES_PER_INTERVAL", section: "observability", field: "probesPerInterval", kind: "int" },
  { name: "DSMP_OBSERVABILITY_MIN_REPORTERS", section: "observability", field: "minReporters", kind: "int" },
  { name: "DSMP_RESOURCE_PROOF_ENABLED", section: "resourceProof", field: "enabled", kind: "bool" },
  { name: "DSMP_RESOURCE_PROOF_INTERVAL_MS", section: "resourceProof", field: "intervalMs", kind: "int" },
  { name: "DSMP_RESOURCE_PROOF_MATRIX_SIZE", section: "resourceProof", field: "matrixSize", kind: "int" },
  { name: "DSMP_RESOURCE_PROOF_MIN_WORK_PER_CORE_SECOND", section: "resourceProof", field: "minWorkPerCoreSecond", kind: "int" },
  { name: "DSMP_RESOURCE_PROOF_ALLOWANCE_MS", section: "resourceProof", field: "allowanceMs", kind: "int" },
];

/**
 * Convert an environment string. A value that does not convert is passed on as the string, so the schema
 * reports it with its path (`api.port: Expected number, received string`); `undefined` means unset.
 */
function fromEnv(raw: string, kind: EnvKind): unknown {
  switch (kind) {
    case "list":
      return raw
        .split(",")
        .map((part) => part.trim())
        .filter((part) => part !== "");
    case "string":
      return raw === "" ? undefined : raw;
    case "int":
      return raw === "" ? undefined : /^-?\d+$/.test(raw) ? Number(raw) : raw;
    case "bool":
      if (raw === "") return undefined;
      if (raw === "true" || raw === "1") return true;
      if (raw === "false" || raw === "0") return false;
      return raw;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Resolution

type Origin = (path: string) => string;
type Tree = Record<string, unknown>;

function isPlainObject(value: unknown): value is Tree {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Overlay `layer` on `merged` two levels deep (sections, then fields); arrays replace, `undefined` skips. */
function overlay(merged: Tree, origins: Map<string, string>, layer: Tree, origin: Origin): void {
  for (const [section, value] of Object.entries(layer)) {
    if (value === undefined) continue;
    if (!isPlainObject(value)) {
      merged[section] = value;
      origins.set(section, origin(section));
      continue;
    }
    const target = isPlainObject(merged[section]) ? merged[section] : (merged[section] = {});
    for (const [field, fieldValue] of Object.entries(value)) {
      if (fieldValue === undefined) continue;
      target[field] = fieldValue;
      origins.set(`${section}.${field}`, origin(`${section}.${field}`));
    }
  }
}

function formatPath(path: readonly (string | number)[]): string {
  return path.reduce<string>(
    (out, part) => (typeof part === "number" ? `${out}[${part}]` : out === "" ? part : `${out}.${part}`),
    "",
  );
}

export interface ResolveConfigParameters {
  /** A layer between the defaults and the file, e.g. {@link devnetPreset}. */
  preset?: ConfigLayer | undefined;
  /** The parsed JSON of a config file and its path (named in errors). */
  file?: { path: string; values: unknown } | undefined;
  /** Usually `process.env`; also supplies `HOME` for the default data directory. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  flags?: ConfigLayer | undefined;
}

/**
 * Merge `defaults < preset < file < env < flags` and validate once.
 * @throws {ConfigError} listing every issue with its path and where the value came from.
 * @example
 * const config = resolveConfig({ env: process.env, flags: { api: { port: 0 } } });
 */
export function resolveConfig(parameters: ResolveConfigParameters): DsmpConfig {
  const env = parameters.env ?? {};
  const merged: Tree = {};
  const origins = new Map<string, string>();

  overlay(merged, origins, defaultConfigLayer(env), () => "defaults");
  if (parameters.preset !== undefined) overlay(merged, origins, parameters.preset, () => "preset");
  if (parameters.file !== undefined) {
    const { path, values } = parameters.file;
    if (!isPlainObject(values)) {
      throw new ConfigError([{ path: "", message: "the config file must hold a JSON object", origin: path }]);
    }
    overlay(merged, origins, values, () => path);
  }
  const envLayer: Tree = {};
  const envNames = new Map<string, string>();
  for (const variable of CONFIG_ENV_VARS) {
    const raw = env[variable.name];
    if (raw === undefined) continue;
    const value = fromEnv(raw, variable.kind);
    if (value === undefined) continue;
    const section = (envLayer[variable.section] ??= {}) as Tree;
    section[variable.field] = value;
    envNames.set(`${variable.section}.${variable.field}`, variable.name);
  }
  overlay(merged, origins, envLayer, (path) => `env ${envNames.get(path) ?? "?"}`);
  if (parameters.flags !== undefined) overlay(merged, origins, parameters.flags, () => "flags");

  const result = ConfigSchema.safeParse(merged);
  if (result.success) return result.data;
  const issues: ConfigIssue[] = result.error.issues.map((issue) => {
    const [section, pathField] = issue.path;
    const field = issue.code === "unrecognized_keys" && issue.path.length === 1 ? issue.keys[0] : pathField;
    const origin =
      origins.get(`${String(section)}.${String(field)}`) ?? (section === undefined ? undefined : origins.get(String(section)));
    return { path: formatPath(issue.path), message: issue.message, origin };
  });
  throw new ConfigError(issues);
}

export interface LoadConfigParameters extends Omit<ResolveConfigParameters, "file"> {
  /** Path of a JSON config file. */
  file?: string | undefined;
}

/**
 * {@link resolveConfig} after reading `file` (JSON).
 * @throws {ConfigError} also when the file cannot be read or is not JSON.
 */
export async function loadConfig(parameters: LoadConfigParameters): Promise<DsmpConfig> {
  const { file, ...rest } = parameters;
  if (file === undefined) return resolveConfig(rest);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? "unknown error";
    throw new ConfigError([{ path: "", message: `cannot read the config file (${code})`, origin: file }], { cause });
  }
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError([{ path: "", message: `not valid JSON: ${(cause as Error).message}`, origin: file }], { cause });
  }
  return resolveConfig({ ...rest, file: { path: file, values } });
}
