/**
 * Test parts for the mesh: plain libp2p v3 nodes on 127.0.0.1 (tcp + noise + yamux + identify), an echo
 * backend, an HTTP client that streams, and bounded waits. Nothing here sleeps for a fixed time.
 */
import { once } from "node:events";
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import type { Libp2p, PrivateKey } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import { withCoalescedWrites, withLazyWindowUpdates } from "../p2p/connection-batching.ts";
import { noiseCrypto } from "../p2p/noise-crypto.ts";

/** Bound on any wait in the mesh tests (ms). */
export const TEST_WAIT_MS = 20_000;

/** Starts libp2p nodes and stops them all (in reverse order) after a test. */
export class TestNodes {
  readonly #nodes: Libp2p[] = [];

  /**
   * A node; `maxStreamWindowBytes` caps yamux's per-stream receive window (default 16 MiB); `privateKey`
   * (default a fresh Ed25519 key) gives it a secp256k1 identity as Xnodes have (node addresses, v 2 tokens).
   */
  async start(options: { maxStreamWindowBytes?: number; privateKey?: PrivateKey } = {}): Promise<Libp2p> {
    const window = options.maxStreamWindowBytes;
    const node = await createLibp2p({
      ...(options.privateKey === undefined ? {} : { privateKey: options.privateKey }),
      addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
      transports: [tcp()],
      // As the node (p2p/libp2p-node.ts): one socket write per Noise message, yamux window updates per half window,
      // Noise keys imported once.
      connectionEncrypters: [withCoalescedWrites(noise({ crypto: noiseCrypto }))],
      streamMuxers: [withLazyWindowUpdates(yamux(window === undefined ? {} : { streamOptions: { maxStreamWindowSize: window } }))],
      services: { identify: identify() },
    });
    this.#nodes.push(node);
    return node;
  }

  /**
   * Closes every connection first: two nodes stopping at once otherwise wait out libp2p's 500 ms
   * graceful-close timeout on their shared connection.
   */
  async stopAll(): Promise<void> {
    const nodes = this.#nodes.splice(0).reverse();
    await Promise.allSettled(nodes.flatMap((node) => node.getConnections().map((connection) => connection.close())));
    await Promise.allSettled(nodes.map((node) => node.stop()));
  }
}

/** Teach `from` where `to` listens, so it can dial `to` by PeerId. */
export async function learnAddresses(from: Libp2p, to: Libp2p): Promise<void> {
  await from.peerStore.merge(to.peerId, { multiaddrs: to.getMultiaddrs() });
}

/** What the backend saw of one request. */
export interface BackendRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  /** Resolves when the request's connection closed before a response was sent (the caller aborted it). */
  aborted: Promise<void>;
}

export type BackendHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * An HTTP backend on 127.0.0.1. By default it echoes: status 200, the request body streamed back, and
 * `x-echo-method` / `x-echo-url` headers. `GET /status/<n>` answers status n; `GET /hang` never answers.
 */
export class TestBackend {
  readonly requests: BackendRequest[] = [];
  #server: Server | undefined;
  #handler: BackendHandler | undefined;
  #waiters: Array<() => void> = [];

  /** Replace the default behaviour. */
  handle(handler: BackendHandler): void {
    this.#handler = handler;
  }

  /** Forget the requests seen and go back to the default behaviour. */
  reset(): void {
    this.requests.length = 0;
    this.#handler = undefined;
  }

  async start(): Promise<URL> {
    const server = createServer((req, res) => {
      let aborted!: () => void;
      const record: BackendRequest = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        aborted: new Promise<void>((resolve) => (aborted = resolve)),
      };
      res.once("close", () => {
        if (!res.writableFinished) aborted();
      });
      this.requests.push(record);
      for (const waiter of this.#waiters.splice(0)) waiter();
      if (this.#handler !== undefined) return this.#handler(req, res);
      const status = /^\/status\/(\d{3})$/.exec(req.url ?? "");
      if (status !== null) {
        res.writeHead(Number(status[1]), { "content-type": "text/plain" });
        res.end(`status ${status[1]}`);
        return;
      }
      if (req.url === "/hang") return;
      res.writeHead(200, { "x-echo-method": req.method ?? "", "x-echo-url": req.url ?? "", "content-type": "application/octet-stream" });
      req.pipe(res);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    this.#server = server;
    return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  }

  /** Resolves once the backend has received `count` requests. */
  async receivedRequests(count: number): Promise<void> {
    const deadline = Date.now() + TEST_WAIT_MS;
    while (this.requests.length < count) {
      if (Date.now() > deadline) throw new Error(`backend got ${this.requests.length} of ${count} requests`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100).unref();
      });
    }
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export interface TestResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface TestRequestOptions {
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: Uint8Array | AsyncIterable<Uint8Array>;
}

/** Send a request and read the whole response (bodies streamed on the way out). */
export async function httpFetch(url: string, options: TestRequestOptions = {}): Promise<TestResponse> {
  const response = await httpOpen(url, options);
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return { status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) };
}

/** Send a request; resolves with the response once its head arrived (the body is left to the caller). */
export async function httpOpen(url: string, options: TestRequestOptions = {}): Promise<IncomingMessage> {
  const req = request(url, { method: options.method ?? "GET", headers: options.headers ?? {}, agent: false });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once("response", resolve);
    req.once("error", reject);
  });
  const body = options.body;
  if (body instanceof Uint8Array) {
    req.end(body);
  } else if (body !== undefined) {
    void (async () => {
      for await (const chunk of body) {
        if (!req.write(chunk)) await once(req, "drain");
      }
      req.end();
    })().catch((error: unknown) => req.destroy(error as Error));
  } else {
    req.end();
  }
  return await response;
}

/** `size` bytes of a seeded pattern, produced chunk by chunk (never held in memory at once). */
export async function* patternBody(size: number, chunkSize = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < size; offset += chunkSize) {
    yield patternBytes(offset, Math.min(chunkSize, size - offset));
  }
}

/** Bytes `offset … offset + length` of the pattern {@link patternBody} produces. */
export function patternBytes(offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let index = 0; index < length; index++) out[index] = ((offset + index) * 31 + ((offset + index) >> 11)) & 0xff;
  return out;
}

/** Resolve when `promise` does, reject after `ms` with `what` in the message. */
export async function within<T>(promise: Promise<T>, what: string, ms = TEST_WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
