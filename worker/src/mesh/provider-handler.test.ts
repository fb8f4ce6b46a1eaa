import type { Libp2p } from "@libp2p/interface";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FrameStream } from "./frame-stream.ts";
import { encodeFrame, FRAME_TYPE, HTTP_PROTOCOL_ID, MAX_HEAD_BYTES, type HttpFrame, type RequestHead } from "./http-frames.ts";
import { PROVIDER_HEADER } from "./http-headers.ts";
import { learnAddresses, TestBackend, TestNodes, within } from "./mesh.fixture.ts";
import { createHttpProvider, type HttpProvider, type HttpProviderMetrics, type ProviderOutcome } from "./provider-handler.ts";

const SERVICE = 1n;
const nodes = new TestNodes();
const backend = new TestBackend();
let caller: Libp2p;
let server: Libp2p;
let provider: HttpProvider;
let finished: ProviderOutcome[];

function head(overrides: Partial<RequestHead> = {}): RequestHead {
  return { method: "GET", path: "/", headers: [], serviceId: String(SERVICE), deadline: Date.now() + 10_000, ...overrides };
}

async function open(): Promise<FrameStream> {
  return new FrameStream(await caller.dialProtocol(server.peerId, HTTP_PROTOCOL_ID));
}

/** Every frame until the provider closes; `failure` if the stream ended in a reset or a framing error. */
async function readAll(frames: FrameStream): Promise<{ frames: HttpFrame[]; failure: unknown }> {
  const out: HttpFrame[] = [];
  try {
    for (let frame = await frames.read(); frame !== null; frame = await frames.read()) out.push(frame);
    return { frames: out, failure: undefined };
  } catch (failure) {
    return { frames: out, failure };
  }
}

async function exchange(requestHead: RequestHead, body: Uint8Array[] = []): Promise<HttpFrame[]> {
  const frames = await open();
  await frames.write({ type: "request-head", requestId: 5, head: requestHead });
  for (const chunk of body) await frames.write({ type: "body", requestId: 5, chunk });
  await frames.write({ type: "end", requestId: 5 });
  await frames.closeWrite();
  return (await within(readAll(frames), "response")).frames;
}

function bodyOf(frames: readonly HttpFrame[]): string {
  return Buffer.concat(frames.flatMap((frame) => (frame.type === "body" ? [frame.chunk] : []))).toString();
}

/** Sends raw bytes, then expects an ERROR frame with `code` and the stream to end. */
async function expectRejected(bytes: Uint8Array, code: string): Promise<void> {
  const frames = await open();
  frames.stream.send(bytes);
  const { frames: received } = await within(readAll(frames), "error frame");
  expect(received).toEqual([expect.objectContaining({ type: "error", error: expect.objectContaining({ code }) })]);
  await within(
    new Promise<void>((resolve) => (frames.stream.status === "open" ? frames.stream.addEventListener("close", () => resolve()) : resolve())),
    "stream closed",
  );
}

beforeEach(async () => {
  finished = [];
  const backendUrl = await backend.start();
  [caller, server] = await Promise.all([nodes.start(), nodes.start()]);
  await learnAddresses(caller, server);
  const metrics: HttpProviderMetrics = { requestStarted: () => {}, requestFinished: (event) => finished.push(event.outcome) };
  provider = createHttpProvider({ backends: new Map([[SERVICE, backendUrl]]), headTimeoutMs: 500, metrics })({ libp2p: server });
  await provider.start();
});

afterEach(async () => {
  await provider.stop();
  await nodes.stopAll();
  await backend.stop();
  backend.reset();
});

describe("provider handler", () => {
  it("forwards a request and streams the response back", async () => {
    const frames = await exchange(head({ method: "POST", path: "/a/b?x=1&y=%20", headers: [["x-test", "1"], ["connection", "keep-alive, x-drop"], ["x-drop", "2"]] }), [
      new TextEncoder().encode("hello "),
      new TextEncoder().encode("world"),
    ]);
    expect(frames[0]).toMatchObject({ type: "response-head", requestId: 5, head: { status: 200 } });
    const headers = new Map((frames[0] as Extract<HttpFrame, { type: "response-head" }>).head.headers);
    expect(headers.get(PROVIDER_HEADER)).toBe(server.peerId.toString());
    expect(headers.get("x-echo-url")).toBe("/a/b?x=1&y=%20");
    expect(headers.has("connection")).toBe(false);
    expect(headers.has("transfer-encoding")).toBe(false);
    expect(bodyOf(frames)).toBe("hello world");
    expect(frames.at(-1)).toEqual({ type: "end", requestId: 5 });
    const seen = backend.requests[0]!;
    expect(seen.headers["x-test"]).toBe("1");
    expect(seen.headers["x-drop"]).toBeUndefined();
    expect(seen.headers.host).toBe(new URL(`http://${seen.headers.host}`).host);
    expect(finished).toEqual([{ status: 200 }]);
  });

  it("answers unknown services with ERROR unknown-service", async () => {
    const frames = await exchange(head({ serviceId: "2" }));
    expect(frames).toEqual([expect.objectContaining({ type: "error", requestId: 5, error: expect.objectContaining({ code: "unknown-service" }) })]);
    expect(finished).toEqual([{ error: "unknown-service" }]);
  });

  it("answers backend-unavailable when the backend is down", async () => {
    await backend.stop();
    const frames = await exchange(head());
    expect(frames).toEqual([expect.objectContaining({ type: "error", error: expect.objectContaining({ code: "backend-unavailable" }) })]);
  });

  it("aborts the backend request when the deadline passes", async () => {
    const frames = await exchange(head({ path: "/hang", deadline: Date.now() + 300 }));
    expect(frames).toEqual([expect.objectContaining({ type: "error", error: expect.objectContaining({ code: "deadline-exceeded" }) })]);
    await within(backend.requests[0]!.aborted, "backend request aborted");
  });

  it("refuses a deadline already passed without calling the backend", async () => {
    const frames = await exchange(head({ deadline: Date.now() - 1 }));
    expect(frames).toEqual([expect.objectContaining({ error: expect.objectContaining({ code: "deadline-exceeded" }) })]);
    expect(backend.requests).toHaveLength(0);
  });

  it("aborts the backend request when the caller resets", async () => {
    const frames = await open();
    await frames.write({ type: "request-head", requestId: 1, head: head({ method: "POST", path: "/hang" }) });
    await backend.receivedRequests(1);
    await frames.write({ type: "reset", requestId: 1 });
    await within(backend.requests[0]!.aborted, "backend request aborted");
  });

  it("aborts the backend request when the caller's stream is reset", async () => {
    const frames = await open();
    await frames.write({ type: "request-head", requestId: 1, head: head({ path: "/hang" }) });
    await frames.write({ type: "end", requestId: 1 });
    await backend.receivedRequests(1);
    frames.abort(new Error("caller gone"));
    await within(backend.requests[0]!.aborted, "backend request aborted");
  });

  const violations: Array<[string, () => Uint8Array, string]> = [
    ["an unknown frame type", () => Uint8Array.of(2, 0x7f, 1), "protocol-error"],
    ["a length prefix over the cap", () => Uint8Array.of(0xff, 0xff, 0x7f), "protocol-error"],
    ["a length prefix of 4 bytes", () => Uint8Array.of(0x80, 0x80, 0x80, 0x01), "protocol-error"],
    ["bad JSON in the head", () => Uint8Array.of(4, FRAME_TYPE.requestHead, 1, 0x7b, 0x7b), "protocol-error"],
    ["a body before the head", () => encodeFrame({ type: "body", requestId: 1, chunk: new Uint8Array(3) }), "protocol-error"],
    [
      "a head over 16 KiB",
      () => {
        const json = new TextEncoder().encode(JSON.stringify({ ...head(), headers: [["a", "b".repeat(MAX_HEAD_BYTES)]] }));
        const length = json.byteLength + 2;
        return Uint8Array.of((length & 0x7f) | 0x80, ((length >> 7) & 0x7f) | 0x80, length >> 14, FRAME_TYPE.requestHead, 1, ...json);
      },
      "head-too-large",
    ],
    [
      "101 headers",
      () => {
        const json = new TextEncoder().encode(JSON.stringify({ ...head(), headers: Array.from({ length: 101 }, () => ["a", "b"]) }));
        const length = json.byteLength + 2;
        return Uint8Array.of((length & 0x7f) | 0x80, length >> 7, FRAME_TYPE.requestHead, 1, ...json);
      },
      "head-too-large",
    ],
    [
      "a second head",
      () => Buffer.concat([encodeFrame({ type: "request-head", requestId: 1, head: head({ method: "POST", path: "/hang" }) }), encodeFrame({ type: "request-head", requestId: 1, head: head() })]),
      "protocol-error",
    ],
  ];

  it.each(violations)("answers %s with an ERROR, closes the stream and keeps serving", async (_name, bytes, code) => {
    await expectRejected(bytes(), code);
    const frames = await exchange(head({ method: "POST" }), [new TextEncoder().encode("still here")]);
    expect(bodyOf(frames)).toBe("still here");
  });

  it("answers a peer that sends no head in time and keeps serving", async () => {
    const frames = await open();
    const { frames: received } = await within(readAll(frames), "error frame");
    expect(received).toEqual([expect.objectContaining({ type: "error", error: expect.objectContaining({ code: "protocol-error" }) })]);
    expect(bodyOf(await exchange(head({ method: "PUT" }), [Uint8Array.of(0x41)]))).toBe("A");
  });

  it("lets requests in flight finish on stop and then refuses new streams", async () => {
    let release!: () => void;
    backend.handle((_req, res) => {
      release = () => res.end("late");
      res.writeHead(200);
    });
    const pending = exchange(head());
    await backend.receivedRequests(1);
    const stopped = provider.stop();
    release();
    expect(bodyOf(await pending)).toBe("late");
    await stopped;
    await expect(caller.dialProtocol(server.peerId, HTTP_PROTOCOL_ID)).rejects.toThrow();
  });
});
