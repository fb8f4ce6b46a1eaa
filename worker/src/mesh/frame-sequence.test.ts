import { describe, expect, it } from "vitest";
import { HttpFrameError, type HttpFrameInvalidReason } from "../errors.ts";
import { RequestFrameSequence, ResponseFrameSequence } from "./frame-sequence.ts";
import type { HttpFrame } from "./http-frames.ts";

const ID = 7;
const requestHead: HttpFrame = { type: "request-head", requestId: ID, head: { method: "GET", path: "/", headers: [], serviceId: "1", deadline: 0 } };
const responseHead: HttpFrame = { type: "response-head", requestId: ID, head: { status: 200, headers: [] } };
const body: HttpFrame = { type: "body", requestId: ID, chunk: new Uint8Array(1) };
const end: HttpFrame = { type: "end", requestId: ID };
const reset: HttpFrame = { type: "reset", requestId: ID };
const error: HttpFrame = { type: "error", requestId: ID, error: { code: "busy", message: "" } };

function feed(sequence: { accept(frame: HttpFrame): void }, frames: readonly HttpFrame[]): HttpFrameInvalidReason | "ok" {
  try {
    for (const frame of frames) sequence.accept(frame);
    return "ok";
  } catch (caught) {
    expect(caught).toBeInstanceOf(HttpFrameError);
    return (caught as HttpFrameError).reason;
  }
}

describe("RequestFrameSequence", () => {
  const cases: Array<[string, HttpFrame[], HttpFrameInvalidReason | "ok"]> = [
    ["head, end", [requestHead, end], "ok"],
    ["head, body, body, end", [requestHead, body, body, end], "ok"],
    ["head, end, reset", [requestHead, end, reset], "ok"],
    ["head, body, reset", [requestHead, body, reset], "ok"],
    ["a reset before the head", [reset], "ok"],
    ["body before head", [body], "unexpected-frame"],
    ["end before head", [end], "unexpected-frame"],
    ["a second head", [requestHead, body, requestHead], "unexpected-frame"],
    ["body after end", [requestHead, end, body], "unexpected-frame"],
    ["a second end", [requestHead, end, end], "unexpected-frame"],
    ["anything after reset", [requestHead, reset, body], "unexpected-frame"],
    ["a response head", [responseHead], "unexpected-frame"],
    ["an error frame", [requestHead, error], "unexpected-frame"],
    ["a body for another request", [requestHead, { ...body, requestId: ID + 1 }], "wrong-request-id"],
  ];

  it.each(cases)("%s → %s", (_name, frames, expected) => {
    expect(feed(new RequestFrameSequence(), frames)).toBe(expected);
  });

  it("reports its state and request id", () => {
    const sequence = new RequestFrameSequence();
    expect([sequence.state, sequence.requestId]).toEqual(["head", undefined]);
    sequence.accept(requestHead);
    expect([sequence.state, sequence.requestId]).toEqual(["body", ID]);
    sequence.accept(end);
    expect(sequence.state).toBe("ended");
    sequence.accept(reset);
    expect(sequence.state).toBe("closed");
  });
});

describe("ResponseFrameSequence", () => {
  const cases: Array<[string, HttpFrame[], HttpFrameInvalidReason | "ok"]> = [
    ["head, end", [responseHead, end], "ok"],
    ["head, body, end", [responseHead, body, body, end], "ok"],
    ["an error instead of a head", [error], "ok"],
    ["an error cutting the body short", [responseHead, body, error], "ok"],
    ["a reset", [responseHead, reset], "ok"],
    ["body before head", [body], "unexpected-frame"],
    ["end before head", [end], "unexpected-frame"],
    ["a second head", [responseHead, responseHead], "unexpected-frame"],
    ["anything after end", [responseHead, end, body], "unexpected-frame"],
    ["anything after an error", [error, responseHead], "unexpected-frame"],
    ["a request head", [requestHead], "unexpected-frame"],
    ["a head for another request", [{ ...responseHead, requestId: ID + 1 }], "wrong-request-id"],
  ];

  it.each(cases)("%s → %s", (_name, frames, expected) => {
    expect(feed(new ResponseFrameSequence(ID), frames)).toBe(expected);
  });
});
