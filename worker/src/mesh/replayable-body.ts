/**
 * A request body read once from the client and handed out by chunk index, so that a second attempt (on
 * another provider) can send it again — as long as it has not outgrown the replay buffer. Reading is pulled
 * by whoever needs the next chunk, so the client is never read faster than a provider takes the body.
 */
import type { Readable } from "node:stream";
import { raceAbort } from "./abort-race.ts";

/** Bytes kept for a replay: 64 KiB covers the bodies of typical idempotent requests (none, or small JSON). */
export const DEFAULT_REPLAY_BUFFER_BYTES = 64 * 1024;

/**
 * What the body is read from: the client's request (`IncomingMessage`). Read in paused mode with `read()`,
 * not through its async iterator: a 1 KiB body is normally buffered by the time it is asked for, and then
 * costs one `read()` instead of an async generator, end-of-stream watchers and a promise per chunk.
 */
export type BodySource = Readable & {
  /** `IncomingMessage.complete`: the whole message has arrived (so nothing buffered means the end). */
  readonly complete?: boolean;
};

export class ReplayableBody {
  readonly #source: BodySource;
  readonly #limit: number;
  readonly #kept: Uint8Array[] = [];
  #last: Uint8Array | undefined;
  #pulled = 0;
  #bytes = 0;
  #ended = false;
  #overflowed = false;
  #error: unknown;
  #pending: Promise<void> | undefined;

  constructor(source: BodySource, limit: number = DEFAULT_REPLAY_BUFFER_BYTES) {
    this.#source = source;
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
      if (!this.#readNow()) await raceAbort(this.#waitForSource(), signal);
    }
    if (!this.#overflowed) return this.#kept[index]!;
    if (index === this.#pulled - 1) return this.#last!;
    throw new Error(`chunk ${index} of the request body was not kept (over ${this.#limit} bytes)`);
  }

  /** Take what the client's body has buffered, or learn that it ended or failed; false when there is nothing yet. */
  #readNow(): boolean {
    const source = this.#source;
    const data = source.read() as Uint8Array | null;
    if (data !== null) {
      this.#record(data);
      return true;
    }
    if (source.readableEnded || (source.complete === true && source.readableLength === 0)) {
      this.#ended = true;
      return true;
    }
    if (source.errored !== null || source.destroyed) {
      this.#error = source.errored ?? new Error("the request body ended early: the client disconnected");
      return true;
    }
    return false;
  }

  /** Resolves at the client body's next event (data, end, error or close); listeners only while waiting. */
  #waitForSource(): Promise<void> {
    this.#pending ??= new Promise<void>((resolve) => {
      const source = this.#source;
      const done = (): void => {
        source.off("readable", done);
        source.off("end", done);
        source.off("close", done);
        source.off("error", onError);
        this.#pending = undefined;
        resolve();
      };
      const onError = (error: unknown): void => {
        this.#error ??= error ?? new Error("the request body failed");
        done();
      };
      source.on("readable", done);
      source.on("end", done);
      source.on("close", done);
      source.on("error", onError);
    });
    return this.#pending;
  }

  #record(chunk: Uint8Array): void {
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
