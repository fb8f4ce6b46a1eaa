/**
 * `/dsmp/blob/1.0.0`: fetch a blob (task module or input) by its sha256 from a peer (docs/tasks.md "Blob
 * protocol"). Request: the 32 raw hash bytes, then the requester closes its writing end. Response: one status
 * byte — 0x00 found, 0x01 not found, 0x02 refused (over the server's cap) — and, when found, a u32 big-endian
 * length followed by exactly that many bytes; then the server closes. The requester refuses a length over its
 * own cap before reading the body, verifies the hash, and stores the blob. One deadline bounds each exchange.
 *
 * @example
 * const blobs = createBlobService({ store })({ libp2p, logger })
 * await blobs.start()
 * const wasm = await blobs.fetch(moduleHash, [submitterPeerId, ...committeePeers], signal)
 */
import type { Libp2p, PeerId, Stream } from "@libp2p/interface";
import type { Hex } from "viem";
import { BlobFetchError, BlobHashMismatchError, BlobNotFoundError, BlobTooLargeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { sendAll, StreamReader } from "../p2p/stream-bytes.ts";
import { sha256Hex, type BlobStore } from "./blob-store.ts";

export const BLOB_PROTOCOL_ID = "/dsmp/blob/1.0.0";
/** Deadline of one exchange (ms): 30 s moves the 16 MiB cap over a ~5 Mbit/s link. */
export const BLOB_EXCHANGE_TIMEOUT_MS = 30_000;
/** Concurrent inbound blob streams per connection: a committee asks for a module and an input, a few times. */
export const BLOB_MAX_INBOUND_STREAMS = 8;

export const BLOB_STATUS = { found: 0x00, notFound: 0x01, refused: 0x02 } as const;

export interface BlobServiceInit {
  store: BlobStore;
  /** @default {@link BLOB_EXCHANGE_TIMEOUT_MS} */
  timeoutMs?: number;
}

export interface BlobServiceComponents {
  libp2p: Pick<Libp2p, "handle" | "unhandle" | "dialProtocol">;
  logger: Logger;
}

/** Counted outcomes, for metrics. */
export interface BlobServiceStats {
  served: number;
  notFound: number;
  fetched: number;
  rejected: number;
}

export interface BlobService {
  readonly stats: BlobServiceStats;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * The blob with `hash`: from the local store, else from the first of `peers` that has it (stored locally
   * on success). @throws {BlobNotFoundError} when no peer has it (each peer's failure is in `cause`).
   */
  fetch(hash: Hex, peers: readonly PeerId[], signal?: AbortSignal): Promise<Uint8Array>;
  /** One exchange with one peer, no store lookup. @throws {BlobNotFoundError} {@link BlobTooLargeError} {@link BlobHashMismatchError} {@link BlobFetchError} */
  fetchFrom(peer: PeerId, hash: Hex, signal?: AbortSignal): Promise<Uint8Array>;
}

function hexToBytes(hash: Hex): Uint8Array {
  return Uint8Array.from(Buffer.from(hash.slice(2), "hex"));
}

export function createBlobService(init: BlobServiceInit): (components: BlobServiceComponents) => BlobService {
  const timeoutMs = init.timeoutMs ?? BLOB_EXCHANGE_TIMEOUT_MS;
  const store = init.store;
  return ({ libp2p, logger }) => {
    const log = logger.child({ module: "blob" });
    const stats: BlobServiceStats = { served: 0, notFound: 0, fetched: 0, rejected: 0 };
    const running = new AbortController();

    const serve = async (stream: Stream): Promise<void> => {
      const signal = AbortSignal.any([running.signal, AbortSignal.timeout(timeoutMs)]);
      const onAbort = () => stream.abort(new Error("blob exchange deadline"));
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        const reader = new StreamReader(stream);
        const request = await reader.read(32);
        if (request.length !== 32 || !(await reader.atEnd())) {
          stats.rejected++;
          stream.abort(new Error("malformed blob request"));
          return;
        }
        const hash = `0x${Buffer.from(request).toString("hex")}` as Hex;
        const blob = await store.get(hash);
        if (blob === undefined) {
          stats.notFound++;
          await sendAll(stream, Uint8Array.of(BLOB_STATUS.notFound), signal);
        } else {
          const head = new Uint8Array(5);
          head[0] = BLOB_STATUS.found;
          new DataView(head.buffer).setUint32(1, blob.length, false);
          await sendAll(stream, head, signal);
          await sendAll(stream, blob, signal);
          stats.served++;
        }
        await stream.close({ signal });
      } catch (err) {
        log.debug({ err }, "blob request failed");
        stream.abort(err instanceof Error ? err : new Error(String(err)));
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    };

    const fetchFrom = async (peer: PeerId, hash: Hex, outer?: AbortSignal): Promise<Uint8Array> => {
      const signal = AbortSignal.any([running.signal, AbortSignal.timeout(timeoutMs), ...(outer ? [outer] : [])]);
      let stream: Stream;
      try {
        stream = await libp2p.dialProtocol(peer, BLOB_PROTOCOL_ID, { signal });
      } catch (err) {
        throw new BlobFetchError(`cannot open a blob stream to ${peer}`, { cause: err });
      }
      const onAbort = () => stream.abort(new Error("blob exchange deadline"));
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, store.maxBytes + 5);
        const reader = new StreamReader(stream);
        await sendAll(stream, hexToBytes(hash), signal);
        await stream.close({ signal });
        const status = await reader.read(1);
        if (status.length === 0) throw new BlobFetchError(`peer ${peer} closed the blob stream without answering`);
        if (status[0] === BLOB_STATUS.notFound) throw new BlobNotFoundError(hash, { details: `asked ${peer}` });
        if (status[0] !== BLOB_STATUS.found) throw new BlobFetchError(`peer ${peer} refused blob ${hash} (status ${status[0]})`);
        const lengthBytes = await reader.read(4);
        if (lengthBytes.length !== 4) throw new BlobFetchError(`peer ${peer} sent a truncated blob header`);
        const length = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 4).getUint32(0, false);
        if (length > store.maxBytes) throw new BlobTooLargeError(length, store.maxBytes);
        const body = await reader.read(length);
        if (body.length !== length) throw new BlobFetchError(`peer ${peer} sent ${body.length} of ${length} blob bytes`);
        if (!(await reader.atEnd())) throw new BlobFetchError(`peer ${peer} sent bytes after the blob`);
        const actual = sha256Hex(body);
        if (actual !== hash.toLowerCase()) throw new BlobHashMismatchError(hash, actual);
        return body;
      } catch (err) {
        stream.abort(err instanceof Error ? err : new Error(String(err)));
        if (err instanceof BlobNotFoundError || err instanceof BlobTooLargeError || err instanceof BlobHashMismatchError || err instanceof BlobFetchError) throw err;
        throw new BlobFetchError(`blob exchange with ${peer} failed`, { cause: err });
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    };

    return {
      stats,
      async start() {
        await libp2p.handle(BLOB_PROTOCOL_ID, (stream) => void serve(stream), { maxInboundStreams: BLOB_MAX_INBOUND_STREAMS });
      },
      async stop() {
        running.abort(new Error("blob service stopped"));
        await libp2p.unhandle(BLOB_PROTOCOL_ID);
      },
      fetchFrom,
      async fetch(hash, peers, signal) {
        const local = await store.get(hash);
        if (local !== undefined) return local;
        const failures: unknown[] = [];
        for (const peer of peers) {
          signal?.throwIfAborted();
          try {
            const blob = await fetchFrom(peer, hash, signal);
            await store.put(blob);
            stats.fetched++;
            return blob;
          } catch (err) {
            if (signal?.aborted === true) throw signal.reason;
            failures.push(err);
            log.debug({ err, peer: peer.toString(), hash }, "blob fetch from peer failed");
          }
        }
        throw new BlobNotFoundError(hash, {
          details: `asked ${peers.length} peer(s): ${failures.map((f) => (f instanceof Error ? f.message.split("\n")[0] : String(f))).join("; ")}`,
          cause: failures.length === 1 ? failures[0] : new AggregateError(failures),
        });
      },
    };
  };
}
