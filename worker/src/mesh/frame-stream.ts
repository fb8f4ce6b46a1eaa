/**
 * `/dsmp/http/1.0.0` frames over a libp2p v3 stream, with back-pressure both ways.
 *
 * Reading: a v3 stream pushes 'message' events whether or not anyone keeps up (its async iterator and
 * `byteStream` buffer without bound, or abort at 4 MiB), so this reader pauses the stream when more than
 * {@link FRAME_STREAM_HIGH_WATER_BYTES} wait undecoded and resumes below the low-water mark; a paused yamux
 * stream stops granting window and the remote sender stalls. Writing: `send()` returning false means the
 * muxer is full; we wait for 'drain' (not `stream.onDrain()`, whose promise in @libp2p/utils 7.4 never
 * re-arms after the first drain and so stops waiting).
 */
import type { Stream, StreamCloseEvent, StreamMessageEvent } from "@libp2p/interface";
import { abortReason, raceAbort } from "./abort-race.ts";
import { encodeFrame, HttpFrameDecoder, MAX_FRAME_LENGTH, MAX_LENGTH_PREFIX_BYTES, type HttpFrame } from "./http-frames.ts";

/**
 * Undecoded bytes above which the reader pauses the stream: 256 KiB, four full body frames — enough to
 * keep a fast consumer busy while the remote refills, small enough to multiply by thousands of streams.
 */
export const FRAME_STREAM_HIGH_WATER_BYTES = 256 * 1024;
/**
 * What a yamux peer may already have in flight when we pause: its largest stream window (16 MiB, the
 * yamux default) plus one frame. Streams we read are allowed to buffer that much while paused, otherwise
 * the stream would abort itself (its default cap is 4 MiB). A node that wants a lower bound per stream
 * lowers yamux's `maxStreamWindowSize`.
 */
export const PAUSED_READ_BUFFER_BYTES = 16 * 1024 * 1024 + MAX_FRAME_LENGTH + MAX_LENGTH_PREFIX_BYTES;

export interface FrameStreamOptions {
  /** @default {@link FRAME_STREAM_HIGH_WATER_BYTES} (at least two frames; lower values are raised). */
  highWaterBytes?: number | undefined;
}

function wakeUp(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/**
 * Reads and writes frames on one stream. One reader and one writer at a time (they may run concurrently
 * with each other).
 */
export class FrameStream {
  readonly stream: Stream;
  readonly #decoder = new HttpFrameDecoder();
  readonly #highWater: number;
  readonly #lowWater: number;
  /** The remote closed its writing end (or the stream closed): no more bytes will come. */
  #ended = false;
  #failure: unknown;
  #wake: { promise: Promise<void>; resolve: () => void } | undefined;
  #resuming = false;

  constructor(stream: Stream, options: FrameStreamOptions = {}) {
    this.stream = stream;
    this.#highWater = Math.max(options.highWaterBytes ?? FRAME_STREAM_HIGH_WATER_BYTES, 2 * (MAX_FRAME_LENGTH + MAX_LENGTH_PREFIX_BYTES));
    // Below the low-water mark no complete frame may be missing its tail while the stream stays paused.
    this.#lowWater = this.#highWater / 2;
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, PAUSED_READ_BUFFER_BYTES);
    stream.addEventListener("message", (event: StreamMessageEvent) => {
      this.#decoder.push(event.data.subarray());
      this.#pauseIfFull();
      this.#notify();
    });
    stream.addEventListener("remoteCloseWrite", () => {
      this.#ended = true;
      this.#notify();
    });
    stream.addEventListener("close", (event: StreamCloseEvent) => {
      if (event.error !== undefined) this.#failure ??= event.error;
      this.#ended = true;
      this.#notify();
    });
    if (stream.remoteWriteStatus !== "writable" || stream.status !== "open") this.#ended = true;
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.#decoder.bufferedBytes;
  }

  /**
   * The next frame; `null` once the remote closed its writing end at a frame boundary. Frames that
   * arrived before a reset are still returned, then the reset's error is thrown.
   * @throws {HttpFrameError} on malformed bytes or a stream that ends inside a frame.
   * @throws the stream's error when it was reset or aborted, or `signal`'s reason.
   */
  async read(signal?: AbortSignal): Promise<HttpFrame | null> {
    for (;;) {
      const frame = this.#decoder.next();
      const resumed = this.#resumeIfDrained();
      if (frame !== undefined) return frame;
      // Resuming hands over what the stream held while paused, synchronously: decode it first.
      if (resumed) continue;
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#ended) {
        this.#decoder.finish();
        return null;
      }
      this.#wake ??= wakeUp();
      await raceAbort(this.#wake.promise, signal);
    }
  }

  /**
   * Send one frame; resolves once the muxer can take more (waits for 'drain' when it cannot).
   * @throws {HttpFrameError} if the frame breaks a framing rule (nothing is sent).
   * @throws when the stream is closed for writing or closes while waiting, or `signal`'s reason.
   */
  async write(frame: HttpFrame, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const bytes = encodeFrame(frame);
    if (this.stream.send(bytes)) return;
    await this.#drained(signal);
  }

  /** Close our writing end once queued bytes are handed to the muxer (the remote sees EOF after them). */
  async closeWrite(signal?: AbortSignal): Promise<void> {
    await this.stream.close(signal === undefined ? {} : { signal });
  }

  /** Drop the stream at once, both ways; the remote sees a reset. */
  abort(error: Error): void {
    this.stream.abort(error);
  }

  #resumeIfDrained(): boolean {
    if (this.#decoder.bufferedBytes > this.#lowWater || this.stream.readStatus !== "paused") return false;
    // resume() hands over the bytes held while paused and only then re-opens the muxer's window: a pause()
    // from inside that hand-over would be undone at once, so it waits until resume() has returned.
    this.#resuming = true;
    try {
      this.stream.resume();
    } finally {
      this.#resuming = false;
    }
    this.#pauseIfFull();
    return true;
  }

  #pauseIfFull(): void {
    if (!this.#resuming && this.#decoder.bufferedBytes > this.#highWater && this.stream.readStatus === "readable") this.stream.pause();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.resolve();
  }

  #drained(signal: AbortSignal | undefined): Promise<void> {
    const stream = this.stream;
    if (!stream.writableNeedsDrain) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        stream.removeEventListener("drain", onDrain);
        stream.removeEventListener("close", onClose);
        signal?.removeEventListener("abort", onAbort);
      };
      const onDrain = (): void => {
        cleanup();
        resolve();
      };
      const onClose = (event: StreamCloseEvent): void => {
        cleanup();
        reject(event.error ?? new Error("the stream closed while waiting to send"));
      };
      const onAbort = (): void => {
        cleanup();
        reject(abortReason(signal!));
      };
      if (signal?.aborted === true) {
        reject(abortReason(signal));
        return;
      }
      stream.addEventListener("drain", onDrain);
      stream.addEventListener("close", onClose);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
