/**
 * A request body read once from the client and handed out by chunk index, so that a second attempt (on
 * another provider) can send it again — as long as it has not outgrown the replay buffer. Reading is pulled
 * by whoever needs the next chunk, so the client is never read faster than a provider takes the body.
 */
import { raceAbort } from "./abort-race.ts";

/** Bytes kept for a replay: 64 KiB covers the bodies of typical idempotent requests (none, or small JSON). */
export const DEFAULT_REPLAY_BUFFER_BYTES = 64 * 1024;

export class ReplayableBody {
  readonly #source: AsyncIterator<Uint8Array>;
  readonly #limit: number;
  readonly #kept: Uint8Array[] = [];
  #last: Uint8Array | undefined;
  #pulled = 0;
  #bytes = 0;
  #ended = false;
  #overflowed = false;
  #error: unknown;
  #pending: Promise<void> | undefined;

  constructor(source: AsyncIterable<Uint8Array>, limit: number = DEFAULT_REPLAY_BUFFER_BYTES) {
    this.#source = source[Symbol.asyncIterator]();
    this.#limit = limit;
  }

  /** Every chunk read so far is still here: a new attempt can start from chunk 0. */
  get replayable(): boolean {
    return !this.#overflowed;
  }

  /** Reading the client's body failed (it disconnected mid-upload): the request cannot go on. */
  get failed(): boolean {
    return this.#error !== undefined;
  }

  /** Bytes read from the client so far. */
  get bytesRead(): number {
    return this.#bytes;
  }

  /**
   * Chunk `index` (0-based), or `null` after the last one.
   * @throws for a chunk dropped from the replay buffer (callers replay only while {@link replayable}).
   * @throws the client's error if its body failed (e.g. it disconnected), or `signal`'s reason.
   */
  async chunk(index: number, signal: AbortSignal): Promise<Uint8Array | null> {
    while (index >= this.#pulled) {
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return null;
      this.#pending ??= this.#pull().finally(() => (this.#pending = undefined));
      await raceAbort(this.#pending, signal);
    }
    if (!this.#overflowed) return this.#kept[index]!;
    if (index === this.#pulled - 1) return this.#last!;
    throw new Error(`chunk ${index} of the request body was not kept (over ${this.#limit} bytes)`);
  }

  async #pull(): Promise<void> {
    let result: IteratorResult<Uint8Array>;
    try {
      result = await this.#source.next();
    } catch (error) {
      this.#error = error ?? new Error("the request body failed");
      throw this.#error;
    }
    if (result.done === true) {
      this.#ended = true;
      return;
    }
    const chunk = result.value;
    this.#pulled += 1;
    this.#bytes += chunk.byteLength;
    this.#last = chunk;
    if (this.#overflowed) return;
    if (this.#bytes > this.#limit) {
      this.#overflowed = true;
      this.#kept.length = 0;
    } else {
      this.#kept.push(chunk);
    }
  }
}
