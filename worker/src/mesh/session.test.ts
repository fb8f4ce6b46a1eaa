/**
 * `/dsmp/mesh/1.0.0` end to end on real libp2p nodes (127.0.0.1, tcp + noise + yamux): the gateway's
 * session transport against the provider's session handler and a real HTTP backend.
 */
import { randomBytes } from "node:crypto";
import type { Libp2p } from "@libp2p/interface";
import { setTimeout as delay } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MeshRequestError, MeshTransportError } from "../errors.ts";
import { FrameStream } from "./frame-stream.ts";
import { DEFAULT_REQUEST_WINDOW_BYTES } from "./flow-credit.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { EncodedRequestHead, encodeFrame, FRAME_TYPE, type HttpFrame, type RequestHead } from "./http-frames.ts";
import { httpFetch, httpOpen, learnAddresses, patternBody, patternBytes, TestBackend, TestNodes, within } from "./mesh.fixture.ts";
import { createHttpProvider, type HttpProvider } from "./provider-handler.ts";
import type { RequestBodySource, ResponseExchange } from "./provider-transport.ts";
import { MAX_CONCURRENT_REQUESTS_PER_SESSION, MESH_PROTOCOL_ID } from "./session-protocol.ts";
import { createSessionTransport, type SessionTransport, type SessionTransportInit } from "./session-transport.ts";

setFlagsFromString("--expose-gc");
/** A full collection, so memory samples measure what is held rather than garbage not yet collected. */
const gc = runInNewContext("gc") as () => void;

/** V8 frees ArrayBuffer backing stores off the main thread after a collection: give it a moment. */
async function settledGc(): Promise<void> {
  gc();
  await delay(30);
  gc();
}

const SERVICE = 1n;
const nodes = new TestNodes();
const backend = new TestBackend();
let gatewayNode: Libp2p;
let providerNode: Libp2p;
let provider: HttpProvider;
let transport: SessionTransport | undefined;
let gateway: Gateway | undefined;

function head(path: string, overrides: Partial<RequestHead> = {}): EncodedRequestHead {
  return new EncodedRequestHead({ method: "POST", path, headers: [], serviceId: String(SERVICE), deadline: Date.now() + 20_000, ...overrides });
}

function bodyOf(...chunks: Uint8Array[]): RequestBodySource {
  return { chunk: async (index) => chunks[index] ?? null };
}

async function readAll(response: ResponseExchange, signal: AbortSignal = AbortSignal.timeout(20_000)): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for (let chunk = await response.read(signal); chunk !== null; chunk = await response.read(signal)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function startTransport(init: SessionTransportInit = {}): SessionTransport {
  transport = createSessionTransport(init)({ libp2p: gatewayNode });
  return transport;
}

beforeEach(async () => {
  const backendUrl = await backend.start();
  [gatewayNode, providerNode] = await Promise.all([nodes.start(), nodes.start()]);
  await learnAddresses(gatewayNode, providerNode);
  provider = createHttpProvider({ backends: new Map([[SERVICE, backendUrl]]) })({ libp2p: providerNode });
  await provider.start();
});

afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
  await transport?.close();
  transport = undefined;
  await provider.stop();
  await nodes.stopAll();
  await backend.stop();
  backend.reset();
});

describe("session transport", () => {
  it("interleaves 300 concurrent requests on one session, each answered with its own body", async () => {
    // The backend answers in a shuffled order (random delays), so responses interleave on the session.
    backend.handle((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        setTimeout(() => {
          res.writeHead(200, { "x-path": req.url ?? "" });
          res.end(Buffer.concat(chunks));
        }, Math.floor(Math.random() * 20));
      });
    });
    const sessions = startTransport({ maxSessionsPerProvider: 1 });
    const count = 300;
    const bodies = Array.from({ length: count }, (_, index) => randomBytes(100 + ((index * 997) % 5000)));
    const results = await within(
      Promise.all(
        bodies.map(async (body, index) => {
          const signal = AbortSignal.timeout(20_000);
          const response = await sessions.exchange(providerNode.peerId, head(`/r/${index}`), bodyOf(body), signal);
          return { path: new Map(response.head.headers).get("x-path"), body: await readAll(response, signal) };
        }),
      ),
      "300 requests",
    );
    results.forEach((result, index) => {
      expect(result.path).toBe(`/r/${index}`);
      expect(result.body.equals(bodies[index]!)).toBe(true);
    });
    // One stream carried them all (more than one session's 128-request limit: the rest queued for a slot).
    expect(sessions.stats()).toMatchObject({ opened: 1, active: 0, bufferedBytes: 0 });
  });

  it("grows to more sessions under load, up to the limit", async () => {
    backend.handle((req, res) => {
      req.resume();
      req.on("end", () => setTimeout(() => res.end("ok"), 30));
    });
    const sessions = startTransport({ maxSessionsPerProvider: 3, growAt: 10 });
    await within(
      Promise.all(
        Array.from({ length: 100 }, async () => {
          const signal = AbortSignal.timeout(20_000);
          const response = await sessions.exchange(providerNode.peerId, head("/x"), bodyOf(), signal);
          expect((await readAll(response, signal)).toString()).toBe("ok");
        }),
      ),
      "100 requests",
    );
    expect(sessions.stats().opened).toBe(3);
  });

  it("answers overloaded once every session and the wait queue are full", async () => {
    const sessions = startTransport({ maxSessionsPerProvider: 1, maxConcurrentPerSession: 2, maxQueuedPerProvider: 1 });
    const stop = new AbortController();
    const hanging = [0, 1, 2].map(() => sessions.exchange(providerNode.peerId, head("/hang", { method: "GET" }), bodyOf(), stop.signal).catch((error: unknown) => error));
    await backend.receivedRequests(2);
    await expect(sessions.exchange(providerNode.peerId, head("/hang"), bodyOf(), stop.signal)).rejects.toMatchObject({ reason: "overloaded", sent: false });
    stop.abort(new Error("test over"));
    expect((await Promise.all(hanging)).every((error) => error instanceof Error && error.message === "test over")).toBe(true);
  });

  it("cancels on abort: the provider aborts the backend request and the session serves on", async () => {
    const sessions = startTransport();
    const client = new AbortController();
    const pending = sessions.exchange(providerNode.peerId, head("/hang", { method: "GET" }), bodyOf(), client.signal);
    await backend.receivedRequests(1);
    client.abort(new Error("the client left"));
    await expect(pending).rejects.toThrow("the client left");
    await within(backend.requests[0]!.aborted, "backend request aborted by RESET");
    const response = await sessions.exchange(providerNode.peerId, head("/echo"), bodyOf(Buffer.from("after")), AbortSignal.timeout(20_000));
    expect((await readAll(response)).toString()).toBe("after");
    expect(sessions.stats().opened).toBe(1);
  });

  it("enforces the deadline on the provider: deadline-exceeded and the backend request aborted", async () => {
    const sessions = startTransport();
    const started = Date.now();
    const failure = await sessions
      .exchange(providerNode.peerId, head("/hang", { method: "GET", deadline: Date.now() + 300 }), bodyOf(), AbortSignal.timeout(20_000))
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MeshRequestError);
    expect((failure as MeshRequestError).reason).toBe("deadline-exceeded");
    expect(Date.now() - started).toBeLessThan(5_000);
    await within(backend.requests[0]!.aborted, "backend request aborted at the deadline");
  });

  it("fails requests in flight cleanly when the provider's connection dies, then reconnects", async () => {
    backend.handle((req, res) => {
      if (req.url === "/partial") {
        res.writeHead(200);
        res.write("first part ");
        return; // never ends
      }
      if (req.url === "/hang") return;
      req.pipe(res);
    });
    const sessions = startTransport();
    const signal = AbortSignal.timeout(20_000);
    const partial = await sessions.exchange(providerNode.peerId, head("/partial", { method: "GET" }), bodyOf(), signal);
    expect(Buffer.from((await partial.read(signal))!).toString()).toBe("first part ");
    const hanging = sessions.exchange(providerNode.peerId, head("/hang", { method: "GET" }), bodyOf(), signal).catch((error: unknown) => error);
    await backend.receivedRequests(2);
    // The provider process dies: its side of the connection goes away.
    await Promise.all(providerNode.getConnections(gatewayNode.peerId).map((connection) => connection.abort(new Error("provider crashed"))));
    const beforeHead = await within(hanging, "in-flight request failed");
    expect(beforeHead).toBeInstanceOf(MeshTransportError);
    expect(beforeHead).toMatchObject({ reason: "connection-lost", sent: true, retryable: true });
    await expect(readAll(partial, signal)).rejects.toBeInstanceOf(MeshTransportError);
    // The next request dials again and gets a new session.
    const response = await sessions.exchange(providerNode.peerId, head("/echo"), bodyOf(Buffer.from("again")), signal);
    expect((await readAll(response, signal)).toString()).toBe("again");
    expect(sessions.stats().opened).toBe(2);
  });

  it("streams a 10 MiB response to a slow reader holding at most one request window unread", async () => {
    const total = 10 * 1024 * 1024;
    let written = 0;
    backend.handle((_req, res) => {
      res.writeHead(200);
      const chunk = randomBytes(64 * 1024);
      const pump = (): void => {
        while (written < total) {
          written += chunk.byteLength;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
    });
    const sessions = startTransport();
    const signal = AbortSignal.timeout(60_000);
    const response = await sessions.exchange(providerNode.peerId, head("/big", { method: "GET" }), bodyOf(), signal);
    let read = 0;
    let maxBuffered = 0;
    let maxAhead = 0;
    for (let chunk = await response.read(signal); chunk !== null; chunk = await response.read(signal)) {
      read += chunk.byteLength;
      maxBuffered = Math.max(maxBuffered, sessions.stats().bufferedBytes);
      maxAhead = Math.max(maxAhead, written - read);
      if (read % (512 * 1024) < chunk.byteLength) await delay(5);
    }
    expect(read).toBe(total);
    // Per-request credit: the gateway never holds more than one window of this response unread.
    expect(maxBuffered).toBeLessThanOrEqual(DEFAULT_REQUEST_WINDOW_BYTES);
    expect(maxBuffered).toBeGreaterThan(0);
    // The backend is held back too: what it wrote ahead of the reader is the credit plus the kernel buffers
    // of its loopback socket to the provider (autotuned up to a few MiB), never the whole body.
    expect(maxAhead).toBeLessThan(8 * 1024 * 1024);
  });
});

describe("session transport: request bodies", () => {
  it("stops sending the request body once the provider answered (RESET) and serves on", async () => {
    backend.handle((req, res) => (req.url === "/early" ? res.end("early") : req.pipe(res))); // /early never reads the body
    const sessions = startTransport();
    const signal = AbortSignal.timeout(20_000);
    // 8 MiB offered chunk by chunk: the gateway must stop pulling it once the answer is complete.
    let pulled = 0;
    const body: RequestBodySource = {
      chunk: async (index) => {
        if (index * 65536 >= 8 * 1024 * 1024) return null;
        pulled += 65536;
        return new Uint8Array(65536);
      },
    };
    const response = await sessions.exchange(providerNode.peerId, head("/early"), body, signal);
    expect((await readAll(response, signal)).toString()).toBe("early");
    expect(pulled).toBeLessThan(8 * 1024 * 1024);
    const next = await sessions.exchange(providerNode.peerId, head("/echo"), bodyOf(Buffer.from("next")), signal);
    expect((await readAll(next, signal)).toString()).toBe("next");
    expect(sessions.stats()).toMatchObject({ opened: 1, active: 0 });
  });

  it("closes a session left idle", async () => {
    const sessions = startTransport({ idleMs: 50 });
    const response = await sessions.exchange(providerNode.peerId, head("/echo"), bodyOf(Buffer.from("x")), AbortSignal.timeout(20_000));
    await readAll(response);
    expect(sessions.stats().sessions[providerNode.peerId.toString()]).toBe(1);
    const deadline = Date.now() + 5_000;
    while (sessions.stats().sessions[providerNode.peerId.toString()] !== undefined && Date.now() < deadline) await delay(20);
    expect(sessions.stats().sessions[providerNode.peerId.toString()]).toBeUndefined();
  });

  it("uploads 10 MiB through the gateway to a slow backend with bounded memory", async () => {
    const total = 10 * 1024 * 1024;
    let received = 0;
    let mismatch = -1;
    backend.handle((req, res) => {
      if (req.url !== "/upload") return void req.pipe(res);
      req.on("data", (chunk: Buffer) => {
        for (let index = 0; index < chunk.byteLength && mismatch < 0; index += 997) {
          if (chunk[index] !== patternBytes(received + index, 1)[0]) mismatch = received + index;
        }
        received += chunk.byteLength;
        // A slow consumer: pause 2 ms after every 64 KiB.
        if (received % 65536 < chunk.byteLength) {
          req.pause();
          setTimeout(() => req.resume(), 2);
        }
      });
      req.on("end", () => res.end(String(received)));
    });
    gateway = createGateway({ host: "127.0.0.1", port: 0, requestTimeoutMs: 60_000 })({ libp2p: gatewayNode, resolveProviders: async () => [providerNode.peerId] });
    await gateway.start();
    const url = `http://127.0.0.1:${gateway.address().port}/svc/1/upload`;
    await httpFetch(`http://127.0.0.1:${gateway.address().port}/svc/1/warm-up`, { method: "POST", body: new Uint8Array(256 * 1024) });
    await settledGc();
    const baseline = process.memoryUsage();
    let peakArrayBuffers = baseline.arrayBuffers;
    let peakHeap = baseline.heapUsed;
    let sent = 0;
    /** arrayBuffers growth (MiB) after each MiB sent. */
    const samples: number[] = [];
    const upload = (async function* () {
      for await (const chunk of patternBody(total)) {
        sent += chunk.byteLength;
        if (sent % (1024 * 1024) === 0) {
          await settledGc();
          const usage = process.memoryUsage();
          peakArrayBuffers = Math.max(peakArrayBuffers, usage.arrayBuffers);
          samples.push((usage.arrayBuffers - baseline.arrayBuffers) / 1048576);
          peakHeap = Math.max(peakHeap, usage.heapUsed);
        }
        yield chunk;
      }
    })();
    const response = await httpOpen(url, { method: "POST", body: upload, headers: { "content-length": String(total) } });
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    expect([response.statusCode, Buffer.concat(chunks).toString(), mismatch]).toEqual([200, String(total), -1]);
    const growth = { arrayBuffersMiB: (peakArrayBuffers - baseline.arrayBuffers) / 1048576, heapMiB: (peakHeap - baseline.heapUsed) / 1048576 };
    const median = [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
    console.log(
      `10 MiB upload to a slow backend: arrayBuffers growth per MiB sent ${samples.map((value) => value.toFixed(1)).join(" ")} MiB ` +
        `(median ${median.toFixed(1)}, peak ${growth.arrayBuffersMiB.toFixed(1)}), heap peak ${growth.heapMiB.toFixed(1)} MiB`,
    );
    // Client, gateway, provider and backend all live in this process. What sits between the client and
    // the slow backend is mostly kernel socket buffers; user space holds a request window per hop. A
    // gateway or provider that buffered the body would grow with every MiB sent (median ≥ 4 MiB). Single
    // samples show transient spikes of a few MiB (gone at the next sample), hence the median and a looser
    // peak bound.
    expect(samples).toHaveLength(10);
    expect(median).toBeLessThan(4);
    expect(growth.arrayBuffersMiB).toBeLessThan(16);
    expect(growth.heapMiB).toBeLessThan(16);
  });
});

describe("provider session handler", () => {
  async function openRaw(): Promise<FrameStream> {
    return new FrameStream(await gatewayNode.dialProtocol(providerNode.peerId, MESH_PROTOCOL_ID));
  }

  /** Frames until the stream ends; `failure` when it ended in a reset. */
  async function framesUntilClosed(frames: FrameStream): Promise<{ frames: HttpFrame[]; failure: unknown }> {
    const out: HttpFrame[] = [];
    try {
      for (let frame = await frames.read(); frame !== null; frame = await frames.read()) out.push(frame);
      return { frames: out, failure: undefined };
    } catch (failure) {
      return { frames: out, failure };
    }
  }

  const violations: Array<[string, () => Uint8Array]> = [
    ["an unknown frame type", () => Uint8Array.of(2, 0x7f, 1)],
    ["a BODY for a request never opened", () => encodeFrame({ type: "body", requestId: 9, chunk: new Uint8Array(3) })],
    ["a request id that does not increase", () => Buffer.concat([encodeFrame({ type: "request-head", requestId: 5, head: head("/a").head }), encodeFrame({ type: "request-head", requestId: 5, head: head("/b").head })])],
    ["BODY beyond the request's credit", () => Buffer.concat([
      encodeFrame({ type: "request-head", requestId: 1, head: head("/hang").head }),
      ...Array.from({ length: DEFAULT_REQUEST_WINDOW_BYTES / 65536 + 1 }, () => encodeFrame({ type: "body", requestId: 1, chunk: new Uint8Array(65536) })),
    ])],
    ["a frame for request 0 other than ERROR", () => Uint8Array.of(2, FRAME_TYPE.end, 0)],
  ];

  it.each(violations)("%s closes that session only, abandoning its requests", async (_name, bytes) => {
    const healthy = await openRaw();
    await healthy.write({ type: "request-head", requestId: 1, head: head("/keep").head });
    const broken = await openRaw();
    await broken.write({ type: "request-head", requestId: 1, head: head("/hang", { method: "GET" }).head });
    await backend.receivedRequests(2);
    broken.stream.send(bytes());
    const result = await within(framesUntilClosed(broken), "broken session closed");
    expect(result.frames).toContainEqual({ type: "error", requestId: 0, error: expect.objectContaining({ code: "protocol-error" }) });
    const hangRequest = backend.requests.find((request) => request.url === "/hang")!;
    await within(hangRequest.aborted, "backend request of the broken session aborted");
    // The other session on the same connection goes on.
    await healthy.write({ type: "body", requestId: 1, chunk: Buffer.from("still fine") });
    await healthy.write({ type: "end", requestId: 1 });
    const answer: HttpFrame[] = [];
    for (let frame = await healthy.read(AbortSignal.timeout(20_000)); frame !== null; frame = await healthy.read(AbortSignal.timeout(20_000))) {
      answer.push(frame);
      if (frame.type === "end") break;
    }
    expect(answer[0]).toMatchObject({ type: "response-head", requestId: 1, head: { status: 200 } });
    expect(Buffer.concat(answer.flatMap((frame) => (frame.type === "body" ? [frame.chunk] : []))).toString()).toBe("still fine");
    expect(gatewayNode.getConnections(providerNode.peerId)).toHaveLength(1);
  });

  it(`answers busy beyond ${MAX_CONCURRENT_REQUESTS_PER_SESSION} requests in flight on one session, without calling the backend`, async () => {
    const session = await openRaw();
    for (let id = 1; id <= MAX_CONCURRENT_REQUESTS_PER_SESSION + 1; id++) {
      await session.write({ type: "request-head", requestId: id, head: head("/hang", { method: "GET" }).head });
      await session.write({ type: "end", requestId: id });
    }
    const frame = await within(session.read(), "busy answer");
    expect(frame).toMatchObject({ type: "error", requestId: MAX_CONCURRENT_REQUESTS_PER_SESSION + 1, error: { code: "busy" } });
    await backend.receivedRequests(MAX_CONCURRENT_REQUESTS_PER_SESSION);
    expect(backend.requests.some((request) => request.url !== "/hang")).toBe(false);
    session.abort(new Error("test over"));
  });
});

describe("gateway over sessions", () => {
  it("serves 200 concurrent HTTP requests through one gateway over a handful of sessions", async () => {
    const sessions = startTransport();
    gateway = createGateway({ host: "127.0.0.1", port: 0 })({ libp2p: gatewayNode, transport: sessions, resolveProviders: async () => [providerNode.peerId] });
    await gateway.start();
    const base = `http://127.0.0.1:${gateway.address().port}`;
    const responses = await within(
      Promise.all(Array.from({ length: 200 }, (_, index) => httpFetch(`${base}/svc/1/n/${index}`, { method: "POST", body: Buffer.from(`body ${index}`) }))),
      "200 requests",
    );
    responses.forEach((response, index) => {
      expect([response.status, response.headers["x-echo-url"], response.body.toString()]).toEqual([200, `/n/${index}`, `body ${index}`]);
    });
    expect(sessions.stats().opened).toBeLessThanOrEqual(4);
  });

  it("keeps one backend connection for requests one at a time with content-length answers", async () => {
    // Regression: a provider that finished an exchange before its backend response's 'end' aborted the
    // request's signal while the socket was still the request's: the socket died with an unhandled error.
    const ports = new Set<number>();
    backend.handle((req, res) => {
      ports.add(req.socket.remotePort ?? 0);
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        res.writeHead(200, { "content-length": String(body.byteLength) });
        res.end(body);
      });
    });
    gateway = createGateway({ host: "127.0.0.1", port: 0 })({ libp2p: gatewayNode, resolveProviders: async () => [providerNode.peerId] });
    await gateway.start();
    const base = `http://127.0.0.1:${gateway.address().port}`;
    for (let index = 0; index < 20; index++) {
      const response = await httpFetch(`${base}/svc/1/one`, { method: "POST", body: Buffer.alloc(1024, index) });
      expect([response.status, response.body.equals(Buffer.alloc(1024, index))]).toEqual([200, true]);
    }
    expect(ports.size).toBe(1);
  });

  it("answers the next request after the provider's connection died", async () => {
    gateway = createGateway({ host: "127.0.0.1", port: 0 })({ libp2p: gatewayNode, resolveProviders: async () => [providerNode.peerId] });
    await gateway.start();
    const base = `http://127.0.0.1:${gateway.address().port}`;
    expect((await httpFetch(`${base}/svc/1/a`)).status).toBe(200);
    await Promise.all(providerNode.getConnections(gatewayNode.peerId).map((connection) => connection.abort(new Error("provider crashed"))));
    const response = await httpFetch(`${base}/svc/1/b`, { method: "POST", body: Buffer.from("b") });
    expect([response.status, response.body.toString()]).toEqual([200, "b"]);
  });
});

describe("session transport: the provider's backend client (undici for requests complete at the head)", () => {
  it("forwards a complete request with its headers and body, and keeps duplicate response headers", async () => {
    let rawRequest: string[] = [];
    let received = Buffer.alloc(0);
    backend.handle((req, res) => {
      rawRequest = req.rawHeaders;
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        received = Buffer.concat(chunks);
        res.writeHead(201, [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["x-upper", "Value"]].flat());
        res.end(received);
      });
    });
    const sessions = startTransport();
    const body = patternBytes(0, 100_000);
    const headers: Array<[string, string]> = [["x-twice", "1"], ["x-twice", "2"], ["dsmp-access", "secret"], ["expect", "100-continue"], ["content-length", String(body.byteLength)]];
    const response = await sessions.exchange(providerNode.peerId, head("/up?q=1", { headers }), bodyOf(body.subarray(0, 40_000), body.subarray(40_000)), AbortSignal.timeout(20_000));
    expect(response.head.status).toBe(201);
    expect(response.head.headers.filter(([name]) => name === "set-cookie").map(([, value]) => value)).toEqual(["a=1", "b=2"]);
    expect(response.head.headers).toContainEqual(["x-upper", "Value"]);
    expect((await readAll(response)).equals(body)).toBe(true);
    expect(received.equals(body)).toBe(true);
    const seen = backend.requests[0]!;
    expect([seen.method, seen.url]).toEqual(["POST", "/up?q=1"]);
    const names = rawRequest.filter((_, index) => index % 2 === 0).map((name) => name.toLowerCase());
    expect(names.filter((name) => name === "x-twice")).toHaveLength(2);
    expect(names).not.toContain("dsmp-access");
    expect(names).not.toContain("expect");
    expect(seen.headers["content-length"]).toBe(String(body.byteLength));
  });

  it("sends a GET without a body with no body framing headers", async () => {
    const sessions = startTransport();
    const response = await sessions.exchange(providerNode.peerId, head("/plain", { method: "GET" }), bodyOf(), AbortSignal.timeout(20_000));
    await readAll(response);
    const seen = backend.requests[0]!;
    expect(seen.method).toBe("GET");
    expect(seen.headers["content-length"]).toBeUndefined();
    expect(seen.headers["transfer-encoding"]).toBeUndefined();
  });

  it("answers backend-unavailable when the backend refuses connections", async () => {
    await backend.stop();
    const sessions = startTransport();
    const failure = await sessions
      .exchange(providerNode.peerId, head("/echo"), bodyOf(Buffer.from("x")), AbortSignal.timeout(20_000))
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MeshRequestError);
    expect((failure as MeshRequestError).reason).toBe("backend-unavailable");
  });

  it("answers backend-failed when the backend cuts the response short, and serves the next request", async () => {
    backend.handle((req, res) => {
      if (req.url === "/cut") {
        res.writeHead(200, { "content-length": "100" });
        res.write("only part");
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      req.pipe(res);
    });
    const sessions = startTransport();
    const signal = AbortSignal.timeout(20_000);
    const response = await sessions.exchange(providerNode.peerId, head("/cut", { method: "GET" }), bodyOf(), signal);
    const failure = await readAll(response, signal).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MeshRequestError);
    expect((failure as MeshRequestError).reason).toBe("backend-failed");
    const next = await sessions.exchange(providerNode.peerId, head("/echo"), bodyOf(Buffer.from("next")), signal);
    expect((await readAll(next, signal)).toString()).toBe("next");
  });

  it("streams a 10 MiB request body that is complete at the head's arrival only in part (node:http path) and a small one through undici, both intact", async () => {
    const big = patternBytes(0, 10 * 1024 * 1024);
    const sessions = startTransport();
    const signal = AbortSignal.timeout(60_000);
    const chunks: Uint8Array[] = [];
    for (let offset = 0; offset < big.byteLength; offset += 256 * 1024) chunks.push(big.subarray(offset, offset + 256 * 1024));
    const upload = await sessions.exchange(providerNode.peerId, head("/echo"), bodyOf(...chunks), signal);
    expect((await readAll(upload, signal)).equals(big)).toBe(true);
    const small = await sessions.exchange(providerNode.peerId, head("/echo"), bodyOf(Buffer.from("small")), signal);
    expect((await readAll(small, signal)).toString()).toBe("small");
  });
});
