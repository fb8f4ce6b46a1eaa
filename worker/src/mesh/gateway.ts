/**
 * The gateway: a local HTTP server that forwards `ANY /svc/<serviceId>/<path…>` to a provider of that
 * service and streams the answer back (docs/protocol.md §6). How a request reaches the provider is the
 * {@link ProviderTransport}'s business: by default a pool of `/dsmp/mesh/1.0.0` sessions (§8).
 *
 * Providers come from an injected `resolveProviders` (the DHT discovery helper builds it) and are tried in
 * the order given: a provider that cannot be dialled is skipped; one that fails mid-request is retried on the
 * next only for idempotent methods, and only while the request body still fits the replay buffer. When
 * nothing can serve, the answer is a JSON `{error, reason, serviceId}` with 4xx/5xx. Every answer from a
 * provider carries `x-dsmp-provider` and `x-dsmp-attempts`.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Libp2p, PeerId } from "@libp2p/interface";
import { DEFAULT_GATEWAY_HOST, DEFAULT_GATEWAY_PORT, type GatewayOptions } from "../config.ts";
import { HttpFrameError, MeshRequestError, MeshTransportError, type MeshErrorCode } from "../errors.ts";
import { createSilentLogger, type Logger } from "../log.ts";
import { raceAbort } from "./abort-race.ts";
import { encodeFrame, HTTP_ERROR_STATUS, MAX_HEADER_COUNT, type RequestHead } from "./http-frames.ts";
import type { ProviderTransport, ResponseExchange } from "./provider-transport.ts";
import { createSessionTransport } from "./session-transport.ts";
import { ATTEMPTS_HEADER, flattenHeaders, headerPairsFromRaw, PROVIDER_HEADER, stripHopByHop } from "./http-headers.ts";
import { DEFAULT_REPLAY_BUFFER_BYTES, ReplayableBody } from "./replayable-body.ts";

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
  | "gateway-stopping";

/** Status of every gateway error code (docs/protocol.md §6.4). */
export const GATEWAY_ERROR_STATUS: Readonly<Record<GatewayErrorCode, number>> = {
  ...HTTP_ERROR_STATUS,
  "not-found": 404,
  "no-providers": 503,
  "discovery-failed": 503,
  "providers-unreachable": 502,
  "provider-failed": 502,
  "gateway-stopping": 503,
};

/** The body of every error the gateway answers itself. */
export interface GatewayErrorBody {
  error: GatewayErrorCode;
  reason: string;
  /** The service id of the URL, or `null` when the URL has none. */
  serviceId: string | null;
}

/** Providers of a service, best first; the gateway tries them in this order. */
export type ResolveProviders = (serviceId: bigint, signal: AbortSignal) => Promise<PeerId[]>;

/** Hooks for metrics (prom-client wiring comes later). */
export interface GatewayMetrics {
  /** One call per HTTP request; `provider` is set when a provider's response was relayed. */
  requestFinished(event: { serviceId: string | undefined; status: number; attempts: number; provider: string | undefined; durationSeconds: number }): void;
}

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
}

export interface Gateway {
  /** Listen on the configured host and port. */
  start(): Promise<void>;
  /** Stop accepting, let requests in flight finish (bounded by `drainTimeoutMs`), cut the rest. Idempotent. */
  stop(): Promise<void>;
  /** Where it listens (the real port when configured with 0). */
  address(): { host: string; port: number };
  readonly inFlight: number;
}

/** A request path split into service id and the path for the service, or why it cannot be. */
export type GatewayRoute = { serviceId: string; path: string } | { error: "not-found" | "bad-request"; reason: string };

const SERVICE_URL = /^\/svc\/([^/?]*)(\/[^?]*)?(\?.*)?$/;
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
  if (!DECIMAL.test(serviceId) || BigInt(serviceId) >= 2n ** 256n) {
    return { error: "bad-request", reason: `service id ${JSON.stringify(serviceId.slice(0, 80))} is not a decimal uint256` };
  }
  return { serviceId, path: path + query };
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
  /** Aborted when the client leaves or its body fails. */
  client: AbortController;
  timeout: AbortController;
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What a failed {@link ProviderTransport.exchange} means for the request: the error to answer, and whether another provider may be tried. */
function attemptFailure(peer: PeerId, head: RequestHead, error: unknown, signal: AbortSignal): AttemptFailure {
  const retryIfIdempotent = IDEMPOTENT_METHODS.has(head.method.toUpperCase()) && !signal.aborted;
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
  readonly #reusePort: boolean;
  readonly #transport: ProviderTransport;
  /** The transport was built here (not injected), so `stop()` closes it. */
  readonly #ownsTransport: boolean;
  readonly #resolveProviders: ResolveProviders;
  readonly #log: Logger;
  readonly #metrics: GatewayMetrics | undefined;
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
    this.#reusePort = init.reusePort ?? false;
    this.#resolveProviders = components.resolveProviders;
    this.#log = (components.logger ?? createSilentLogger()).child({ module: "gateway" });
    this.#ownsTransport = components.transport === undefined;
    this.#transport =
      components.transport ??
      createSessionTransport({ dialTimeoutMs: init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS })({ libp2p: components.libp2p, logger: this.#log });
    this.#metrics = components.metrics;
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
    this.#root.abort(new MeshRequestError("internal", "the gateway stopped"));
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
      client: new AbortController(),
      timeout: new AbortController(),
    };
    res.once("close", () => {
      if (!res.writableFinished) state.client.abort(new Error("the client left"));
    });
    const timer = setTimeout(
      () => state.timeout.abort(new MeshRequestError("deadline-exceeded", `no complete response within ${this.#requestTimeoutMs} ms`)),
      this.#requestTimeoutMs,
    );
    const signal = AbortSignal.any([state.client.signal, state.timeout.signal, this.#root.signal]);
    try {
      await this.#route(req, res, state, signal);
    } catch (error) {
      this.#log.error({ err: error, url: req.url }, "unexpected gateway error");
      this.#answerError(res, state, "internal", "unexpected gateway error");
    } finally {
      clearTimeout(timer);
      const durationSeconds = (performance.now() - started) / 1000;
      this.#log.debug({ method: req.method, url: req.url, status: state.status, attempts: state.attempts, provider: state.provider }, "request");
      this.#metrics?.requestFinished({ serviceId: state.serviceId, status: state.status, attempts: state.attempts, provider: state.provider, durationSeconds });
    }
  }

  async #route(req: IncomingMessage, res: ServerResponse, state: RequestState, signal: AbortSignal): Promise<void> {
    const route = parseGatewayPath(req.url ?? "");
    if ("error" in route) return this.#answerError(res, state, route.error, route.reason);
    state.serviceId = route.serviceId;
    if (this.#status !== "started") return this.#answerError(res, state, "gateway-stopping", "the gateway is shutting down");

    const headers = stripHopByHop(headerPairsFromRaw(req.rawHeaders), ["host"]);
    if (headers.length > MAX_HEADER_COUNT) {
      return this.#answerError(res, state, "head-too-large", `${headers.length} headers, at most ${MAX_HEADER_COUNT}`);
    }
    const head: RequestHead = {
      method: req.method ?? "GET",
      path: route.path,
      headers,
      serviceId: route.serviceId,
      deadline: Date.now() + this.#requestTimeoutMs,
    };
    try {
      encodeFrame({ type: "request-head", requestId: 0, head });
    } catch (error) {
      if (!(error instanceof HttpFrameError)) throw error;
      const tooLarge = error.reason === "head-too-large" || error.reason === "too-many-headers";
      return this.#answerError(res, state, tooLarge ? "head-too-large" : "bad-request", error.details ?? error.shortMessage);
    }

    let providers: PeerId[];
    try {
      providers = await raceAbort(this.#resolveProviders(BigInt(route.serviceId), signal), signal);
    } catch (error) {
      if (signal.aborted) return this.#answerAborted(res, state);
      return this.#answerError(res, state, "discovery-failed", `provider discovery failed: ${messageOf(error)}`);
    }
    const seen = new Set<string>();
    const candidates = providers.filter((peer) => !seen.has(peer.toString()) && seen.add(peer.toString())).slice(0, this.#maxAttempts);
    if (candidates.length === 0) return this.#answerError(res, state, "no-providers", `no provider found for service ${route.serviceId}`);

    const body = new ReplayableBody(req, this.#replayBufferBytes);
    let failure: AttemptFailure | undefined;
    for (const peer of candidates) {
      if (signal.aborted) break;
      state.attempts += 1;
      failure = await this.#attempt(peer, head, body, res, state, signal);
      if (failure === undefined) return;
      this.#log.debug({ peer: peer.toString(), code: failure.code, reason: failure.reason }, "attempt failed");
      if (!failure.retry || !body.replayable) break;
    }
    if (signal.aborted) return this.#answerAborted(res, state);
    return this.#answerError(res, state, failure!.code, failure!.reason);
  }

  /**
   * One provider: hand the request to the transport, relay the response. `undefined` once the client got
   * an answer. Everything about streams and framing lives behind {@link ProviderTransport}.
   */
  async #attempt(
    peer: PeerId,
    head: RequestHead,
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
        if (body.failed) state.client.abort(error);
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
    if (state.timeout.signal.aborted) {
      return this.#answerError(res, state, "deadline-exceeded", `no response within ${this.#requestTimeoutMs} ms`);
    }
    if (this.#root.signal.aborted) return this.#answerError(res, state, "gateway-stopping", "the gateway is shutting down");
    state.status = 499; // the client left; nothing to answer (nginx's code, for logs and metrics only)
    res.destroy();
  }

  #answerError(res: ServerResponse, state: RequestState, code: GatewayErrorCode, reason: string): void {
    const status = GATEWAY_ERROR_STATUS[code];
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
