/**
 * Provider side of `/dsmp/http/1.0.0`: each inbound stream carries one HTTP request for a service this node
 * serves; the handler forwards it to the service's backend over plain HTTP and streams the answer back.
 *
 * Bodies stream both ways with back-pressure (a frame at a time; the backend socket and the libp2p stream
 * each wait for 'drain'), the caller's deadline aborts the backend request, hop-by-hop headers are dropped
 * and every response carries `x-dsmp-provider: <our PeerId>`. A peer that breaks the framing rules gets an
 * ERROR frame and its stream is aborted; nothing a peer sends can throw out of the handler.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Connection, Libp2p, Stream } from "@libp2p/interface";
import { Agent as BackendDispatcher, type Dispatcher } from "undici";
import { HttpFrameError, MeshRequestError, type MeshErrorCode } from "../errors.ts";
import { createSilentLogger, type Logger } from "../log.ts";
import { raceAbort } from "./abort-race.ts";
import { StreamExchangeChannel, type ExchangeChannel } from "./exchange-channel.ts";
import { RequestFrameSequence } from "./frame-sequence.ts";
import { HTTP_PROTOCOL_ID, MAX_ERROR_MESSAGE_LENGTH, splitBody, type HeaderPair, type HttpFrame, type RequestHead } from "./http-frames.ts";
import { flattenHeaders, headerPairsFromRaw, headersObject, PROVIDER_HEADER, stripHopByHop } from "./http-headers.ts";
import { ACCESS_HEADER } from "./access/request-token.ts";
import { ProviderSession } from "./provider-session.ts";
import { DEFAULT_MAX_INBOUND_SESSIONS, MESH_PROTOCOL_ID } from "./session-protocol.ts";

/** Time a peer has to send its REQUEST_HEAD after opening a stream: 10 s, generous for a slow link. */
export const DEFAULT_HEAD_TIMEOUT_MS = 10_000;
/**
 * Longest a request may run here whatever deadline the caller sent: 5 min. Bounds what one peer can tie
 * up; long enough for large uploads and slow reports.
 */
export const DEFAULT_MAX_REQUEST_MS = 5 * 60_000;
/** Concurrent requests per connection (yamux streams): 256, so one busy gateway is not capped at libp2p's 32. */
export const DEFAULT_MAX_INBOUND_STREAMS = 256;
/** How long `stop()` lets requests in flight finish before aborting them. */
export const DEFAULT_PROVIDER_DRAIN_TIMEOUT_MS = 10_000;
/** Reason an exchange's signal is aborted with when it is over: shared, as `abort()` would build a DOMException each time. */
const EXCHANGE_OVER = Object.freeze(new Error("the exchange is over"));
/** Bound on sending an ERROR frame to a peer that does not read. */
const ERROR_SEND_TIMEOUT_MS = 1_000;
/** Connect errors: the backend never saw the request, so another provider may be tried safely. */
const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/** The backend of a service id, or `undefined` if this node does not serve it. */
export type BackendResolver = (serviceId: bigint) => URL | undefined;

/** How one exchange ended: `peer-reset` when the caller gave up (RESET frame or stream reset). */
export type ProviderOutcome = { status: number } | { error: MeshErrorCode | "peer-reset" };

/** Hooks for metrics (prom-client wiring comes later). `serviceId` may be one this node does not serve. */
export interface HttpProviderMetrics {
  /** A valid REQUEST_HEAD arrived. */
  requestStarted(event: { serviceId: string; method: string }): void;
  /**
   * An exchange ended, successfully (`status`) or not (`error`): one call per stream on which the peer
   * sent anything (a stream closed before its first byte is not a request).
   */
  requestFinished(event: {
    serviceId: string | undefined;
    outcome: ProviderOutcome;
    durationSeconds: number;
    requestBytes: number;
    responseBytes: number;
  }): void;
}

/** A call that passed {@link HttpProviderInit.authorize} and was answered by the backend. */
export interface ServedCall {
  status: number;
  requestBytes: number;
  responseBytes: number;
  durationMs: number;
}

/** What the access check says about one request. */
export type ProviderAuthorization =
  | {
      allow: true;
      /** Called once the response is fully sent (metering). */
      onServed?: ((call: ServedCall) => void) | undefined;
      /** Called instead when the request ends without a complete response (a failure, a reset, a deadline). */
      onUnserved?: (() => void) | undefined;
    }
  | { allow: false; code: MeshErrorCode; message: string };

/** The access check of a request for a service this node serves (docs/protocol.md §8). Must not throw. */
export type ProviderAuthorize = (request: { serviceId: bigint; head: RequestHead; peer: string }) => Promise<ProviderAuthorization>;

export interface HttpProviderInit {
  /** Backend base URL (`http:` or `https:`) of each served service; its path is a prefix, its query is ignored. */
  backends: ReadonlyMap<bigint, URL> | BackendResolver;
  /** @default {@link DEFAULT_HEAD_TIMEOUT_MS} */
  headTimeoutMs?: number | undefined;
  /** @default {@link DEFAULT_MAX_REQUEST_MS} */
  maxRequestMs?: number | undefined;
  /** @default {@link DEFAULT_MAX_INBOUND_STREAMS} */
  maxInboundStreams?: number | undefined;
  /** @default {@link DEFAULT_PROVIDER_DRAIN_TIMEOUT_MS} */
  drainTimeoutMs?: number | undefined;
  /** `/dsmp/mesh/1.0.0` session streams per connection. @default {@link DEFAULT_MAX_INBOUND_SESSIONS} */
  maxInboundSessions?: number | undefined;
  metrics?: HttpProviderMetrics | undefined;
  /**
   * Access check, run after the service is known to be served and before the backend is contacted; a refusal
   * becomes an ERROR frame (`unauthorized` / `forbidden` / `busy`) and the backend never sees the request.
   * Absent: every request is served. The `dsmp-access` header is never forwarded to the backend.
   */
  authorize?: ProviderAuthorize | undefined;
}

export interface HttpProviderComponents {
  libp2p: Pick<Libp2p, "handle" | "unhandle" | "peerId">;
  logger?: Logger | undefined;
}

export interface HttpProvider {
  /** Register the protocol handler. */
  start(): Promise<void>;
  /** Unregister, let requests in flight finish (bounded by `drainTimeoutMs`), abort the rest. Idempotent. */
  stop(): Promise<void>;
  /** Serve one stream (what the registered handler calls); never rejects. */
  handleStream(stream: Stream, connection: Connection): Promise<void>;
  /** Serve one `/dsmp/mesh/1.0.0` session stream (what the registered handler calls; also a node's own gateway, in memory). */
  handleSession(stream: Stream, connection: Connection): void;
  /** New requests and sessions are taken (false before `start()` and from `stop()` on). */
  readonly accepting: boolean;
  /** Streams being served. */
  readonly inFlight: number;
}

type Status = "stopped" | "started" | "stopping";

/**
 * @example
 * const provider = createHttpProvider({ backends: new Map([[1n, new URL("http://127.0.0.1:8080")]]) })({ libp2p });
 * await provider.start();
 */
export function createHttpProvider(init: HttpProviderInit): (components: HttpProviderComponents) => HttpProvider {
  return (components) => new HttpProviderService(init, components);
}

class HttpProviderService implements HttpProvider {
  readonly #libp2p: HttpProviderComponents["libp2p"];
  readonly #log: Logger;
  readonly #resolve: BackendResolver;
  readonly #headTimeoutMs: number;
  readonly #maxRequestMs: number;
  readonly #maxInboundStreams: number;
  readonly #drainTimeoutMs: number;
  readonly #metrics: HttpProviderMetrics | undefined;
  readonly #authorize: ProviderAuthorize | undefined;
  readonly #peerId: string;
  readonly #maxInboundSessions: number;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #sessions = new Set<ProviderSession>();
  readonly #httpAgent = new HttpAgent({ keepAlive: true });
  readonly #httpsAgent = new HttpsAgent({ keepAlive: true });
  /** undici's pool per backend origin, made on first use (after `stop()` destroyed the last one). */
  #dispatcher: BackendDispatcher | undefined;
  #root = new AbortController();
  #status: Status = "stopped";

  constructor(init: HttpProviderInit, components: HttpProviderComponents) {
    this.#libp2p = components.libp2p;
    this.#log = (components.logger ?? createSilentLogger()).child({ module: "mesh-provider" });
    const backends = init.backends;
    this.#resolve = typeof backends === "function" ? backends : (serviceId) => backends.get(serviceId);
    this.#headTimeoutMs = init.headTimeoutMs ?? DEFAULT_HEAD_TIMEOUT_MS;
    this.#maxRequestMs = init.maxRequestMs ?? DEFAULT_MAX_REQUEST_MS;
    this.#maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS;
    this.#drainTimeoutMs = init.drainTimeoutMs ?? DEFAULT_PROVIDER_DRAIN_TIMEOUT_MS;
    this.#maxInboundSessions = init.maxInboundSessions ?? DEFAULT_MAX_INBOUND_SESSIONS;
    this.#metrics = init.metrics;
    this.#authorize = init.authorize;
    this.#peerId = components.libp2p.peerId.toString();
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  async start(): Promise<void> {
    if (this.#status !== "stopped") return;
    this.#root = new AbortController();
    await this.#libp2p.handle(HTTP_PROTOCOL_ID, (stream, connection) => this.handleStream(stream, connection), {
      maxInboundStreams: this.#maxInboundStreams,
    });
    await this.#libp2p.handle(MESH_PROTOCOL_ID, (stream, connection) => this.handleSession(stream, connection), {
      maxInboundStreams: this.#maxInboundSessions,
    });
    this.#status = "started";
  }

  async stop(): Promise<void> {
    if (this.#status !== "started") return;
    this.#status = "stopping";
    for (const protocol of [HTTP_PROTOCOL_ID, MESH_PROTOCOL_ID]) {
      try {
        await this.#libp2p.unhandle(protocol);
      } catch (error) {
        this.#log.warn({ err: error, protocol }, "unregistering a mesh protocol handler failed");
      }
    }
    if (this.#inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const drained = Promise.allSettled([...this.#inFlight]);
      await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#drainTimeoutMs)))]);
      clearTimeout(timer);
    }
    this.#root.abort(new MeshRequestError("internal", "the provider is stopping"));
    await Promise.allSettled([...this.#inFlight]);
    // Let the last ERROR/END frames go out (they leave on the next event-loop turn), then reset the sessions.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const session of this.#sessions) session.abort(new Error("the provider stopped"));
    this.#sessions.clear();
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
    const dispatcher = this.#dispatcher;
    this.#dispatcher = undefined;
    await dispatcher?.destroy().catch(() => {});
    this.#status = "stopped";
  }

  handleStream(stream: Stream, connection: Connection): Promise<void> {
    return this.serveExchange(new StreamExchangeChannel(stream), connection);
  }

  /** Serve one `/dsmp/mesh/1.0.0` session stream until it closes (what the registered handler calls). */
  handleSession(stream: Stream, connection: Connection): void {
    if (this.#status !== "started") {
      stream.abort(new Error("the provider is stopping"));
      return;
    }
    const session = new ProviderSession(stream, connection, this);
    this.#sessions.add(session);
    void session.closed().finally(() => this.#sessions.delete(session));
  }

  /** New requests are taken (false while stopping: sessions answer them `busy`). */
  get accepting(): boolean {
    return this.#status === "started";
  }

  /** Serve one exchange, whatever carries it (a 1.0.0 stream or a request of a session); never rejects. */
  serveExchange(channel: ExchangeChannel, connection: Connection): Promise<void> {
    const served = new ProviderExchange(this, channel, connection)
      .run()
      .catch((error: unknown) => this.#log.error({ err: error }, "unexpected error serving a stream"));
    this.#inFlight.add(served);
    void served.finally(() => this.#inFlight.delete(served));
    return served;
  }

  // Read by ProviderExchange.
  get log(): Logger {
    return this.#log;
  }
  get rootSignal(): AbortSignal {
    return this.#root.signal;
  }
  get peerId(): string {
    return this.#peerId;
  }
  get headTimeoutMs(): number {
    return this.#headTimeoutMs;
  }
  get maxRequestMs(): number {
    return this.#maxRequestMs;
  }
  get metrics(): HttpProviderMetrics | undefined {
    return this.#metrics;
  }
  get authorize(): ProviderAuthorize | undefined {
    return this.#authorize;
  }
  backendOf(serviceId: bigint): URL | undefined {
    return this.#resolve(serviceId);
  }
  agentFor(url: URL): HttpAgent {
    return url.protocol === "https:" ? this.#httpsAgent : this.#httpAgent;
  }
  get dispatcher(): BackendDispatcher {
    // Our own deadline bounds every request; undici's 300 s header and body timeouts would cut long ones.
    return (this.#dispatcher ??= new BackendDispatcher({ headersTimeout: 0, bodyTimeout: 0 }));
  }
}

/** A failure of one exchange: an ERROR frame to send, or `peer-reset` (the caller left; nothing to send). */
interface Failure {
  reason: MeshErrorCode | "peer-reset";
  message: string;
}

function failureOf(error: unknown): Failure {
  if (error instanceof MeshRequestError) return { reason: error.reason, message: error.message };
  if (error instanceof HttpFrameError) {
    const tooLarge = error.reason === "head-too-large" || error.reason === "too-many-headers";
    return { reason: tooLarge ? "head-too-large" : "protocol-error", message: error.message };
  }
  return { reason: "internal", message: error instanceof Error ? error.message : String(error) };
}

function backendFailure(error: unknown): MeshRequestError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const unavailable = code !== undefined && CONNECT_ERROR_CODES.has(code);
  return new MeshRequestError(unavailable ? "backend-unavailable" : "backend-failed", `backend: ${(error as Error).message}`, { cause: error });
}

/** `base` path (without a trailing slash) followed by the request target. Never URL resolution: `//host` stays a path. */
function backendPath(base: URL, target: string): string {
  return base.pathname.replace(/\/+$/, "") + target;
}

function waitForDrain(request: ClientRequest, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      request.off("drain", onDrain);
      request.off("close", onClose);
      signal.removeEventListener("abort", onAbort);
    };
    const onDrain = (): void => (cleanup(), resolve());
    const onClose = (): void => (cleanup(), reject(new MeshRequestError("backend-failed", "the backend request closed")));
    const onAbort = (): void => (cleanup(), reject(signal.reason));
    if (signal.aborted) return reject(signal.reason);
    request.on("drain", onDrain);
    request.on("close", onClose);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** {@link nextChunk}: nothing buffered yet, wait for the stream ({@link waitForReadable}). */
const WAIT = Symbol("wait");

/**
 * The backend response's next buffered bytes, `null` at its end, or {@link WAIT}. Paused-mode `read()`
 * rather than the stream's async iterator, which costs an async generator, end-of-stream watchers and
 * promises per response (measurable at one request per event-loop turn).
 * @throws if the response was cut short (the backend closed the connection mid-body).
 */
function nextChunk(response: IncomingMessage): Buffer | null | typeof WAIT {
  const data = response.read() as Buffer | null;
  if (data !== null) return data;
  // Only after 'end': by then the request is finished and its socket back with the agent, so aborting the
  // exchange's signal (passed to the request) can no longer destroy that socket.
  if (response.readableEnded) return null;
  if (response.errored !== null) throw response.errored;
  if (response.destroyed) throw new Error("the backend response ended early");
  return WAIT;
}

/** Resolves at the response's next event (data, end, error, close); rejects with `signal`'s reason. */
function waitForReadable(response: IncomingMessage, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      response.off("readable", onEvent);
      response.off("end", onEvent);
      response.off("close", onEvent);
      response.off("error", onEvent);
      signal.removeEventListener("abort", onAbort);
    };
    const onEvent = (): void => (cleanup(), resolve());
    const onAbort = (): void => (cleanup(), reject(signal.reason));
    if (signal.aborted) return reject(signal.reason);
    response.on("readable", onEvent);
    response.on("end", onEvent);
    response.on("close", onEvent);
    response.on("error", onEvent); // nextChunk then throws response.errored
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** A backend's response as the relay reads it, whichever client fetched it. */
interface BackendAnswer {
  readonly status: number;
  /** Lowercase names, in order, duplicates kept. */
  readonly headers: HeaderPair[];
  /** The next body bytes, `null` at the end, or {@link WAIT}. @throws if the response failed. */
  next(): Uint8Array | null | typeof WAIT;
  /** Resolves when {@link next} may have more to say; rejects with `signal`'s reason. */
  wait(signal: AbortSignal): Promise<void>;
}

function incomingAnswer(response: IncomingMessage): BackendAnswer {
  return {
    status: response.statusCode ?? 0,
    headers: headerPairsFromRaw(response.rawHeaders),
    next: () => nextChunk(response),
    wait: (signal) => waitForReadable(response, signal),
  };
}

/** Response bytes buffered from undici before it is asked to stop reading the backend socket: 256 KiB. */
const DISPATCH_BUFFER_BYTES = 256 * 1024;

/** Raw header list (Buffers or strings, name/value alternating) as lowercase pairs. */
function headerPairsOf(raw: unknown, parsed: Record<string, string | string[] | undefined>): HeaderPair[] {
  if (Array.isArray(raw)) {
    const pairs: HeaderPair[] = [];
    for (let index = 0; index + 1 < raw.length; index += 2) {
      const name = raw[index] as Buffer | string;
      const value = raw[index + 1] as Buffer | string;
      // latin1, as node:http decodes header bytes.
      pairs.push([(typeof name === "string" ? name : name.toString("latin1")).toLowerCase(), typeof value === "string" ? value : value.toString("latin1")]);
    }
    return pairs;
  }
  const pairs: HeaderPair[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) pairs.push([name.toLowerCase(), one]);
  }
  return pairs;
}

/**
 * undici's handler of one backend request and the {@link BackendAnswer} of its response: body chunks are
 * queued as they arrive and the backend socket is paused above {@link DISPATCH_BUFFER_BYTES} (back-pressure).
 * Aborting `signal` aborts the request until the response is complete, never after: the connection then
 * goes back to the pool.
 */
class DispatchedAnswer implements Dispatcher.DispatchHandler, BackendAnswer {
  status = 0;
  headers: HeaderPair[] = [];
  readonly head: Promise<BackendAnswer>;
  readonly #signal: AbortSignal;
  readonly #chunks: Uint8Array[] = [];
  #resolveHead!: (answer: BackendAnswer) => void;
  #rejectHead!: (error: unknown) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #buffered = 0;
  #ended = false;
  #error: unknown;
  #wake: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(signal: AbortSignal) {
    this.#signal = signal;
    this.head = new Promise<BackendAnswer>((resolve, reject) => {
      this.#resolveHead = resolve;
      this.#rejectHead = reject;
    });
    this.head.catch(() => {});
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  readonly #onAbort = (): void => {
    this.#controller?.abort(this.#signal.reason as Error);
    this.#settle(this.#signal.reason);
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#signal.aborted) controller.abort(this.#signal.reason as Error);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // 1xx: informational, the final head follows
    this.status = statusCode;
    this.headers = headerPairsOf((controller as { rawHeaders?: unknown }).rawHeaders, headers);
    this.#resolveHead(this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    if (this.#buffered >= DISPATCH_BUFFER_BYTES) controller.pause();
    this.#wakeReader();
  }

  onResponseEnd(): void {
    this.#ended = true;
    this.#signal.removeEventListener("abort", this.#onAbort);
    this.#wakeReader();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#settle(error);
  }

  next(): Uint8Array | null | typeof WAIT {
    const chunk = this.#chunks.shift();
    if (chunk !== undefined) {
      this.#buffered -= chunk.byteLength;
      if (this.#controller?.paused === true && this.#buffered < DISPATCH_BUFFER_BYTES / 2) this.#controller.resume();
      return chunk;
    }
    if (this.#ended) return null;
    if (this.#error !== undefined) throw this.#error;
    return WAIT;
  }

  wait(signal: AbortSignal): Promise<void> {
    if (this.#wake === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((done) => (resolve = done));
      this.#wake = { promise, resolve };
    }
    return raceAbort(this.#wake.promise, signal);
  }

  /** The request failed or was aborted: fail the head if it has not come, and any read. */
  #settle(error: unknown): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#error = error;
    this.#signal.removeEventListener("abort", this.#onAbort);
    this.#rejectHead(error);
    this.#wakeReader();
  }

  #wakeReader(): void {
    this.#wake?.resolve();
    this.#wake = undefined;
  }
}

/**
 * One request: read the head, forward, stream both bodies, report. The frames come and go through an
 * {@link ExchangeChannel}: a whole `/dsmp/http/1.0.0` stream or one request of a `/dsmp/mesh/1.0.0` session.
 */
class ProviderExchange {
  readonly #service: HttpProviderService;
  readonly #frames: ExchangeChannel;
  readonly #connection: Connection;
  readonly #sequence = new RequestFrameSequence();
  readonly #abort = new AbortController();
  readonly #started = performance.now();
  #failure: Failure | undefined;
  #serviceId: string | undefined;
  #requestId = 0;
  #requestBytes = 0;
  #responseBytes = 0;
  #responseDone = false;
  #pumpDone = false;
  #onServed: ((call: ServedCall) => void) | undefined;
  #onUnserved: (() => void) | undefined;

  constructor(service: HttpProviderService, channel: ExchangeChannel, connection: Connection) {
    this.#service = service;
    this.#frames = channel;
    this.#connection = connection;
    channel.onPeerLeft(() => this.#peerLeft());
  }

  /** Record the first failure and abort everything the exchange waits on. */
  #fail = (error: unknown): void => {
    if (this.#failure === undefined && !this.#responseDone) this.#failure = failureOf(error);
    this.#abort.abort(error);
  };

  /** The caller reset the request or its stream: stop, send nothing. */
  #peerLeft(): void {
    if (this.#failure === undefined && !this.#responseDone) this.#failure = { reason: "peer-reset", message: "the caller left" };
    this.#abort.abort(new MeshRequestError("internal", "the caller left"));
  }

  async run(): Promise<void> {
    const onStop = (): void => this.#fail(this.#service.rootSignal.reason);
    this.#service.rootSignal.addEventListener("abort", onStop, { once: true });
    let status: number | undefined;
    try {
      const head = await this.#readHead();
      if (head !== undefined) status = await this.#forward(head);
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#service.rootSignal.removeEventListener("abort", onStop);
    }
    await this.#finish(status);
  }

  /** The REQUEST_HEAD, or `undefined` when the peer closed or reset before sending one. */
  async #readHead(): Promise<RequestHead | undefined> {
    // On a session the head is there already: skip the timer and composite signal (measurable per request).
    let frame: HttpFrame | null | undefined = this.#frames.takeReady?.();
    if (frame === undefined) {
      const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#service.headTimeoutMs)]);
      try {
        frame = await this.#frames.read(signal);
      } catch (error) {
        if (signal.aborted && !this.#abort.signal.aborted) {
          throw new MeshRequestError("protocol-error", `no request head within ${this.#service.headTimeoutMs} ms`);
        }
        throw error;
      }
    }
    if (frame === null) return undefined;
    this.#sequence.accept(frame);
    if (frame.type !== "request-head") return undefined;
    this.#requestId = frame.requestId;
    this.#serviceId = frame.head.serviceId;
    this.#service.metrics?.requestStarted({ serviceId: frame.head.serviceId, method: frame.head.method });
    return frame.head;
  }

  /** Forward to the backend and stream the response; resolves with the status sent. */
  async #forward(head: RequestHead): Promise<number> {
    if (head.method.toUpperCase() === "CONNECT") throw new MeshRequestError("bad-request", "CONNECT is not forwarded");
    const backend = this.#service.backendOf(BigInt(head.serviceId));
    if (backend === undefined) throw new MeshRequestError("unknown-service", `service ${head.serviceId} is not served by ${this.#service.peerId}`);
    const authorize = this.#service.authorize;
    if (authorize !== undefined) {
      const authorization = await authorize({ serviceId: BigInt(head.serviceId), head, peer: this.#connection.remotePeer.toString() });
      if (!authorization.allow) {
        // The ERROR frame's message is the refusal's own (it starts with the denial reason), not prefixed by the code.
        this.#failure ??= { reason: authorization.code, message: authorization.message };
        throw new MeshRequestError(authorization.code, authorization.message);
      }
      this.#onServed = authorization.onServed;
      this.#onUnserved = authorization.onUnserved;
    }
    const now = Date.now();
    const remaining = Math.min(head.deadline, now + this.#service.maxRequestMs) - now;
    if (remaining <= 0) throw new MeshRequestError("deadline-exceeded", "the deadline passed before the request arrived");
    const deadline = setTimeout(() => this.#fail(new MeshRequestError("deadline-exceeded", `no complete response within ${remaining} ms`)), remaining);
    const signal = this.#abort.signal;
    try {
      const path = backendPath(backend, head.path);
      // The whole request is here already (head, body, END): one undici dispatch, no body pump.
      const body = this.#frames.takeBufferedBody?.();
      if (body !== undefined) {
        this.#pumpDone = true;
        return await this.#relayResponse(await this.#dispatch(backend, head, path, body, signal), signal, undefined);
      }
      const options: RequestOptions = {
        protocol: backend.protocol,
        hostname: backend.hostname,
        port: backend.port === "" ? undefined : Number(backend.port),
        path,
        method: head.method,
        headers: headersObject(stripHopByHop(head.headers, ["host", ACCESS_HEADER])),
        agent: this.#service.agentFor(backend),
        signal,
      };
      let request: ClientRequest;
      try {
        request = (backend.protocol === "https:" ? httpsRequest : httpRequest)(options);
      } catch (error) {
        throw new MeshRequestError("bad-request", `the backend request cannot be built: ${(error as Error).message}`, { cause: error });
      }
      const response = new Promise<IncomingMessage>((resolve, reject) => {
        request.on("response", resolve);
        request.on("error", (error) => {
          const failure = signal.aborted ? signal.reason : backendFailure(error);
          reject(failure);
          this.#fail(failure);
        });
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
      response.catch(() => {});
      // Send the head now rather than with the first body byte: the backend starts work while the body streams.
      request.flushHeaders();
      const pump = this.#pumpRequestBody(request, signal);
      return await this.#relayResponse(incomingAnswer(await response), signal, pump);
    } finally {
      clearTimeout(deadline);
    }
  }

  /** Send a complete request (`body`: its chunks, possibly none) through undici; resolves at the response head. */
  async #dispatch(backend: URL, head: RequestHead, path: string, body: Uint8Array[], signal: AbortSignal): Promise<BackendAnswer> {
    let payload: Uint8Array | null = null;
    if (body.length === 1) payload = body[0]!;
    else if (body.length > 1) payload = Buffer.concat(body);
    this.#requestBytes += payload?.byteLength ?? 0;
    // `expect`: the gateway's HTTP server already answered 100-continue, and the body is all here.
    const headers = flattenHeaders(stripHopByHop(head.headers, ["host", "expect", ACCESS_HEADER]));
    const answer = new DispatchedAnswer(signal);
    try {
      this.#service.dispatcher.dispatch({ origin: backend.origin, path, method: head.method, headers, body: payload }, answer);
      return await answer.head;
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if ((error as { code?: unknown }).code === "UND_ERR_INVALID_ARG" || (error as { code?: unknown }).code === "UND_ERR_NOT_SUPPORTED") {
        throw new MeshRequestError("bad-request", `the backend request cannot be built: ${(error as Error).message}`, { cause: error });
      }
      throw backendFailure(error);
    }
  }

  /** Copy BODY frames into the backend request until END; then watch for a RESET until the peer closes. */
  async #pumpRequestBody(request: ClientRequest, signal: AbortSignal): Promise<void> {
    try {
      await this.#pumpFrames(request, signal);
    } finally {
      this.#pumpDone = true;
    }
  }

  async #pumpFrames(request: ClientRequest, signal: AbortSignal): Promise<void> {
    try {
      for (;;) {
        const frame = await this.#frames.read(signal);
        if (frame === null) {
          if (this.#sequence.state === "ended") return;
          throw new HttpFrameError("truncated", "the stream ended before the request's END frame");
        }
        this.#sequence.accept(frame);
        if (frame.type === "reset") {
          this.#peerLeft();
          return;
        }
        if (frame.type === "end") {
          request.end();
        } else if (frame.type === "body") {
          this.#requestBytes += frame.chunk.byteLength;
          if (!request.write(frame.chunk)) await waitForDrain(request, signal);
        }
      }
    } catch (error) {
      if (this.#responseDone || signal.aborted) return;
      // Our own errors say what went wrong; anything else is the stream failing under us: the caller left.
      if (error instanceof HttpFrameError || error instanceof MeshRequestError) this.#fail(error);
      else this.#peerLeft();
    }
  }

  async #relayResponse(response: BackendAnswer, signal: AbortSignal, pump: Promise<void> | undefined): Promise<number> {
    const status = response.status;
    if (status < 200 || status > 599) throw new MeshRequestError("backend-failed", `backend answered status ${status}`);
    const headers = stripHopByHop(response.headers, [PROVIDER_HEADER]);
    headers.push([PROVIDER_HEADER, this.#service.peerId]);
    try {
      await this.#frames.write({ type: "response-head", requestId: this.#requestId, head: { status, headers } }, signal);
    } catch (error) {
      if (error instanceof HttpFrameError) throw new MeshRequestError("backend-failed", `backend response head: ${error.message}`, { cause: error });
      throw error;
    }
    try {
      for (let chunk = response.next(); chunk !== null; chunk = response.next()) {
        if (chunk === WAIT) {
          await response.wait(signal);
          continue;
        }
        for (const part of splitBody(chunk)) {
          await this.#frames.write({ type: "body", requestId: this.#requestId, chunk: part }, signal);
          this.#responseBytes += part.byteLength;
        }
      }
    } catch (error) {
      throw signal.aborted ? signal.reason : backendFailure(error);
    }
    await this.#frames.write({ type: "end", requestId: this.#requestId }, signal);
    this.#responseDone = true;
    await this.#frames.closeWrite(signal);
    // The caller closes its end after its own END; a caller that still sends is cut off by the reset below.
    // Usually its END came with the head and the pump is done: nothing to wait for.
    if (!this.#pumpDone && pump !== undefined) await Promise.race([pump, new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }))]);
    return status;
  }

  async #finish(status: number | undefined): Promise<void> {
    const failure = this.#failure;
    const outcome = failure === undefined ? (status === undefined ? undefined : { status }) : { error: failure.reason };
    if (failure !== undefined && failure.reason !== "peer-reset") {
      this.#service.log.debug(
        { peer: this.#connection.remotePeer.toString(), serviceId: this.#serviceId, reason: failure.reason, message: failure.message },
        "request failed",
      );
      await this.#sendError(failure.reason, failure.message);
    }
    if (!this.#abort.signal.aborted) this.#abort.abort(EXCHANGE_OVER);
    this.#frames.release(failure === undefined ? undefined : new MeshRequestError("internal", failure.message));
    if (failure === undefined && status !== undefined && this.#onServed !== undefined) {
      try {
        this.#onServed({ status, requestBytes: this.#requestBytes, responseBytes: this.#responseBytes, durationMs: performance.now() - this.#started });
      } catch (error) {
        this.#service.log.warn({ err: error }, "recording a served call failed");
      }
    } else if (!(failure === undefined && status !== undefined) && this.#onUnserved !== undefined) {
      try {
        this.#onUnserved();
      } catch (error) {
        this.#service.log.warn({ err: error }, "releasing an unserved call failed");
      }
    }
    if (outcome !== undefined) {
      this.#service.metrics?.requestFinished({
        serviceId: this.#serviceId,
        outcome,
        durationSeconds: (performance.now() - this.#started) / 1000,
        requestBytes: this.#requestBytes,
        responseBytes: this.#responseBytes,
      });
    }
  }

  async #sendError(reason: MeshErrorCode, message: string): Promise<void> {
    if (!this.#frames.writable) return;
    const signal = AbortSignal.timeout(ERROR_SEND_TIMEOUT_MS);
    try {
      await this.#frames.write({ type: "error", requestId: this.#requestId, error: { code: reason, message: message.slice(0, MAX_ERROR_MESSAGE_LENGTH) } }, signal);
      await this.#frames.closeWrite(signal);
    } catch (error) {
      this.#service.log.debug({ err: error }, "could not send the ERROR frame");
    }
  }
}
