/**
 * Which frame may come next on a `/dsmp/http/1.0.0` stream (docs/protocol.md §5.4): one small state
 * machine per direction, pure, fed every decoded frame before the frame is acted on.
 *
 * Request direction (gateway → provider): `REQUEST_HEAD BODY* END`, then nothing but an optional RESET;
 * RESET may come at any point and ends the exchange. Response direction (provider → gateway):
 * `RESPONSE_HEAD BODY* END`, or ERROR at any point (before the head: the request failed; after it: the
 * response is cut short), or RESET.
 */
import { HttpFrameError } from "../errors.ts";
import type { HttpFrame } from "./http-frames.ts";

export type RequestSequenceState = "head" | "body" | "ended" | "closed";

/** What the provider accepts, in order, from the gateway. */
export class RequestFrameSequence {
  #state: RequestSequenceState = "head";
  #requestId: number | undefined;

  get state(): RequestSequenceState {
    return this.#state;
  }

  /** The id of the request this stream carries, once its head arrived. */
  get requestId(): number | undefined {
    return this.#requestId;
  }

  /**
   * Check `frame` against the state and advance.
   * @throws {HttpFrameError} `unexpected-frame` (body before head, a second head, a response frame, any
   *   frame after the exchange ended) or `wrong-request-id`.
   */
  accept(frame: HttpFrame): void {
    if (this.#state === "closed") throw unexpected(frame, "after the exchange ended");
    if (this.#state === "head") {
      if (frame.type === "request-head") {
        this.#requestId = frame.requestId;
        this.#state = "body";
        return;
      }
      if (frame.type === "reset") {
        this.#state = "closed";
        return;
      }
      throw unexpected(frame, "before REQUEST_HEAD");
    }
    if (frame.requestId !== this.#requestId) throw wrongId(frame, this.#requestId!);
    switch (frame.type) {
      case "reset":
        this.#state = "closed";
        return;
      case "body":
      case "end":
        if (this.#state === "ended") throw unexpected(frame, "after END");
        if (frame.type === "end") this.#state = "ended";
        return;
      case "request-head":
        throw unexpected(frame, "a second REQUEST_HEAD: a stream carries one request in /dsmp/http/1.0.0");
      default:
        throw unexpected(frame, "in the request direction");
    }
  }
}

export type ResponseSequenceState = "head" | "body" | "closed";

/** What the gateway accepts, in order, from the provider for request `requestId`. */
export class ResponseFrameSequence {
  readonly #requestId: number;
  #state: ResponseSequenceState = "head";

  constructor(requestId: number) {
    this.#requestId = requestId;
  }

  get state(): ResponseSequenceState {
    return this.#state;
  }

  /**
   * Check `frame` against the state and advance.
   * @throws {HttpFrameError} `unexpected-frame` (body before head, a second head, a request frame, any
   *   frame after END/ERROR/RESET) or `wrong-request-id`.
   */
  accept(frame: HttpFrame): void {
    if (this.#state === "closed") throw unexpected(frame, "after the exchange ended");
    if (frame.requestId !== this.#requestId) throw wrongId(frame, this.#requestId);
    switch (frame.type) {
      case "response-head":
        if (this.#state === "body") throw unexpected(frame, "a second RESPONSE_HEAD");
        this.#state = "body";
        return;
      case "body":
        if (this.#state === "head") throw unexpected(frame, "before RESPONSE_HEAD");
        return;
      case "end":
        if (this.#state === "head") throw unexpected(frame, "before RESPONSE_HEAD");
        this.#state = "closed";
        return;
      case "error":
      case "reset":
        this.#state = "closed";
        return;
      default:
        throw unexpected(frame, "in the response direction");
    }
  }
}

const FRAME_NAMES: Record<HttpFrame["type"], string> = {
  "request-head": "REQUEST_HEAD",
  body: "BODY",
  end: "END",
  "response-head": "RESPONSE_HEAD",
  error: "ERROR",
  reset: "RESET",
  window: "WINDOW",
};

function unexpected(frame: HttpFrame, where: string): HttpFrameError {
  return new HttpFrameError("unexpected-frame", `${FRAME_NAMES[frame.type]} ${where}`);
}

function wrongId(frame: HttpFrame, expected: number): HttpFrameError {
  return new HttpFrameError("wrong-request-id", `${FRAME_NAMES[frame.type]} for request ${frame.requestId}, the stream carries request ${expected}`);
}
