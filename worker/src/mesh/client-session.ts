/**
 * Gateway side of one `/dsmp/mesh/1.0.0` session stream (docs/protocol.md §10): many requests at once,
 * each with its own id, credit and response queue. Frames of all requests share one {@link SessionWriter}
 * (one `send()` per event-loop turn); incoming frames are decoded as they arrive and routed by id, so a
 * slow reader of one response never holds up the others (its credit runs out, not the stream's).
 *
 * A framing violation by the provider, the stream closing, or the connection dropping fails every
 * request in flight on this session with a {@link MeshTransportError}; the pool then opens a new session
 * for the next request.
 */
import type { Stream, StreamCloseEvent, StreamMessageEvent } from "@libp2p/interface";
import { HttpFrameError, MeshRequestError, MeshTransportError } from "../errors.ts";
import { abortReason, raceAbort } from "./abort-race.ts";
import { DEFAULT_REQUEST_WINDOW_BYTES, ReceiveWindow, SendCredit } from "./flow-credit.ts";
import { ResponseFrameSequence } from "./frame-sequence.ts";
import { encodeFrame, encodeRequestHeadFrame, HttpFrameDecoder, knownErrorCode, MAX_BODY_FRAME_BYTES, MAX_ERROR_MESSAGE_LENGTH, MAX_REQUEST_ID, type EncodedRequestHead, type HttpFrame, type ResponseHead } from "./http-frames.ts";
import type { RequestBodySource, ResponseExchange } from "./provider-transport.ts";
import { MAX_CONCURRENT_REQUESTS_PER_SESSION, SESSION_REQUEST_ID } from "./session-protocol.ts";
import { SessionWriter } from "./session-writer.ts";

export interface ClientSessionOptions {
  /** Requests in flight on this session at most. @default {@link MAX_CONCURRENT_REQUESTS_PER_SESSION} */
  maxConcurrent?: number | undefined;
  /** Called whenever a request leaves the session (a slot is free). */
  onSlotFreed?: ((session: ClientSession) => void) | undefined;
  /** Called once when the session can take no more requests (failed, closed, or out of ids). */
  onClosed?: ((session: ClientSession) => void) | undefined;
}

interface Wake {
  promise: Promise<void>;
  resolve: () => void;
}

function wake(): Wake {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

export class ClientSession {
  readonly stream: Stream;
  readonly writer: SessionWriter;
  readonly #decoder = new HttpFrameDecoder();
  readonly #requests = new Map<number, SessionRequest>();
  readonly #maxConcurrent: number;
  readonly #onSlotFreed: ((session: ClientSession) => void) | undefined;
  readonly #onClosed: ((session: ClientSession) => void) | undefined;
  #lastId = SESSION_REQUEST_ID;
  #failure: MeshTransportError | undefined;
  #closedNotified = false;
  /** Response body bytes received and not yet read, over all requests (bounded by credit: ≤ 256 KiB each). */
  bufferedBytes = 0;

  constructor(stream: Stream, options: ClientSessionOptions = {}) {
    this.stream = stream;
    this.writer = new SessionWriter(stream);
    this.#maxConcurrent = options.maxConcurrent ?? MAX_CONCURRENT_REQUESTS_PER_SESSION;
    this.#onSlotFreed = options.onSlotFreed;
    this.#onClosed = options.onClosed;
    // Credit bounds what the provider may send per request, so the stream is never paused; allow what a
    // full yamux window may deliver between two reads of ours.
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, 16 * 1024 * 1024);
    stream.addEventListener("message", (event: StreamMessageEvent) => this.#onBytes(event.data.subarray()));
    stream.addEventListener("remoteCloseWrite", () => this.#fail(new MeshTransportError("connection-lost", "the provider closed the session", { sent: true })));
    stream.addEventListener("close", (event: StreamCloseEvent) =>
      this.#fail(new MeshTransportError("connection-lost", `the session stream closed${event.error === undefined ? "" : `: ${event.error.message}`}`, { sent: true, cause: event.error })),
    );
    // The provider may have reset or half-closed the stream before these listeners existed: their events are gone.
    if (stream.status !== "open") {
      this.#fail(new MeshTransportError("connection-lost", `the session stream is ${stream.status} before its first request`, { sent: false }));
    } else if (stream.remoteWriteStatus !== "writable") {
      this.#fail(new MeshTransportError("connection-lost", "the provider closed the session before its first request", { sent: false }));
    }
  }

  /** Requests in flight. */
  get active(): number {
    return this.#requests.size;
  }

  /** Whether {@link request} may be called: the session is up, has a free slot and request ids left. */
  get available(): boolean {
    return this.usable && this.#requests.size < this.#maxConcurrent;
  }

  /** The session is up and has request ids left (it may still be full). */
  get usable(): boolean {
    return this.#failure === undefined && this.#lastId < MAX_REQUEST_ID;
  }

  /**
   * Start a request on this session. The request is registered before this returns (so the caller's slot
   * is taken at once); the promise resolves with the response head.
   * @throws see {@link ProviderTransport.exchange}.
   */
  request(head: EncodedRequestHead, body: RequestBodySource, signal: AbortSignal): Promise<ResponseExchange> {
    if (this.#failure !== undefined) return Promise.reject(new MeshTransportError(this.#failure.reason, this.#failure.details ?? this.#failure.shortMessage, { sent: false }));
    if (signal.aborted) return Promise.reject(abortReason(signal));
    if (!this.available) return Promise.reject(new MeshTransportError("overloaded", "the session is full", { sent: false }));
    const id = ++this.#lastId;
    const request = new SessionRequest(this, id, signal);
    this.#requests.set(id, request);
    // The head was checked and serialized when `head` was made; only the request id is framed here.
    this.writer.push(encodeRequestHeadFrame(id, head));
    void request.sendBody(body);
    if (this.#lastId >= MAX_REQUEST_ID) this.#notifyClosed();
    return request.headPromise;
  }

  /** Close the session: every request in flight fails with `connection-lost`. Idempotent. */
  close(reason = "the session was closed"): void {
    this.#fail(new MeshTransportError("connection-lost", reason, { sent: true }));
  }

  // Used by SessionRequest.
  send(frame: HttpFrame): void {
    this.writer.push(encodeFrame(frame));
  }
  released(request: SessionRequest): void {
    if (this.#requests.get(request.id) !== request) return;
    this.#requests.delete(request.id);
    if (this.#failure === undefined) this.#onSlotFreed?.(this);
  }

  #onBytes(bytes: Uint8Array): void {
    if (this.#failure !== undefined) return;
    this.#decoder.push(bytes);
    try {
      for (let frame = this.#decoder.next(); frame !== undefined; frame = this.#decoder.next()) {
        this.#route(frame);
        if (this.#failure !== undefined) return;
      }
    } catch (error) {
      if (!(error instanceof HttpFrameError)) throw error;
      this.#violation(error);
    }
  }

  #route(frame: HttpFrame): void {
    if (frame.requestId === SESSION_REQUEST_ID) {
      if (frame.type !== "error") throw new HttpFrameError("unexpected-frame", `${frame.type} frame for request 0 (the session)`);
      const reason = frame.error.code === "protocol-error" ? "protocol-error" : "connection-lost";
      this.#fail(new MeshTransportError(reason, `the provider closed the session: ${frame.error.code}: ${frame.error.message}`, { sent: true }));
      return;
    }
    if (frame.requestId > this.#lastId) throw new HttpFrameError("wrong-request-id", `${frame.type} frame for request ${frame.requestId}, never opened`);
    // A request we gave up on (RESET sent) may still see frames the provider sent before it knew: ignore.
    this.#requests.get(frame.requestId)?.onFrame(frame);
  }

  /** The provider broke the framing rules: tell it (ERROR on id 0), reset the stream, fail every request. */
  #violation(error: HttpFrameError): void {
    const message = `${error.shortMessage}: ${error.details ?? ""}`.slice(0, MAX_ERROR_MESSAGE_LENGTH);
    try {
      if (this.stream.writeStatus === "writable") {
        this.stream.send(encodeFrame({ type: "error", requestId: SESSION_REQUEST_ID, error: { code: "protocol-error", message } }));
      }
    } catch {
      // the stream is going away anyway
    }
    this.#fail(new MeshTransportError("protocol-error", `the provider broke the session protocol: ${message}`, { sent: true, cause: error }));
  }

  #fail(error: MeshTransportError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.writer.fail(error);
    for (const request of [...this.#requests.values()]) request.fail(error, false);
    this.#requests.clear();
    if (this.stream.status === "open" || this.stream.status === "closing") this.stream.abort(error);
    this.#notifyClosed();
  }

  #notifyClosed(): void {
    if (this.#closedNotified) return;
    this.#closedNotified = true;
    this.#onClosed?.(this);
  }
}

/** One request on a session: its credit both ways and its response as it arrives. */
class SessionRequest implements ResponseExchange {
  readonly id: number;
  readonly headPromise: Promise<ResponseExchange>;
  readonly #session: ClientSession;
  readonly #signal: AbortSignal;
  readonly #sequence: ResponseFrameSequence;
  readonly #credit = new SendCredit(DEFAULT_REQUEST_WINDOW_BYTES);
  readonly #window = new ReceiveWindow(DEFAULT_REQUEST_WINDOW_BYTES);
  readonly #chunks: Uint8Array[] = [];
  #resolveHead!: (exchange: ResponseExchange) => void;
  #rejectHead!: (error: unknown) => void;
  #head: ResponseHead | undefined;
  #failure: unknown;
  /** END (or RESET) is out: we send nothing more for this request. */
  #requestDone = false;
  #responseEnded = false;
  #released = false;
  #readable: Wake | undefined;
  #creditable: Wake | undefined;

  constructor(session: ClientSession, id: number, signal: AbortSignal) {
    this.#session = session;
    this.id = id;
    this.#signal = signal;
    this.#sequence = new ResponseFrameSequence(id);
    this.headPromise = new Promise<ResponseExchange>((resolve, reject) => {
      this.#resolveHead = resolve;
      this.#rejectHead = reject;
    });
    this.headPromise.catch(() => {});
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  get head(): ResponseHead {
    return this.#head!;
  }

  async read(signal: AbortSignal): Promise<Uint8Array | null> {
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk !== undefined) {
        this.#session.bufferedBytes -= chunk.byteLength;
        const increment = this.#window.consume(chunk.byteLength);
        if (increment > 0 && !this.#released) this.#session.send({ type: "window", requestId: this.id, increment });
        return chunk;
      }
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#responseEnded) return null;
      this.#readable ??= wake();
      await raceAbort(this.#readable.promise, signal);
    }
  }

  /** Stream the request body within this request's credit, then END. */
  async sendBody(body: RequestBodySource): Promise<void> {
    const signal = this.#signal;
    try {
      for (let index = 0; ; index++) {
        const chunk = await body.chunk(index, signal);
        if (chunk === null) break;
        for (let offset = 0; offset < chunk.byteLength; ) {
          if (this.#requestDone) return;
          const taken = this.#credit.take(Math.min(chunk.byteLength - offset, MAX_BODY_FRAME_BYTES));
          if (taken === 0) {
            await this.#waitCredit(signal);
            continue;
          }
          await this.#session.writer.ready(signal);
          if (this.#requestDone) return;
          this.#session.send({ type: "body", requestId: this.id, chunk: chunk.subarray(offset, offset + taken) });
          offset += taken;
        }
      }
      if (this.#requestDone) return;
      this.#session.send({ type: "end", requestId: this.id });
      this.#requestDone = true;
      if (this.#responseEnded) this.#release();
    } catch (error) {
      // The session's failure or the signal already failed this request; anything else is the client's body.
      if (!this.#released) this.fail(error, true);
    }
  }

  onFrame(frame: HttpFrame): void {
    if (frame.type === "window") {
      if (!this.#credit.grant(frame.increment)) throw new HttpFrameError("invalid-fields", `WINDOW for request ${this.id} raises its credit over 2^31 - 1`);
      this.#creditable?.resolve();
      this.#creditable = undefined;
      return;
    }
    this.#sequence.accept(frame);
    switch (frame.type) {
      case "response-head":
        this.#head = frame.head;
        this.#resolveHead(this);
        return;
      case "body":
        if (!this.#window.receive(frame.chunk.byteLength)) {
          throw new HttpFrameError("body-too-large", `request ${this.id}: BODY beyond the credit granted (${this.#window.remaining} bytes left)`);
        }
        this.#chunks.push(frame.chunk);
        this.#session.bufferedBytes += frame.chunk.byteLength;
        this.#wakeReader();
        return;
      case "end":
        this.#responseEnded = true;
        this.#wakeReader();
        if (!this.#requestDone) {
          // The answer is complete before our body: stop sending it.
          this.#requestDone = true;
          this.#session.send({ type: "reset", requestId: this.id });
        }
        this.#release();
        return;
      case "error":
        this.fail(new MeshRequestError(knownErrorCode(frame.error.code), frame.error.message), false);
        return;
      case "reset":
        this.fail(new MeshTransportError("connection-lost", "the provider reset the request", { sent: true }), false);
        return;
      default:
        return;
    }
  }

  /** End this request with `error`; with `reset`, tell the provider (RESET) if it may still be working on it. */
  fail(error: unknown, reset: boolean): void {
    if (this.#released) return;
    this.#failure = error;
    if (this.#head === undefined) this.#rejectHead(error);
    this.#wakeReader();
    this.#creditable?.resolve();
    this.#creditable = undefined;
    if (reset && !(this.#responseEnded && this.#requestDone) && this.#session.writer.open) {
      this.#session.send({ type: "reset", requestId: this.id });
    }
    this.#requestDone = true;
    this.#release();
  }

  readonly #onAbort = (): void => {
    if (this.#released) return;
    this.fail(abortReason(this.#signal), true);
  };

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#failure !== undefined) {
      // Nobody will read what is left.
      for (const chunk of this.#chunks.splice(0)) this.#session.bufferedBytes -= chunk.byteLength;
    }
    this.#signal.removeEventListener("abort", this.#onAbort);
    this.#session.released(this);
  }

  #wakeReader(): void {
    this.#readable?.resolve();
    this.#readable = undefined;
  }

  async #waitCredit(signal: AbortSignal): Promise<void> {
    this.#creditable ??= wake();
    await raceAbort(this.#creditable.promise, signal);
    if (this.#failure !== undefined) throw this.#failure;
  }
}
