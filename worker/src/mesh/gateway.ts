/**
 * The gateway: a local HTTP server that forwards `ANY /svc/<serviceId>/<path…>` to a provider of that
 * service and streams the answer back (docs/protocol.md §6). How a request reaches the provider is the
 * {@link ProviderTransport}'s business: by default a pool of `/dsmp/mesh/1.0.0` sessions (docs/protocol.md §10).
 *
 * Providers come from an injected `resolveProviders` (the DHT discovery helper builds it); each attempt picks
 * one by power of two choices over peak-EWMA latency × outstanding requests, with the provider's advertised
 * load as a prior, skipping providers whose circuit breaker is open and the provider the previous attempt
 * failed on (docs/mesh.md). A provider that cannot be dialled, or answers that it did not forward the
 * request, may be retried on another; one that fails mid-request is retried only for idempotent methods,
 * and only while the request body still fits the replay buffer — and every retry needs the service's retry
 * budget and waits a jittered backoff. When nothing can serve, the answer is a JSON `{error, reason,
 * serviceId}` with 4xx/5xx. Every answer from a provider carries `x-dsmp-provider` and `x-dsmp-attempts`.
 *
 * The routing state (routing/*.ts) is pure: this file feeds it `performance.now()` and `Math.random()`
 * (both injectable) and carries out its choices.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Libp2p, PeerId } from "@libp2p/interface";
import type { Hex } from "viem";
import { DEFAULT_GATEWAY_HOST, DEFAULT_GATEWAY_PORT, type GatewayOptions } from "../config.ts";
import { GatewayRequestError, HttpFrameError, MeshRequestError, MeshTransportError, type MeshErrorCode } from "../errors.ts";
import { createSilentLogger, type Logger } from "../log.ts";
import { raceAbort } from "./abort-race.ts";
import { EncodedRequestHead, HTTP_ERROR_STATUS, MAX_HEADER_COUNT } from "./http-frames.ts";
import type { ProviderTransport, ResponseExchange } from "./provider-transport.ts";
import { createSessionTransport } from "./session-transport.ts";
import { ATTEMPTS_HEADER, flattenHeaders, headerPairsFromRaw, PROVIDER_HEADER, stripHopByHop } from "./http-headers.ts";
import { DEFAULT_REPLAY_BUFFER_BYTES, ReplayableBody } from "./replayable-body.ts";
import { retryBackoffMs, type BackoffOptions } from "./routing/backoff.ts";
import type { BreakerState } from "./routing/circuit-breaker.ts";
import { RoutingTable, type RouteCandidate, type RoutingOptions, type ServiceStats } from "./routing/routing-table.ts";
import { ACCESS_HEADER, ALLOWLIST_PROOF_HEADER, decodeAccessToken, MAX_ALLOWLIST_PROOF_LENGTH, parseAllowlistProofList } from "./access/request-token.ts";
import { nodeAddressOfPeerId } from "../discovery/provider-eligibility.ts";

/** Every gateway URL starts with this; what follows is `<serviceId>` and the path for the service. */
export const GATEWAY_PATH_PREFIX = "/svc/";
/** Whole-request bound, discovery to last body byte: 30 s, what browsers and most proxies wait by default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** One dial: 5 s, several round trips on a slow path; a dead provider is skipped after at most this. */
export const DEFAULT_DIAL_TIMEOUT_MS = 5_000;
/** Providers tried per request: 3, enough to ride over a stale DHT entry or two without a long tail. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** How long `stop()` lets requests in flight finish before cutting them. */
export const DEFAULT_GATEWAY_DRAIN_TIMEOUT_MS = 10_000;
/**
 * How long an idle client connection stays open: 60 s, like a typical load balancer's idle timeout (Node's own
 * default, 5 s, makes busy clients reconnect in bursts: measured in bench/mesh-http.ts as p99 spikes).
 */
export const DEFAULT_GATEWAY_KEEP_ALIVE_TIMEOUT_MS = 60_000;
/**
 * Node's header-size limit for the gateway's server: 32 KiB, twice the frame cap, so a request just over
 * the cap gets our JSON 431 and only absurd ones meet Node's parser limit (also answered with JSON 431).
 */
export const GATEWAY_MAX_HEADER_BYTES = 32 * 1024;

/**
 * Reason the per-attempt signal is aborted with once the attempt is over: one shared object, because
 * `abort()` without a reason builds a DOMException (with a stack trace) on every request.
 */
const ATTEMPT_OVER = Object.freeze(new Error("the attempt is over"));

/** Methods that can be sent twice without changing the outcome (RFC 9110 §9.2.2). */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
/** Provider errors after which the request certainly reached no backend: another provider may take it. */
const NOT_FORWARDED: ReadonlySet<MeshErrorCode> = new Set(["unknown-service", "backend-unavailable", "busy"]);

/** The `error` of a gateway JSON error body: a provider's code or one of the gateway's own. */
export type GatewayErrorCode =
  | MeshErrorCode
  | "not-found"
  | "no-providers"
  | "discovery-failed"
  | "providers-unreachable"
  | "provider-failed"
  | "all-breakers-open"
  | "access-denied-upstream"
  | "gateway-stopping";

/** Status of every gateway error code (docs/protocol.md §6.4). */
export const GATEWAY_ERROR_STATUS: Readonly<Record<GatewayErrorCode, number>> = {
  ...HTTP_ERROR_STATUS,
  "not-found": 404,
  "no-providers": 503,
  "discovery-failed": 503,
  "providers-unreachable": 502,
  "provider-failed": 502,
  "all-breakers-open": 503,
  // The provider's own 401 or 403 is kept when it said which (#answerError's `status`); 403 otherwise.
  "access-denied-upstream": 403,
  "gateway-stopping": 503,
};

/** The body of every error the gateway answers itself. */
export interface GatewayErrorBody {
  error: GatewayErrorCode;
  reason: string;
  /** The service id of the URL, or `null` when the URL has none. */
  serviceId: string | null;
}

/** A provider as discovery found it: its PeerId and the load its service record advertises. */
export interface ProviderCandidate {
  peerId: PeerId;
  /** Basis points of the provider's capacity (0 … 10 000), the balancer's prior. */
  load?: number | undefined;
}

/** Providers of a service (order does not matter: the balancer chooses). */
export type ResolveProviders = (serviceId: bigint, signal: AbortSignal) => Promise<Array<PeerId | ProviderCandidate>>;

/** How one attempt on one provider ended: an HTTP status class it relayed, or why it produced no response. */
export type AttemptOutcome = "2xx" | "3xx" | "4xx" | "5xx" | GatewayErrorCode;

/** Why the gateway refused to send a request anywhere (the `reason` label of denied calls). */
export type DeniedReason = "no-providers" | "all-breakers-open" | "access-denied-upstream" | "retry-budget-exhausted";

/** Hooks for metrics; node.ts wires them to prom-client (api/metrics.ts). */
export interface GatewayMetrics {
  /** One call per HTTP request; `provider` is set when a provider's response was relayed. */
  requestFinished(event: { serviceId: string | undefined; status: number; attempts: number; provider: string | undefined; durationSeconds: number }): void;
  /** One call per request that found providers (or was refused for open breakers), after its answer. */
  routed?(event: { serviceId: string; status: number; attempts: number; durationSeconds: number }): void;
  /** One call per attempt on a provider. */
  attemptFinished?(event: { serviceId: string; provider: string; outcome: AttemptOutcome; durationSeconds: number }): void;
  /** A retry was sent (after the first attempt). */
  retried?(event: { serviceId: string }): void;
  /** A retry was wanted but the budget had none left. */
  retryBudgetExhausted?(event: { serviceId: string }): void;
  /** A request no provider got, or a provider refused for access. */
  denied?(event: { serviceId: string; reason: DeniedReason }): void;
  /** A provider's breaker changed state. */
  breakerChanged?(event: { serviceId: string; provider: string; state: BreakerState }): void;
}

/**
 * Access token for one attempt at `provider` of a paid or private service, as the `dsmp-access` header value,
 * or `undefined` when the service needs none (docs/protocol.md §8). Called once per attempt, after the
 * provider is chosen (so a token can name it: v 2 tokens), and only when the client sent no token of its own.
 */
export type SignAccess = (serviceId: bigint, provider: PeerId, signal: AbortSignal, proof: readonly Hex[]) => Promise<string | undefined>;

export interface GatewayInit extends Partial<GatewayOptions> {
  /** @default {@link DEFAULT_REQUEST_TIMEOUT_MS} */
  requestTimeoutMs?: number | undefined;
  /** @default {@link DEFAULT_DIAL_TIMEOUT_MS} */
  dialTimeoutMs?: number | undefined;
  /** @default {@link DEFAULT_MAX_ATTEMPTS} */
  maxAttempts?: number | undefined;
  /** @default {@link DEFAULT_REPLAY_BUFFER_BYTES} */
  replayBufferBytes?: number | undefined;
  /** @default {@link DEFAULT_GATEWAY_DRAIN_TIMEOUT_MS} */
  drainTimeoutMs?: number | undefined;
  /** Idle client connection lifetime. @default {@link DEFAULT_GATEWAY_KEEP_ALIVE_TIMEOUT_MS} */
  keepAliveTimeoutMs?: number | undefined;
  /** Balancer, breaker, retry budget and stats window settings (defaults in routing/*.ts). */
  routing?: RoutingOptions | undefined;
  /** Backoff between attempts (defaults in routing/backoff.ts). */
  retryBackoff?: BackoffOptions | undefined;
  /**
   * Signs access tokens with the consumer's key. A `dsmp-access` header the HTTP client sent is forwarded
   * as it is instead. Absent: requests go without a token (unless the client sent one).
   */
  signAccess?: SignAccess | undefined;
  /**
   * Listen with SO_REUSEPORT (Linux), so several gateway processes can share one port and the kernel
   * spreads connections over them: the way to use more than one core. @default false
   */
  reusePort?: boolean | undefined;
}

export interface GatewayComponents {
  libp2p: Pick<Libp2p, "dialProtocol">;
  /**
   * How a request reaches a provider. @default a session pool over `/dsmp/mesh/1.0.0` on `libp2p`
   * (session-transport.ts), closed by `stop()`; an injected transport is left to its owner.
   */
  transport?: ProviderTransport | undefined;
  resolveProviders: ResolveProviders;
  logger?: Logger | undefined;
  metrics?: GatewayMetrics | undefined;
  /** Monotonic milliseconds. @default performance.now */
  clock?: (() => number) | undefined;
  /** Uniform draws in [0, 1). @default Math.random */
  random?: (() => number) | undefined;
}

export interface Gateway {
  /** Listen on the configured host and port. */
  start(): Promise<void>;
  /** Stop accepting, let requests in flight finish (bounded by `drainTimeoutMs`), cut the rest. Idempotent. */
  stop(): Promise<void>;
  /** Where it listens (the real port when configured with 0). */
  address(): { host: string; port: number };
  readonly inFlight: number;
  /** Golden signals of a service over the stats window, per provider and in total; `undefined` if never called. */
  stats(serviceId: string): ServiceStats | undefined;
  /** Every known provider's breaker state (for the `dsmp_mesh_breaker_state` gauge). */
  breakerStates(): Array<{ serviceId: string; provider: string; state: BreakerState }>;
}

/** A request path split into service id and the path for the service, or why it cannot be. */
export type GatewayRoute = { serviceId: string; path: string } | { error: "not-found" | "bad-request"; reason: string };

const SERVICE_URL = /^\/svc\/([^/?]*)(\/[^?]*)?(\?.*)?$/;
/** `GET /providers/<serviceId>` (docs/protocol.md §6.7). */
const PROVIDERS_URL = /^\/providers\/([^/?]*)\/?(\?.*)?$/;
const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;

/**
 * Split `/svc/<serviceId>/<path…>?<query>` into the service id and the target sent to the provider
 * (`/<path…>?<query>`, `/` when empty). Pure; nothing is decoded.
 * @example
 * parseGatewayPath("/svc/7/v1/items?limit=2"); // { serviceId: "7", path: "/v1/items?limit=2" }
 */
export function parseGatewayPath(url: string): GatewayRoute {
  const match = SERVICE_URL.exec(url);
  if (match === null) return { error: "not-found", reason: `not a service URL; use ${GATEWAY_PATH_PREFIX}<serviceId>/<path>` };
  const [, serviceId = "", path = "/", query = ""] = match;
  const problem = serviceIdProblem(serviceId);
  if (problem !== undefined) return { error: "bad-request", reason: problem };
  return { serviceId, path: path + query };
}

/** Why a service id taken from a URL is not one (decimal uint256 without leading zeros), `undefined` if it is. */
function serviceIdProblem(serviceId: string): string | undefined {
  if (DECIMAL.test(serviceId) && BigInt(serviceId) < 2n ** 256n) return undefined;
  return `service id ${JSON.stringify(serviceId.slice(0, 80))} is not a decimal uint256`;
}

/**
 * @example
 * const gateway = createGateway({ port: 4663 })({ libp2p, resolveProviders });
 * await gateway.start(); // curl http://127.0.0.1:4663/svc/1/hello
 */
export function createGateway(init: GatewayInit = {}): (components: GatewayComponents) => Gateway {
  return (components) => new HttpGateway(init, components);
}

/** What one request has seen so far (for the headers, the error body, logs and metrics). */
interface RequestState {
  serviceId: string | undefined;
  attempts: number;
  provider: string | undefined;
  status: number;
  /**
   * The request's one controller, aborted by the first of: the client leaving or its body failing, the
   * request timeout, the gateway stopping (one plain controller: `AbortSignal.any` cost measurable CPU per request).
   */
  abort: AbortController;
  /** What aborted {@link abort}, once it is. */
  ended: "client" | "timeout" | "stopping" | undefined;
}

/** Abort the request for `cause`, unless something else already did. */
function endRequest(state: RequestState, cause: "client" | "timeout" | "stopping", reason: unknown): void {
  if (state.ended !== undefined) return;
  state.ended = cause;
  state.abort.abort(reason);
}

/** What a request's routing loop saw of its attempts (for the final error). */
interface RouteOutcome {
  failure: AttemptFailure | undefined;
  /** Why the loop stopped picking providers, when it did for lack of one. */
  refused: "all-unavailable" | "only-excluded" | undefined;
}

/** A provider discovery found: its PeerId and advertised load. */
interface DiscoveredProvider {
  peerId: PeerId;
  load: number | undefined;
}

/** The node address (lowercase) of a secp256k1 PeerId, `undefined` for other keys. Not on the hot path: ~tens of µs. */
function nodeOf(peerId: PeerId): string | undefined {
  return nodeAddressOfPeerId(peerId.toMultihash().bytes)?.toLowerCase();
}

/** The request head for one attempt at `peer` (the same bytes unless the gateway signs a token per attempt). */
type HeadForAttempt = (peer: PeerId, signal: AbortSignal) => Promise<EncodedRequestHead>;

/**
 * The node address (lowercase) a client's `dsmp-access` token names, or `undefined` for a token good at any
 * provider (v 1) and for one that does not decode (the provider refuses it with the reason).
 */
function providerOfToken(header: string): string | undefined {
  try {
    return decodeAccessToken(header).provider;
  } catch {
    return undefined;
  }
}

/** Why an attempt did not produce a response, and whether the next provider may be tried. */
interface AttemptFailure {
  code: GatewayErrorCode;
  reason: string;
  retry: boolean;
}

type Status = "stopped" | "starting" | "started" | "stopping";

function waitForClientDrain(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return raceAbort(
    new Promise<void>((resolve, reject) => {
      const onDrain = (): void => (res.off("close", onClose), resolve());
      const onClose = (): void => (res.off("drain", onDrain), reject(new Error("the client connection closed")));
      res.once("drain", onDrain);
      res.once("close", onClose);
    }),
    signal,
  );
}

/** Wait `ms`, or reject when `signal` aborts (a retry's backoff). */
function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return signal.aborted ? Promise.reject(signal.reason) : Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  return raceAbort(new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))), signal).finally(() => clearTimeout(timer));
}

function statusClass(status: number): "2xx" | "3xx" | "4xx" | "5xx" {
  return status >= 500 ? "5xx" : status >= 400 ? "4xx" : status >= 300 ? "3xx" : "2xx";
}

/**
 * What an attempt says about the provider's health: `healthy` (it answered, below 500, or refused for
 * access — a working provider with a policy), `failed` (no answer in time, a 5xx, a mesh error), or
 * `cancelled` (the client left or the gateway stopped: nothing learnt about the provider).
 */
function attemptVerdict(failure: AttemptFailure | undefined, state: RequestState, signal: AbortSignal): "healthy" | "failed" | "cancelled" {
  if (failure === undefined) return state.status >= 500 ? "failed" : "healthy";
  if (signal.aborted && state.ended !== "timeout") return "cancelled";
  if (isAccessDenial(failure.code) || failure.code === "bad-request" || failure.code === "head-too-large") return "healthy";
  return "failed";
}

/** A provider's refusal for access (401/403): final, and no sign of ill health. */
function isAccessDenial(code: GatewayErrorCode): boolean {
  const status = GATEWAY_ERROR_STATUS[code];
  return status === 401 || status === 403;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What a failed {@link ProviderTransport.exchange} means for the request: the error to answer, and whether another provider may be tried. */
function attemptFailure(peer: PeerId, head: EncodedRequestHead, error: unknown, signal: AbortSignal): AttemptFailure {
  const retryIfIdempotent = IDEMPOTENT_METHODS.has(head.head.method.toUpperCase()) && !signal.aborted;
  if (error instanceof MeshRequestError) {
    // The provider answered with an ERROR before any response head.
    return { code: error.reason, reason: messageAfterCode(error), retry: NOT_FORWARDED.has(error.reason) };
  }
  if (error instanceof MeshTransportError) {
    if (error.reason === "unreachable") return { code: "providers-unreachable", reason: error.message, retry: true };
    if (error.reason === "overloaded") return { code: "busy", reason: `${peer.toString()}: ${error.message}`, retry: true };
    return { code: "provider-failed", reason: `${peer.toString()}: ${error.message}`, retry: error.sent ? retryIfIdempotent : true };
  }
  return { code: "provider-failed", reason: `${peer.toString()}: ${messageOf(error)}`, retry: retryIfIdempotent };
}

/** A provider's ERROR message without the `<code>: ` prefix {@link MeshRequestError} adds. */
function messageAfterCode(error: MeshRequestError): string {
  const prefix = `${error.reason}: `;
  return error.shortMessage.startsWith(prefix) ? error.shortMessage.slice(prefix.length) : error.shortMessage;
}

class HttpGateway implements Gateway {
  readonly #host: string;
  readonly #port: number;
  readonly #requestTimeoutMs: number;
  readonly #maxAttempts: number;
  readonly #replayBufferBytes: number;
  readonly #drainTimeoutMs: number;
  readonly #keepAliveTimeoutMs: number;
  readonly #signAccess: SignAccess | undefined;
  readonly #reusePort: boolean;
  readonly #transport: ProviderTransport;
  /** The transport was built here (not injected), so `stop()` closes it. */
  readonly #ownsTransport: boolean;
  readonly #resolveProviders: ResolveProviders;
  readonly #log: Logger;
  readonly #metrics: GatewayMetrics | undefined;
  readonly #routing: RoutingTable;
  readonly #retryBackoff: BackoffOptions | undefined;
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #inFlight = new Set<Promise<void>>();
  #server: Server | undefined;
  #root = new AbortController();
  #status: Status = "stopped";
  #stopping: Promise<void> | undefined;

  constructor(init: GatewayInit, components: GatewayComponents) {
    this.#host = init.host ?? DEFAULT_GATEWAY_HOST;
    this.#port = init.port ?? DEFAULT_GATEWAY_PORT;
    this.#requestTimeoutMs = init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#maxAttempts = Math.max(1, init.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    this.#replayBufferBytes = init.replayBufferBytes ?? DEFAULT_REPLAY_BUFFER_BYTES;
    this.#drainTimeoutMs = init.drainTimeoutMs ?? DEFAULT_GATEWAY_DRAIN_TIMEOUT_MS;
    this.#keepAliveTimeoutMs = init.keepAliveTimeoutMs ?? DEFAULT_GATEWAY_KEEP_ALIVE_TIMEOUT_MS;
    this.#signAccess = init.signAccess;
    this.#reusePort = init.reusePort ?? false;
    this.#resolveProviders = components.resolveProviders;
    this.#log = (components.logger ?? createSilentLogger()).child({ module: "gateway" });
    this.#ownsTransport = components.transport === undefined;
    this.#transport =
      components.transport ??
      createSessionTransport({ dialTimeoutMs: init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS })({ libp2p: components.libp2p, logger: this.#log });
    this.#metrics = components.metrics;
    this.#routing = new RoutingTable(init.routing);
    this.#retryBackoff = init.retryBackoff;
    this.#clock = components.clock ?? (() => performance.now());
    this.#random = components.random ?? Math.random;
  }

  stats(serviceId: string): ServiceStats | undefined {
    return this.#routing.stats(serviceId, this.#clock());
  }

  breakerStates(): Array<{ serviceId: string; provider: string; state: BreakerState }> {
    return [...this.#routing.breakerStates(this.#clock())];
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  address(): { host: string; port: number } {
    const address = this.#server?.address();
    if (address === null || address === undefined || typeof address === "string") return { host: this.#host, port: this.#port };
    return { host: (address as AddressInfo).address, port: (address as AddressInfo).port };
  }

  async start(): Promise<void> {
    if (this.#status !== "stopped") return;
    this.#status = "starting";
    this.#root = new AbortController();
    const server = createServer({ maxHeaderSize: GATEWAY_MAX_HEADER_BYTES }, (req, res) => this.#track(req, res));
    // Node drops headers beyond this count silently; any count over ours is refused with 431 anyway.
    server.maxHeadersCount = 4 * MAX_HEADER_COUNT;
    server.keepAliveTimeout = this.#keepAliveTimeoutMs;
    server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => this.#onClientError(error, socket));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ port: this.#port, host: this.#host, reusePort: this.#reusePort }, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      this.#status = "stopped";
      throw error;
    }
    this.#server = server;
    this.#status = "started";
    this.#log.info({ ...this.address() }, "gateway listening");
  }

  stop(): Promise<void> {
    if (this.#status === "stopping") return this.#stopping!;
    if (this.#status !== "started") return Promise.resolve();
    this.#status = "stopping";
    this.#stopping = this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const server = this.#server!;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (this.#inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const drained = Promise.allSettled([...this.#inFlight]);
      await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#drainTimeoutMs)))]);
      clearTimeout(timer);
    }
    this.#root.abort(new GatewayRequestError("the gateway stopped", { status: 503, error: "gateway-stopping" }));
    await Promise.allSettled([...this.#inFlight]);
    if (this.#ownsTransport) await this.#transport.close();
    server.closeAllConnections();
    await closed;
    this.#server = undefined;
    this.#status = "stopped";
    this.#log.info("gateway stopped");
  }

  #track(req: IncomingMessage, res: ServerResponse): void {
    const served = this.#serve(req, res).catch((error: unknown) => this.#log.error({ err: error }, "unexpected gateway error"));
    this.#inFlight.add(served);
    void served.finally(() => this.#inFlight.delete(served));
  }

  #onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = error.code === "HPE_HEADER_OVERFLOW";
    const status = tooLarge ? 431 : 400;
    const body: GatewayErrorBody = {
      error: tooLarge ? "head-too-large" : "bad-request",
      reason: tooLarge ? `request head over ${GATEWAY_MAX_HEADER_BYTES} bytes` : `unparsable request (${error.code ?? "unknown"})`,
      serviceId: null,
    };
    const json = JSON.stringify(body);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(json)}\r\n${ATTEMPTS_HEADER}: 0\r\nconnection: close\r\n\r\n${json}`,
    );
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const state: RequestState = {
      serviceId: undefined,
      attempts: 0,
      provider: undefined,
      status: 0,
      abort: new AbortController(),
      ended: undefined,
    };
    const signal = state.abort.signal;
    res.once("close", () => {
      if (!res.writableFinished) endRequest(state, "client", new Error("the client left"));
    });
    const timer = setTimeout(
      () => endRequest(state, "timeout", new MeshRequestError("deadline-exceeded", `no complete response within ${this.#requestTimeoutMs} ms`)),
      this.#requestTimeoutMs,
    );
    const root = this.#root.signal;
    const onStop = (): void => endRequest(state, "stopping", root.reason);
    if (root.aborted) onStop();
    else root.addEventListener("abort", onStop, { once: true });
    try {
      await this.#route(req, res, state, signal);
    } catch (error) {
      this.#log.error({ err: error, url: req.url }, "unexpected gateway error");
      this.#answerError(res, state, "internal", "unexpected gateway error");
    } finally {
      clearTimeout(timer);
      root.removeEventListener("abort", onStop);
      const durationSeconds = (performance.now() - started) / 1000;
      this.#log.debug({ method: req.method, url: req.url, status: state.status, attempts: state.attempts, provider: state.provider }, "request");
      this.#metrics?.requestFinished({ serviceId: state.serviceId, status: state.status, attempts: state.attempts, provider: state.provider, durationSeconds });
    }
  }

  async #route(req: IncomingMessage, res: ServerResponse, state: RequestState, signal: AbortSignal): Promise<void> {
    const listing = PROVIDERS_URL.exec(req.url ?? "");
    if (listing !== null) return this.#listProviders(req, res, state, listing[1]!, signal);
    const route = parseGatewayPath(req.url ?? "");
    if ("error" in route) return this.#answerError(res, state, route.error, route.reason);
    state.serviceId = route.serviceId;
    if (this.#status !== "started") return this.#answerError(res, state, "gateway-stopping", "the gateway is shutting down");

    // The allow-list proof header is for this gateway's own tokens only: never forwarded.
    const headers = stripHopByHop(headerPairsFromRaw(req.rawHeaders), ["host", ALLOWLIST_PROOF_HEADER]);
    const proofValues = req.headers[ALLOWLIST_PROOF_HEADER];
    const proof = parseAllowlistProofList(Array.isArray(proofValues) ? proofValues.join(",") : (proofValues ?? ""));
    if (proof === undefined) {
      return this.#answerError(res, state, "bad-request", `${ALLOWLIST_PROOF_HEADER}: expected up to ${MAX_ALLOWLIST_PROOF_LENGTH} comma-separated 32-byte hex values`);
    }
    const clientToken = headers.find(([name]) => name === ACCESS_HEADER)?.[1];
    const signs = this.#signAccess !== undefined && clientToken === undefined;
    // A token signed per attempt adds one header and ~600 bytes; a head that then exceeds a limit fails that
    // attempt as head-too-large (431), not retried.
    if (headers.length > MAX_HEADER_COUNT) {
      return this.#answerError(res, state, "head-too-large", `${headers.length} headers, at most ${MAX_HEADER_COUNT}`);
    }
    const deadline = Date.now() + this.#requestTimeoutMs;
    let head: EncodedRequestHead;
    try {
      // Checked and serialized once here; every attempt frames the same bytes (or, when the gateway signs a
      // token per attempt, these headers plus the token).
      head = new EncodedRequestHead({ method: req.method ?? "GET", path: route.path, headers, serviceId: route.serviceId, deadline });
    } catch (error) {
      if (!(error instanceof HttpFrameError)) throw error;
      const tooLarge = error.reason === "head-too-large" || error.reason === "too-many-headers";
      return this.#answerError(res, state, tooLarge ? "head-too-large" : "bad-request", error.details ?? error.shortMessage);
    }
    // A client's token that names a provider (v 2) is good there only: route to that provider alone.
    const pinned = clientToken === undefined ? undefined : providerOfToken(clientToken);

    const found = await this.#discover(route.serviceId, res, state, signal);
    if (found === undefined) return;
    const peers = pinned === undefined ? found : new Map([...found].filter(([, p]) => nodeOf(p.peerId) === pinned));
    if (peers.size === 0) {
      this.#metrics?.denied?.({ serviceId: route.serviceId, reason: "no-providers" });
      const reason = pinned === undefined
        ? `no provider found for service ${route.serviceId}`
        : `the access token names provider ${pinned}, which is not among the providers found for service ${route.serviceId}`;
      return this.#answerError(res, state, "no-providers", reason);
    }
    const candidates: RouteCandidate[] = [...peers].map(([id, { load }]) => ({ id, load }));
    const signAccess = this.#signAccess;
    const headFor: HeadForAttempt = !signs || signAccess === undefined
      ? async () => head
      : async (peer, attemptSignal) => {
          const token = await signAccess(BigInt(route.serviceId), peer, attemptSignal, proof);
          if (token === undefined) return head;
          return new EncodedRequestHead({ method: head.head.method, path: route.path, headers: [...headers, [ACCESS_HEADER, token]], serviceId: route.serviceId, deadline });
        };

    const body = new ReplayableBody(req, this.#replayBufferBytes);
    const started = this.#clock();
    const outcome = await this.#attempts(route.serviceId, candidates, peers, headFor, body, res, state, signal);
    if (outcome === undefined) return this.#recordRequest(route.serviceId, started, state);
    const { failure, refused } = outcome;
    if (signal.aborted) {
      this.#answerAborted(res, state);
    } else if (failure === undefined && refused !== undefined) {
      this.#metrics?.denied?.({ serviceId: route.serviceId, reason: "all-breakers-open" });
      const count = candidates.length === 1 ? "its only provider" : `all ${candidates.length} providers`;
      this.#answerError(res, state, "all-breakers-open", `the circuit breakers of ${count} of service ${route.serviceId} are open`);
    } else if (failure !== undefined && isAccessDenial(failure.code)) {
      this.#metrics?.denied?.({ serviceId: route.serviceId, reason: "access-denied-upstream" });
      this.#answerError(res, state, "access-denied-upstream", failure.reason, GATEWAY_ERROR_STATUS[failure.code]);
    } else {
      this.#answerError(res, state, failure!.code, failure!.reason);
    }
    this.#recordRequest(route.serviceId, started, state);
  }

  /**
   * Up to `maxAttempts` attempts, each on a provider chosen by P2C; `undefined` once the client got a
   * provider's response, else the last failure and why no further provider was picked.
   */
  async #attempts(
    serviceId: string,
    candidates: readonly RouteCandidate[],
    peers: ReadonlyMap<string, { peerId: PeerId }>,
    headFor: HeadForAttempt,
    body: ReplayableBody,
    res: ServerResponse,
    state: RequestState,
    signal: AbortSignal,
  ): Promise<RouteOutcome | undefined> {
    const service = this.#routing.service(serviceId, this.#clock());
    service.budget.deposit(this.#clock());
    let failure: AttemptFailure | undefined;
    let previous: string | undefined;
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      if (signal.aborted) return { failure, refused: undefined };
      const choice = this.#routing.choose(serviceId, candidates, { now: this.#clock(), exclude: previous, random: this.#random });
      if ("refused" in choice) {
        // `only-excluded` after a failure: the one provider left is the one that just failed; never twice in a row.
        return { failure, refused: choice.refused === "no-candidates" ? undefined : choice.refused };
      }
      // The head for this provider (a token naming it, when the gateway signs), before any retry budget is spent.
      const peer = peers.get(choice.id)!.peerId;
      let head: EncodedRequestHead;
      try {
        head = await headFor(peer, signal);
      } catch (error) {
        if (signal.aborted) return { failure, refused: undefined };
        // On a retry, the client hears about the provider's failure rather than about the signing.
        if (failure !== undefined) return { failure, refused: undefined };
        const tooLarge = error instanceof HttpFrameError;
        const reason = tooLarge ? (error.details ?? error.shortMessage) : `signing the access token failed: ${messageOf(error)}`;
        return { failure: { code: tooLarge ? "head-too-large" : "internal", reason, retry: false }, refused: undefined };
      }
      if (attempt > 1) {
        if (!service.budget.tryWithdraw(this.#clock())) {
          this.#metrics?.retryBudgetExhausted?.({ serviceId });
          this.#log.debug({ serviceId }, "retry budget exhausted");
          return { failure, refused: undefined };
        }
        this.#metrics?.retried?.({ serviceId });
        const delay = retryBackoffMs(attempt - 1, this.#random(), this.#retryBackoff);
        try {
          await abortableDelay(delay, signal);
        } catch {
          return { failure, refused: undefined };
        }
      }
      const provider = this.#routing.provider(serviceId, choice.id, this.#clock());
      const permit = provider.breaker.acquire(this.#clock());
      if (permit === undefined) return { failure, refused: "all-unavailable" }; // taken by a concurrent probe
      const breakerBefore = provider.breaker.state(this.#clock());
      provider.ewma.start();
      state.attempts += 1;
      const attemptStarted = this.#clock();
      failure = await this.#attempt(peer, head, body, res, state, signal);
      const now = this.#clock();
      const elapsed = now - attemptStarted;
      // Sessions to a provider are pooled and long-lived, so a connection handshake is rare in a sample.
      const rtt = elapsed;
      const verdict = attemptVerdict(failure, state, signal);
      if (verdict === "cancelled") {
        provider.ewma.cancel();
        provider.breaker.onCancel(permit);
      } else {
        provider.ewma.finish(now, rtt, verdict === "healthy");
        if (verdict === "healthy") provider.breaker.onSuccess(now, permit);
        else provider.breaker.onFailure(now, permit);
        provider.window.record(now, { latencyMs: elapsed, success: verdict === "healthy", retries: 0 });
      }
      const breakerAfter = provider.breaker.state(now);
      if (breakerAfter !== breakerBefore) {
        this.#log.info({ serviceId, provider: choice.id, from: breakerBefore, to: breakerAfter }, "circuit breaker changed");
        this.#metrics?.breakerChanged?.({ serviceId, provider: choice.id, state: breakerAfter });
      }
      this.#metrics?.attemptFinished?.({
        serviceId,
        provider: choice.id,
        outcome: failure === undefined ? statusClass(state.status) : failure.code,
        durationSeconds: elapsed / 1000,
      });
      if (failure === undefined) return undefined;
      this.#log.debug({ peer: choice.id, code: failure.code, reason: failure.reason }, "attempt failed");
      if (!failure.retry || !body.replayable) break;
      previous = choice.id;
    }
    return { failure, refused: undefined };
  }

  /** The request's sample in the service's stats window. */
  #recordRequest(serviceId: string, started: number, state: RequestState): void {
    if (state.attempts === 0 && state.status !== 503) return;
    const now = this.#clock();
    this.#metrics?.routed?.({ serviceId, status: state.status, attempts: state.attempts, durationSeconds: (now - started) / 1000 });
    this.#routing.service(serviceId, now).window.record(now, {
      latencyMs: now - started,
      success: state.status > 0 && state.status < 500,
      retries: Math.max(0, state.attempts - 1),
    });
  }

  /**
   * One provider: hand the request to the transport, relay the response. `undefined` once the client got
   * an answer. Everything about streams and framing lives behind {@link ProviderTransport}.
   */
  async #attempt(
    peer: PeerId,
    head: EncodedRequestHead,
    body: ReplayableBody,
    res: ServerResponse,
    state: RequestState,
    signal: AbortSignal,
  ): Promise<AttemptFailure | undefined> {
    // Aborted when the attempt is over, whatever the outcome: the transport then releases the request
    // (and tells the provider with a RESET if it may still be working on it).
    // A plain controller that follows `signal`: AbortSignal.any costs measurable CPU per request.
    const attempt = new AbortController();
    const follow = (): void => attempt.abort(signal.reason);
    if (signal.aborted) follow();
    else signal.addEventListener("abort", follow, { once: true });
    const attemptSignal = attempt.signal;
    try {
      let response: ResponseExchange;
      try {
        response = await this.#transport.exchange(peer, head, body, attemptSignal);
      } catch (error) {
        if (body.failed) endRequest(state, "client", error);
        return attemptFailure(peer, head, error, signal);
      }
      return await this.#relay(response, peer, res, state, attemptSignal);
    } finally {
      signal.removeEventListener("abort", follow);
      attempt.abort(ATTEMPT_OVER);
    }
  }

  async #relay(response: ResponseExchange, peer: PeerId, res: ServerResponse, state: RequestState, signal: AbortSignal): Promise<AttemptFailure | undefined> {
    const headers = stripHopByHop(response.head.headers, [PROVIDER_HEADER, ATTEMPTS_HEADER]);
    headers.push([PROVIDER_HEADER, peer.toString()], [ATTEMPTS_HEADER, String(state.attempts)]);
    if (this.#status === "stopping") headers.push(["connection", "close"]);
    try {
      res.writeHead(response.head.status, flattenHeaders(headers));
    } catch (error) {
      return { code: "provider-failed", reason: `unusable response head from ${peer.toString()}: ${messageOf(error)}`, retry: false };
    }
    state.status = response.head.status;
    state.provider = peer.toString();
    try {
      for (let chunk = await response.read(signal); chunk !== null; chunk = await response.read(signal)) {
        if (!res.write(chunk)) await waitForClientDrain(res, signal);
      }
      res.end();
      return undefined;
    } catch (error) {
      // The status line is out: the only way left to tell the client is to cut the response short.
      this.#log.debug({ peer: peer.toString(), err: error }, "response cut short");
      res.destroy();
      return undefined;
    }
  }

  #answerAborted(res: ServerResponse, state: RequestState): void {
    if (state.ended === "timeout") {
      return this.#answerError(res, state, "deadline-exceeded", `no response within ${this.#requestTimeoutMs} ms`);
    }
    if (state.ended === "stopping") return this.#answerError(res, state, "gateway-stopping", "the gateway is shutting down");
    state.status = 499; // the client left; nothing to answer (nginx's code, for logs and metrics only)
    res.destroy();
  }

  /**
   * The service's providers by PeerId string (deduplicated, in discovery's order); `undefined` once the client has been answered
   * (discovery failed, or the request was aborted).
   */
  async #discover(serviceId: string, res: ServerResponse, state: RequestState, signal: AbortSignal): Promise<Map<string, DiscoveredProvider> | undefined> {
    let found: Array<PeerId | ProviderCandidate>;
    try {
      found = await raceAbort(this.#resolveProviders(BigInt(serviceId), signal), signal);
    } catch (error) {
      if (signal.aborted) this.#answerAborted(res, state);
      else this.#answerError(res, state, "discovery-failed", `provider discovery failed: ${messageOf(error)}`);
      return undefined;
    }
    const peers = new Map<string, DiscoveredProvider>();
    for (const entry of found) {
      const candidate: ProviderCandidate = "peerId" in entry ? entry : { peerId: entry };
      const id = candidate.peerId.toString();
      if (peers.has(id)) continue;
      peers.set(id, { peerId: candidate.peerId, load: candidate.load });
    }
    return peers;
  }

  /**
   * `GET /providers/<serviceId>`: the providers discovery finds for the service, as the gateway would route
   * to them — for clients that sign tokens naming a provider themselves (`dsmp call --key` on a per-call
   * service, docs/protocol.md §6.7).
   */
  async #listProviders(req: IncomingMessage, res: ServerResponse, state: RequestState, serviceId: string, signal: AbortSignal): Promise<void> {
    const problem = serviceIdProblem(serviceId);
    if (problem !== undefined) return this.#answerError(res, state, "bad-request", problem);
    // `state.serviceId` stays unset: a listing is not a call of the service (metrics count it under "none").
    if (req.method !== "GET") return this.#answerError(res, state, "bad-request", `${req.method ?? "?"} /providers/${serviceId}: only GET`);
    if (this.#status !== "started") return this.#answerError(res, state, "gateway-stopping", "the gateway is shutting down");
    const found = await this.#discover(serviceId, res, state, signal);
    if (found === undefined) return;
    const providers = [...found].map(([peerId, p]) => ({ peerId, node: nodeOf(p.peerId) ?? null, load: p.load ?? null }));
    state.status = 200;
    const json = JSON.stringify({ serviceId, providers });
    res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(json)), [ATTEMPTS_HEADER]: "0" });
    res.end(json);
  }

  #answerError(res: ServerResponse, state: RequestState, code: GatewayErrorCode, reason: string, status = GATEWAY_ERROR_STATUS[code]): void {
    state.status = status;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const body: GatewayErrorBody = { error: code, reason, serviceId: state.serviceId ?? null };
    const json = JSON.stringify(body);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(json)),
      [ATTEMPTS_HEADER]: String(state.attempts),
    };
    if (this.#status !== "started") headers.connection = "close";
    res.writeHead(status, headers);
    res.end(json);
  }
}
