/**
 * `dsmp node start` (run an Xnode until Ctrl-C), `dsmp node status` (ask a running node's control API) and
 * `dsmp call <serviceId> [path]` (a request through a node's gateway).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { getService } from "../chain/actions/get-service.ts";
import {
  DEFAULT_API_HOST,
  DEFAULT_API_PORT,
  DEFAULT_GATEWAY_HOST,
  DEFAULT_GATEWAY_PORT,
  loadConfig,
  type ConfigLayer,
  type DhtMode,
  type DsmpConfig,
} from "../config.ts";
import { CliUsageError, GatewayRequestError, NodeStartError, NodeUnreachableError } from "../errors.ts";
import { createLogger } from "../log.ts";
import {
  ACCESS_HEADER,
  DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS,
  encodeAccessToken,
  MAX_ALLOWLIST_PROOF_LENGTH,
  parseAllowlistProofList,
  signAccessToken,
} from "../mesh/access/request-token.ts";
import { startXnode, type ServedService, type XnodeStatus } from "../node.ts";
import { connectChain } from "./chain-connection.ts";
import { controlApiFailure, controlApiUrl } from "./control-api.ts";
import type { CliIo } from "./cli-io.ts";
import type { CliCommand, CommandInput } from "./command-spec.ts";
import { printFields, printJson, printLine } from "./output.ts";
import { parseHttpUrl, parseNodeAddress } from "./value-parsers.ts";

/** Where `--web` finds the built UI (`npm run build` writes it). */
export const DEFAULT_WEB_DIR = "web/dist";

/** `--web` / `--web-dir <dir>` → the directory of the built UI to serve, checked to hold an index.html. */
export function webDirOf(input: CommandInput): string | undefined {
  const webDir = input.string("web-dir") ?? (input.flag("web") ? DEFAULT_WEB_DIR : undefined);
  if (webDir !== undefined && !existsSync(join(webDir, "index.html"))) {
    throw new CliUsageError(`--web: ${webDir}/index.html not found — build the UI with \`npm run build\` or pass --web-dir <dir>`);
  }
  return webDir;
}

/** `<serviceId>=<backend URL>` → a served service. */
export function parseServe(text: string): ServedService {
  const at = text.indexOf("=");
  const id = text.slice(0, at);
  let backend: URL;
  try {
    backend = new URL(text.slice(at + 1));
  } catch {
    throw new CliUsageError(`--serve wants <serviceId>=<backend URL>, got "${text}"`);
  }
  if (at <= 0 || !/^[1-9][0-9]*$/.test(id) || !["http:", "https:"].includes(backend.protocol)) {
    throw new CliUsageError(`--serve wants <serviceId>=<http(s) backend URL>, got "${text}"`);
  }
  return { serviceId: BigInt(id), backend };
}

function port(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new CliUsageError(`--${flag} must be a TCP port (0–65535), got "${text}"`);
  return n;
}

const list = (text: string | undefined) => (text === undefined ? undefined : text.split(",").map((s) => s.trim()).filter(Boolean));

/** The command line's layer of the configuration (the highest: flags beat the file and the environment). */
export function nodeConfigFlags(input: CommandInput): ConfigLayer {
  const dhtMode = input.string("dht-mode");
  if (dhtMode !== undefined && dhtMode !== "lan" && dhtMode !== "wan") throw new CliUsageError(`--dht-mode is lan or wan, got "${dhtMode}"`);
  const layer: ConfigLayer = {
    node: { dataDir: input.string("data-dir") },
    p2p: { listen: list(input.string("listen")), bootstrap: list(input.string("bootstrap")), dhtMode: dhtMode as DhtMode | undefined },
    api: { port: port(input.string("api-port"), "api-port") },
    gateway: { port: port(input.string("gateway-port"), "gateway-port") },
  };
  // --rpc-url (or DSMP_RPC_URL) and --deployment are global options; pass them on only when given.
  const rpcGiven = input.string("rpc-url") !== undefined || input.env.DSMP_RPC_URL !== undefined;
  if (rpcGiven || input.global.deployment !== undefined) {
    layer.chain = {
      ...(rpcGiven ? { rpcUrl: input.global.rpcUrl } : {}),
      ...(input.global.deployment !== undefined ? { deploymentsFile: input.global.deployment } : {}),
    };
  }
  return layer;
}

/**
 * A start that failed because a port is taken, as one line that says which ports and how to pick others —
 * libp2p's own error carries every listener's stack trace in its message. `undefined` for any other error.
 */
export function addressInUseError(error: unknown, config: Pick<DsmpConfig, "p2p" | "api" | "gateway">): NodeStartError | undefined {
  let inUse = false;
  let listenFailed = false;
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8 && !inUse; e = e.cause, depth++) {
    inUse = (e as NodeJS.ErrnoException).code === "EADDRINUSE" || /EADDRINUSE|address already in use/i.test(e.message);
    listenFailed ||= /failed to be listened on/i.test(e.message);
  }
  if (!inUse && listenFailed) {
    // Another listen failure (a port below 1024, an address not on this machine, an unsupported multiaddr).
    return new NodeStartError(
      `libp2p could not listen on ${config.p2p.listen.join(", ")} — check --listen (or DSMP_P2P_LISTEN); --verbose shows each listener's error`,
      { cause: error },
    );
  }
  if (!inUse) return undefined;
  const where = `libp2p ${config.p2p.listen.join(", ")}; control API ${config.api.host}:${config.api.port}; gateway ${config.gateway.host}:${config.gateway.port}`;
  return new NodeStartError(
    `an address this node listens on is in use (another Xnode or the devnet running?) — ${where}. ` +
      "Pick free ones with --listen /ip4/0.0.0.0/tcp/<port>, --api-port <port>, --gateway-port <port> (or DSMP_P2P_LISTEN, DSMP_API_PORT, DSMP_GATEWAY_PORT); --verbose shows the listener errors",
    { cause: error },
  );
}

/** Runs an Xnode until `io.signal` aborts (first Ctrl-C), then stops it gracefully. */
export async function nodeStartCommand(input: CommandInput, io: CliIo): Promise<void> {
  const serve = (input.string("serve") ?? "").split(",").filter(Boolean).map(parseServe);
  const webDir = webDirOf(input);
  const config = await loadConfig({ file: input.string("config"), env: process.env, flags: nodeConfigFlags(input) });
  const node = await startXnode({ config, serve, logger: createLogger({ level: config.node.logLevel }), ...(webDir === undefined ? {} : { web: { dir: webDir } }) }).catch(
    (error: unknown) => {
      throw addressInUseError(error, config) ?? error;
    },
  );
  const status = node.status();
  if (input.global.json) printJson(io, status);
  else printStatus(io, status);
  await new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve();
    io.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await node.stop();
}

function printStatus(io: CliIo, s: XnodeStatus) {
  printFields(io, [
    ["address", s.address],
    ["peer id", s.peerId],
    ["listening", s.multiaddrs.join(" ") || "(none)"],
    ["peers", String(s.peers)],
    ["chain", `${s.chain.chainId}, synced to block ${s.chain.syncedBlock ?? "-"}`],
    ["registered", s.chain.registered ? `yes (${s.chain.nodeStatus})` : "no — register it with `dsmp node register`"],
    ["serving", s.serving.map((x) => `${x.serviceId} → ${x.backend}`).join(", ") || "nothing"],
    ["api", s.apiUrl],
    ["gateway", s.gatewayUrl],
    ["calls as", `${s.gatewayConsumer} (paid and private services need this account's subscription or grant)`],
    ["metrics", s.metricsUrl],
  ]);
}

export async function fetchOrExplain(url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    if (init.signal?.aborted === true) throw err;
    throw new NodeUnreachableError(`cannot reach ${what} at ${url}`, { details: "is the node running? start one with `dsmp node start` or `npm run devnet`", cause: err });
  }
}

/** `dsmp node status`: the status of a running node, from its control API. */
export async function nodeStatusCommand(input: CommandInput, io: CliIo): Promise<void> {
  const api = controlApiUrl(input);
  const res = await fetchOrExplain(`${api}/v1/status`, { signal: io.signal }, "the node's control API");
  if (!res.ok) throw await controlApiFailure(res, api);
  const status = (await res.json()) as XnodeStatus;
  if (input.global.json) printJson(io, status);
  else printStatus(io, status);
}

/**
 * A provider of `serviceId` as the gateway's `GET /providers/<id>` lists them (docs/protocol.md §6.7), at
 * random among those with a node address.
 */
async function pickProvider(gateway: string, serviceId: string, signal: AbortSignal): Promise<Address> {
  const res = await fetchOrExplain(`${gateway}/providers/${serviceId}`, { signal }, "the gateway");
  const text = await res.text();
  if (!res.ok) throw new GatewayRequestError(`the gateway could not list the providers of service ${serviceId} (${res.status})`, { status: res.status, details: text });
  let nodes: string[];
  try {
    const { providers } = JSON.parse(text) as { providers: Array<{ node: string | null }> };
    nodes = providers.map((p) => p.node).filter((node): node is string => typeof node === "string" && /^0x[0-9a-f]{40}$/.test(node));
  } catch (cause) {
    throw new GatewayRequestError(`${gateway}/providers/${serviceId} did not answer a provider list: is ${gateway} a DSMP gateway?`, { status: res.status, details: text.slice(0, 500), cause });
  }
  if (nodes.length === 0) {
    throw new GatewayRequestError(`no provider found for per-call service ${serviceId}: its tokens must name one; is the service served, and the gateway's DHT connected?`, { status: 503 });
  }
  return nodes[Math.floor(Math.random() * nodes.length)]! as Address;
}

/** `dsmp call <serviceId> [path]`: one request through a node's gateway; the body goes to stdout. */
export async function callCommand(input: CommandInput, io: CliIo): Promise<void> {
  const id = input.argument("serviceId");
  if (!/^[1-9][0-9]*$/.test(id)) throw new CliUsageError(`<serviceId> must be a positive integer, got "${id}"`);
  const path = (input.optionalArgument("path") ?? "").replace(/^\/+/, "");
  const gateway = parseHttpUrl(
    input.string("gateway") ?? process.env.DSMP_GATEWAY_URL ?? `http://${DEFAULT_GATEWAY_HOST}:${DEFAULT_GATEWAY_PORT}`,
    input.string("gateway") === undefined ? "DSMP_GATEWAY_URL" : "--gateway",
  );
  const data = input.string("data");
  const method = (input.string("method") ?? (data === undefined ? "GET" : "POST")).toUpperCase();
  const proof = parseProof(input.string("proof"));
  const providerOption = input.string("provider");
  let provider = providerOption === undefined ? undefined : parseNodeAddress(providerOption, "--provider");
  const headers: Record<string, string> = {};
  // With a key, sign our own access token: the gateway forwards it instead of signing with its node key.
  if (input.global.privateKey !== undefined) {
    const client = await connectChain(input.global, { signs: false, signal: io.signal });
    if (provider === undefined) {
      // A per-call service's providers accept only tokens that name them (docs/protocol.md §8.1): pick one
      // of the providers the gateway finds; the gateway then sends the call to it.
      const { pricing } = await getService(client, { serviceId: BigInt(id) });
      if (pricing.perCall > 0n) provider = await pickProvider(gateway, id, io.signal);
    }
    const token = await signAccessToken({
      account: privateKeyToAccount(input.global.privateKey),
      domain: { chainId: client.chainId, registry: client.contracts.serviceRegistry },
      serviceId: BigInt(id),
      provider,
      expiry: Math.floor(Date.now() / 1000) + DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS,
      proof,
    });
    headers[ACCESS_HEADER] = encodeAccessToken(token);
  } else if (proof.length > 0 || provider !== undefined) {
    throw new CliUsageError(`${proof.length > 0 ? "--proof" : "--provider"} needs --key (or DSMP_PRIVATE_KEY): it goes into the token the key signs`);
  }
  const res = await fetchOrExplain(`${gateway}/svc/${id}/${path}`, { method, body: data, headers, signal: io.signal }, "the gateway");
  const body = await res.text();
  if (input.global.json) {
    printJson(io, { status: res.status, provider: res.headers.get("x-dsmp-provider"), attempts: Number(res.headers.get("x-dsmp-attempts") ?? 0), body });
  } else {
    io.stdout(body.endsWith("\n") || body === "" ? body : `${body}\n`);
  }
  if (res.status >= 400) {
    let error: string | undefined;
    try {
      const parsed: unknown = JSON.parse(body);
      if (res.headers.get("content-type") === "application/json" && typeof (parsed as { error?: unknown }).error === "string") error = (parsed as { error: string }).error;
    } catch {
      // the service's own body, not the gateway's JSON
    }
    throw new GatewayRequestError(`service ${id} answered ${res.status}${error === undefined ? "" : ` (${error})`}`, { status: res.status, error, details: body });
  }
}

/** `--proof 0x…,0x…`: the Merkle proof of the key's address in the service's allow-list root. */
function parseProof(text: string | undefined): Hex[] {
  const proof = parseAllowlistProofList(text ?? "");
  if (proof === undefined) throw new CliUsageError(`--proof wants up to ${MAX_ALLOWLIST_PROOF_LENGTH} comma-separated 32-byte hex values`);
  return proof;
}

export const nodeDaemonCommands: readonly CliCommand[] = [
  {
    path: ["node", "start"],
    summary: "run an Xnode (libp2p, DHT discovery, gateway, control API) until Ctrl-C",
    description:
      "Configuration comes from defaults < --config file < DSMP_* environment variables < these flags. The node's key is created on first start (keystore mode 0600).",
    options: [
      { name: "config", type: "string", value: "<file>", description: "JSON config file (see docs/cli.md)" },
      { name: "serve", type: "string", value: "<id=url,...>", description: "services this node provides: on-chain id = backend base URL" },
      { name: "data-dir", type: "string", value: "<dir>", description: "keystore, known peers and chain view journal (default ~/.dsmp)" },
      { name: "listen", type: "string", value: "<ma,...>", description: "libp2p listen multiaddrs" },
      { name: "bootstrap", type: "string", value: "<ma,...>", description: "peers to join through, each ending in /p2p/<peerId>" },
      { name: "dht-mode", type: "string", value: "<lan|wan>", description: "lan keeps loopback/private addresses in the DHT" },
      { name: "api-port", type: "string", value: "<port>", description: `control API port (default ${DEFAULT_API_PORT})` },
      { name: "gateway-port", type: "string", value: "<port>", description: `gateway port (default ${DEFAULT_GATEWAY_PORT})` },
      { name: "web", type: "boolean", description: `serve the web UI from the control API (files in ${DEFAULT_WEB_DIR})` },
      { name: "web-dir", type: "string", value: "<dir>", description: "serve the web UI from this directory (implies --web)" },
    ],
    examples: ["dsmp node start --config node.json --serve 1=http://127.0.0.1:8080", "dsmp node start --web   # then open the api URL"],
    run: nodeStartCommand,
  },
  {
    path: ["node", "status"],
    summary: "show a running node's identity, peers, chain sync and endpoints",
    options: [{ name: "api", type: "string", value: "<url>", description: `control API (default http://${DEFAULT_API_HOST}:${DEFAULT_API_PORT})` }],
    examples: ["dsmp node status --api http://127.0.0.1:4662 --json"],
    run: nodeStatusCommand,
  },
  {
    path: ["call"],
    summary: "call a service through a node's gateway and print the answer",
    description:
      "Paid and private services need an access token. With --key (or DSMP_PRIVATE_KEY) the CLI signs one as that account (it reads the chain id and ServiceRegistry from --rpc-url / --deployment); without, the gateway signs with its node's key. A per-call service's token must name its provider: with --key the CLI picks one the gateway finds (or --provider), and the gateway sends the call to that provider only.",
    positionals: [
      { name: "serviceId", description: "on-chain service id" },
      { name: "path", description: "path under the service (default /)", optional: true },
    ],
    options: [
      { name: "gateway", type: "string", value: "<url>", description: `gateway (env DSMP_GATEWAY_URL; default http://${DEFAULT_GATEWAY_HOST}:${DEFAULT_GATEWAY_PORT})` },
      { name: "data", type: "string", value: "<text>", description: "request body (makes the default method POST)" },
      { name: "method", type: "string", value: "<verb>", description: "HTTP method (default GET, or POST with --data)" },
      { name: "proof", type: "string", value: "<hex,...>", description: "Merkle proof of the --key account in a private service's allow-list root" },
      { name: "provider", type: "string", value: "<address|peerId>", description: "with --key: the provider the token names (per-call services; default: one the gateway finds); the call goes to it only" },
    ],
    examples: [
      "dsmp call 1 hello --gateway http://127.0.0.1:4663",
      "dsmp call 1 echo --data 'hi' --json",
      "DSMP_PRIVATE_KEY=0x… dsmp call 2 hello   # as a subscriber of paid service 2",
      "DSMP_PRIVATE_KEY=0x… dsmp call 4 hello --provider 16Uiu2…   # per-call service 4, at that provider",
    ],
    run: callCommand,
  },
];
