/**
 * Provider side of one `/dsmp/mesh/1.0.0` session stream (docs/protocol.md §10): frames are decoded as they
 * arrive and routed by request id to one {@link SessionExchangeChannel} per request, each served by the
 * same exchange logic as a `/dsmp/http/1.0.0` stream (provider-handler.ts). Responses of all requests share
 * one batching {@link SessionWriter}.
 *
 * Checks, per session: request ids of new requests strictly increase; frames of every request follow
 * §5.4; BODY bytes stay within the credit granted. Any violation closes this session only (ERROR on
 * request 0, then a stream reset): every request on it is abandoned and its backend request aborted; the
 * connection and other sessions go on. Frames for a request that already ended are ignored (they may
 * cross our END, ERROR or RESET on the wire).
 */
import type { Connection, Stream, StreamMessageEvent } from "@libp2p/interface";
import { HttpFrameError, MeshRequestError, type MeshErrorCode } from "../errors.ts";
import type { Logger } from "../log.ts";
import { abortReason, raceAbort } from "./abort-race.ts";
import type { ExchangeChannel } from "./exchange-channel.ts";
import { DEFAULT_REQUEST_WINDOW_BYTES, ReceiveWindow, SendCredit } from "./flow-credit.ts";
import { RequestFrameSequence } from "./frame-sequence.ts";
import { encodeFrame, HttpFrameDecoder, MAX_BODY_FRAME_BYTES, MAX_ERROR_MESSAGE_LENGTH, type HttpFrame } from "./http-frames.ts";
import { MAX_CONCURRENT_REQUESTS_PER_SESSION, SESSION_REQUEST_ID } from "./session-protocol.ts";
import { SessionWriter } from "./session-writer.ts";

/** What a read or write after release throws: shared, since an Error built per request (its stack trace) cost ~1 % of a request's CPU. */
const EXCHANGE_OVER = Object.freeze(new Error("the exchange is over"));

/** What a session needs from the provider service. */
export interface ProviderSessionHost {
  /** Serve one exchange; never rejects. */
  serveExchange(channel: ExchangeChannel, connection: Connection): Promise<void>;
  /** False while the provider stops: new requests are answered `busy` so the gateway goes elsewhere. */
  readonly accepting: boolean;
  readonly log: Logger;
}

export interface ProviderSessionOptions {
  /** @default {@link MAX_CONCURRENT_REQUESTS_PER_SESSION} */
  maxConcurrent?: number | undefined;
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

export class ProviderSession {
  readonly stream: Stream;
  readonly writer: SessionWriter;
  readonly #connection: Connection;
  readonly #host: ProviderSessionHost;
  readonly #maxConcurrent: number;
  readonly #decoder = new HttpFrameDecoder();
  readonly #active = new Map<number, SessionExchangeChannel>();
  readonly #served = new Set<Promise<void>>();
  #lastId = SESSION_REQUEST_ID;
  #failure: Error | undefined;
  readonly #closed: Promise<void>;
  #resolveClosed!: () => void;

  constructor(stream: Stream, connection: Connection, host: ProviderSessionHost, options: ProviderSessionOptions = {}) {
    this.stream = stream;
    this.writer = new SessionWriter(stream);
    this.#connection = connection;
    this.#host = host;
    this.#maxConcurrent = options.maxConcurrent ?? MAX_CONCURRENT_REQUESTS_PER_SESSION;
    this.#closed = new Promise<void>((resolve) => (this.#resolveClosed = resolve));
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, 16 * 1024 * 1024);
    stream.addEventListener("message", (event: StreamMessageEvent) => this.#onBytes(event.data.subarray()));
    stream.addEventListener("remoteCloseWrite", () => {
      // The gateway closes only idle sessions; requests still here can no longer get credit from it.
      if (this.#active.size === 0) void stream.close().catch(() => stream.abort(new Error("closing the session failed")));
      else this.#lost(new Error("the gateway closed the session"));
    });
    stream.addEventListener("close", (event) => this.#lost(event.error ?? new Error("the session stream closed")));
    if (stream.status !== "open") this.#lost(new Error("the session stream closed"));
  }

  /** Requests being served. */
  get active(): number {
    return this.#active.size;
  }

  /** Resolves once the stream closed and every exchange of the session finished. */
  async closed(): Promise<void> {
    await this.#closed;
    await Promise.allSettled([...this.#served]);
  }

  /** Reset the session: every request on it is abandoned. */
  abort(error: Error): void {
    this.#lost(error);
    if (this.stream.status === "open" || this.stream.status === "closing") this.stream.abort(error);
  }

  // Used by SessionExchangeChannel.
  send(frame: HttpFrame): void {
    this.writer.push(encodeFrame(frame));
  }
  released(channel: SessionExchangeChannel): void {
    if (this.#active.get(channel.id) === channel) this.#active.delete(channel.id);
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
    const id = frame.requestId;
    if (id === SESSION_REQUEST_ID) {
      if (frame.type !== "error") throw new HttpFrameError("unexpected-frame", `${frame.type} frame for request 0 (the session)`);
      this.abort(new Error(`the gateway closed the session: ${frame.error.code}: ${frame.error.message}`));
      return;
    }
    if (frame.type === "request-head") {
      if (id <= this.#lastId) throw new HttpFrameError("wrong-request-id", `REQUEST_HEAD for request ${id}, request ids must increase (last ${this.#lastId})`);
      this.#lastId = id;
      if (!this.#host.accepting) return this.#refuse(id, "busy", "the provider is stopping");
      if (this.#active.size >= this.#maxConcurrent) return this.#refuse(id, "busy", `${this.#active.size} requests in flight on this session, at most ${this.#maxConcurrent}`);
      const channel = new SessionExchangeChannel(this, id);
      this.#active.set(id, channel);
      channel.deliver(frame);
      const served = this.#host.serveExchange(channel, this.#connection);
      this.#served.add(served);
      void served.finally(() => this.#served.delete(served));
      return;
    }
    if (id > this.#lastId) throw new HttpFrameError("wrong-request-id", `${frame.type} frame for request ${id}, never opened`);
    this.#active.get(id)?.deliver(frame);
  }

  #refuse(id: number, code: MeshErrorCode, message: string): void {
    this.send({ type: "error", requestId: id, error: { code, message } });
  }

  /** The gateway broke the protocol: ERROR on request 0, reset the stream, abandon every request. */
  #violation(error: HttpFrameError): void {
    const tooLarge = error.reason === "head-too-large" || error.reason === "too-many-headers";
    const message = `${error.shortMessage}: ${error.details ?? ""}`.slice(0, MAX_ERROR_MESSAGE_LENGTH);
    this.#host.log.debug({ peer: this.#connection.remotePeer.toString(), err: error }, "session protocol violation");
    try {
      if (this.stream.writeStatus === "writable") {
        this.stream.send(encodeFrame({ type: "error", requestId: SESSION_REQUEST_ID, error: { code: tooLarge ? "head-too-large" : "protocol-error", message } }));
      }
    } catch {
      // the stream is going away anyway
    }
    this.abort(new MeshRequestError("protocol-error", message));
  }

  #lost(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.writer.fail(error);
    for (const channel of [...this.#active.values()]) channel.lost(error);
    this.#active.clear();
    this.#resolveClosed();
  }
}

/** One request of a session, as the exchange logic sees it. */
class SessionExchangeChannel implements ExchangeChannel {
  readonly id: number;
  readonly #session: ProviderSession;
  readonly #sequence = new RequestFrameSequence();
  /** Request body bytes we let the gateway send. */
  readonly #window = new ReceiveWindow(DEFAULT_REQUEST_WINDOW_BYTES);
  /** Response body bytes the gateway lets us send. */
  readonly #credit = new SendCredit(DEFAULT_REQUEST_WINDOW_BYTES);
  readonly #inbox: HttpFrame[] = [];
  readonly #peerLeftListeners: Array<() => void> = [];
  #readable: Wake | undefined;
  #creditable: Wake | undefined;
  #failure: Error | undefined;
  /** The gateway abandoned the request (RESET) or the session is gone: send nothing more. */
  #peerGone = false;
  /** We sent END or ERROR. */
  #responseDone = false;
  #released = false;

  constructor(session: ProviderSession, id: number) {
    this.#session = session;
    this.id = id;
  }

  /** A frame of this request from the gateway, in order. @throws {HttpFrameError} on a violation. */
  deliver(frame: HttpFrame): void {
    if (frame.type === "window") {
      if (!this.#credit.grant(frame.increment)) throw new HttpFrameError("invalid-fields", `WINDOW for request ${this.id} raises its credit over 2^31 - 1`);
      this.#wakeWriter();
      return;
    }
    this.#sequence.accept(frame);
    if (frame.type === "body" && !this.#window.receive(frame.chunk.byteLength)) {
      throw new HttpFrameError("body-too-large", `request ${this.id}: BODY beyond the credit granted (${this.#window.remaining} bytes left)`);
    }
    if (frame.type === "reset") {
      this.#peerGone = true;
      this.#failure = new MeshRequestError("internal", "the caller reset the request");
      this.#inbox.push(frame);
      this.#wakeReader();
      this.#wakeWriter();
      this.#firePeerLeft();
      return;
    }
    this.#inbox.push(frame);
    this.#wakeReader();
  }

  /** The session is gone. */
  lost(error: Error): void {
    if (this.#released) return;
    this.#peerGone = true;
    this.#failure ??= error;
    this.#wakeReader();
    this.#wakeWriter();
    this.#firePeerLeft();
  }

  takeReady(): HttpFrame | undefined {
    const frame = this.#inbox[0];
    if (frame === undefined || frame.type === "body") return undefined; // bodies go through read() for credit
    return this.#inbox.shift();
  }

  takeBufferedBody(): Uint8Array[] | undefined {
    // END accepted means every frame before it was delivered; a queued RESET goes through read().
    if (this.#sequence.state !== "ended" || this.#inbox.at(-1)?.type !== "end") return undefined;
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    for (let index = 0; index < this.#inbox.length - 1; index++) {
      const frame = this.#inbox[index]!;
      if (frame.type !== "body") return undefined;
      chunks.push(frame.chunk);
      bytes += frame.chunk.byteLength;
    }
    this.#inbox.length = 0;
    // Credit as read() would grant it for these bytes (the gateway sends nothing more for this request anyway).
    const increment = bytes > 0 ? this.#window.consume(bytes) : 0;
    if (increment > 0 && !this.#peerGone && !this.#released) this.#session.send({ type: "window", requestId: this.id, increment });
    return chunks;
  }

  async read(signal?: AbortSignal): Promise<HttpFrame | null> {
    for (;;) {
      const frame = this.#inbox.shift();
      if (frame !== undefined) {
        if (frame.type === "body") {
          const increment = this.#window.consume(frame.chunk.byteLength);
          if (increment > 0 && !this.#peerGone && !this.#released) this.#session.send({ type: "window", requestId: this.id, increment });
        }
        return frame;
      }
      // After END (or RESET) the gateway sends nothing more for this request.
      if (this.#sequence.state === "ended" || this.#sequence.state === "closed") return null;
      if (this.#failure !== undefined) throw this.#failure;
      this.#readable ??= wake();
      await raceAbort(this.#readable.promise, signal);
    }
  }

  async write(frame: HttpFrame, signal?: AbortSignal): Promise<void> {
    const bytes = encodeFrame(frame); // throws HttpFrameError for a frame a peer would refuse; nothing sent
    if (frame.type !== "body") {
      await this.#ready(signal);
      this.#session.writer.push(bytes);
      if (frame.type === "end" || frame.type === "error") this.#responseDone = true;
      return;
    }
    const chunk = frame.chunk;
    for (let offset = 0; offset < chunk.byteLength || chunk.byteLength === 0; ) {
      await this.#ready(signal);
      const taken = this.#credit.take(Math.min(chunk.byteLength - offset, MAX_BODY_FRAME_BYTES));
      if (taken === 0 && chunk.byteLength > 0) {
        this.#creditable ??= wake();
        await raceAbort(this.#creditable.promise, signal);
        continue;
      }
      this.#session.send({ type: "body", requestId: this.id, chunk: chunk.subarray(offset, offset + taken) });
      offset += taken;
      if (chunk.byteLength === 0) return;
    }
  }

  async closeWrite(): Promise<void> {
    this.#responseDone = true;
  }

  get writable(): boolean {
    return !this.#peerGone && !this.#released && this.#session.writer.open;
  }

  release(error?: Error): void {
    if (this.#released) return;
    this.#released = true;
    // Tell the gateway to stop unless it knows already: it gave up, or our END/ERROR ended it and its own
    // request direction is complete too.
    const requestComplete = this.#sequence.state === "ended" || this.#sequence.state === "closed";
    if (!this.#peerGone && this.#session.writer.open && (!this.#responseDone || (!requestComplete && error === undefined))) {
      this.#session.send({ type: "reset", requestId: this.id });
    }
    this.#failure ??= error ?? EXCHANGE_OVER;
    this.#wakeReader();
    this.#wakeWriter();
    this.#session.released(this);
  }

  onPeerLeft(listener: () => void): void {
    if (this.#peerGone) listener();
    else this.#peerLeftListeners.push(listener);
  }

  async #ready(signal: AbortSignal | undefined): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    await this.#session.writer.ready(signal);
    if (this.#failure !== undefined) throw this.#failure;
    if (signal?.aborted === true) throw abortReason(signal);
  }

  #firePeerLeft(): void {
    for (const listener of this.#peerLeftListeners.splice(0)) listener();
  }

  #wakeReader(): void {
    this.#readable?.resolve();
    this.#readable = undefined;
  }

  #wakeWriter(): void {
    this.#creditable?.resolve();
    this.#creditable = undefined;
  }
}
