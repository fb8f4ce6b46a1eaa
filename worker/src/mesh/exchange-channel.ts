/**
 * What the provider's exchange logic (provider-handler.ts) needs from the wire for one HTTP exchange,
 * whatever carries it: a whole `/dsmp/http/1.0.0` stream ({@link StreamExchangeChannel}) or one request of
 * a `/dsmp/mesh/1.0.0` session (provider-session.ts). Frames in and out are those of http-frames.ts for
 * this exchange only.
 */
import type { Stream } from "@libp2p/interface";
import { FrameStream } from "./frame-stream.ts";
import type { HttpFrame } from "./http-frames.ts";

export interface ExchangeChannel {
  /**
   * The next request-direction frame; `null` once the peer will send no more for this exchange (its
   * stream's writing end closed, or its END was delivered on a session).
   * @throws {HttpFrameError} on malformed bytes; the peer's stream error; `signal`'s reason.
   */
  read(signal?: AbortSignal): Promise<HttpFrame | null>;
  /** The next frame if one is already here (no waiting), else `undefined`. Optional fast path. */
  takeReady?(): HttpFrame | undefined;
  /**
   * The rest of the request body, if the whole request (up to its END) is already here: its BODY chunks
   * in order (possibly none), after which {@link read} returns `null`. `undefined` when more is still to
   * come (or a RESET is queued); nothing is taken then. Optional fast path: a complete request can go to
   * the backend in one write.
   */
  takeBufferedBody?(): Uint8Array[] | undefined;
  /** Send one response-direction frame; resolves once more may be sent (back-pressure, credit). */
  write(frame: HttpFrame, signal?: AbortSignal): Promise<void>;
  /** Our response is complete (after END or ERROR). */
  closeWrite(signal?: AbortSignal): Promise<void>;
  /** Whether a frame (an ERROR) can still be sent. */
  readonly writable: boolean;
  /**
   * Release the exchange's resources. With `error` the exchange did not complete and the peer is told
   * (stream reset, or a RESET frame on a session). Idempotent.
   */
  release(error?: Error): void;
  /** Call `listener` once if the peer abandons the exchange (stream reset, RESET frame, session lost). */
  onPeerLeft(listener: () => void): void;
}

/** `/dsmp/http/1.0.0`: the exchange owns the whole stream. */
export class StreamExchangeChannel implements ExchangeChannel {
  readonly #frames: FrameStream;

  constructor(stream: Stream) {
    this.#frames = new FrameStream(stream);
  }

  read(signal?: AbortSignal): Promise<HttpFrame | null> {
    return this.#frames.read(signal);
  }

  write(frame: HttpFrame, signal?: AbortSignal): Promise<void> {
    return this.#frames.write(frame, signal);
  }

  closeWrite(signal?: AbortSignal): Promise<void> {
    return this.#frames.closeWrite(signal);
  }

  get writable(): boolean {
    return this.#frames.stream.writeStatus === "writable";
  }

  release(error?: Error): void {
    const stream = this.#frames.stream;
    if (error !== undefined || stream.status === "open" || stream.status === "closing") this.#frames.abort(error ?? new Error("exchange complete"));
  }

  onPeerLeft(listener: () => void): void {
    // After END the caller has nothing more to send, so only the stream's reset tells that it left.
    this.#frames.stream.addEventListener("close", (event) => {
      if (event.error !== undefined && event.local !== true) listener();
    });
  }
}
