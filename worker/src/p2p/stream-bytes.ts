/**
 * Byte-level reading and writing of a libp2p stream for the request / response protocols whose messages are
 * raw bytes (`/dsmp/blob/1.0.0`, `/dsmp/resource-proof/1.0.0`): exact-length reads, and sends in chunks
 * that wait for the muxer to drain (back-pressure) and give up on abort or close.
 */
import type { Stream } from "@libp2p/interface";

/** Chunk size of a long send; the sender waits for the muxer to drain between chunks. */
const CHUNK_BYTES = 64 * 1024;

/** Reads the stream until `want` bytes past what `buffered` holds are there, or it ends. Bounded by `max`. */
export class StreamReader {
  readonly #iterator: AsyncIterator<Uint8Array | { subarray(): Uint8Array }>;
  #buffer: Uint8Array = new Uint8Array(0);
  #ended = false;
  constructor(stream: Stream) {
    this.#iterator = (stream as unknown as AsyncIterable<Uint8Array | { subarray(): Uint8Array }>)[Symbol.asyncIterator]();
  }
  /** Exactly `n` bytes, or fewer if the stream ended first. */
  async read(n: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let have = 0;
    while (have < n) {
      if (this.#buffer.length === 0) {
        if (this.#ended) break;
        const next = await this.#iterator.next();
        if (next.done === true) {
          this.#ended = true;
          break;
        }
        const chunk = next.value;
        this.#buffer = chunk instanceof Uint8Array ? chunk : chunk.subarray();
        continue;
      }
      const take = Math.min(n - have, this.#buffer.length);
      parts.push(this.#buffer.subarray(0, take));
      this.#buffer = this.#buffer.subarray(take);
      have += take;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
  /** Whether anything follows (reads at most one more chunk). */
  async atEnd(): Promise<boolean> {
    return (await this.read(1)).length === 0;
  }
}

export async function sendAll(stream: Stream, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
  for (let at = 0; at < bytes.length || at === 0; at += CHUNK_BYTES) {
    signal.throwIfAborted();
    if (!stream.send(bytes.subarray(at, at + CHUNK_BYTES))) {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: unknown) => {
          stream.removeEventListener("drain", onDrain);
          stream.removeEventListener("close", onClose);
          signal.removeEventListener("abort", onAbort);
          if (err === undefined) resolve();
          else reject(err);
        };
        const onDrain = () => done();
        const onClose = () => done(new Error("stream closed while sending"));
        const onAbort = () => done(signal.reason);
        stream.addEventListener("drain", onDrain);
        stream.addEventListener("close", onClose);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    }
    if (bytes.length === 0) break;
  }
}
