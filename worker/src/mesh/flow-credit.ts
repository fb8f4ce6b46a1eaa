/**
 * Per-request flow control of `/dsmp/mesh/1.0.0` (docs/protocol.md §10.6), as two small pure state
 * machines: what a sender may still send for one direction of one request, and what a receiver has
 * granted, received and consumed. No I/O, no timers; the session code turns their answers into WINDOW
 * frames and waits.
 *
 * Why per request and not per stream: many requests share one stream, so pausing the stream for one slow
 * consumer would stall every other request on it (head-of-line blocking). Each request direction instead
 * gets its own credit, like HTTP/2 streams, and the session stream is never paused.
 */

/**
 * BODY bytes each request direction may have in flight before the receiver grants more: 256 KiB. Four
 * full BODY frames, so a bulk transfer never waits on a round trip at loopback or LAN latency
 * (256 KiB / 1 ms = 256 MB/s), while a session of 128 slow requests holds at most 32 MiB per direction.
 */
export const DEFAULT_REQUEST_WINDOW_BYTES = 256 * 1024;

/** Largest credit a sender may hold: 2^31 − 1 (more is a protocol violation, as in HTTP/2). */
export const MAX_CREDIT = 0x7fff_ffff;

/** The sending half: bytes the peer has allowed and we have not yet sent. */
export class SendCredit {
  #available: number;

  constructor(initial: number = DEFAULT_REQUEST_WINDOW_BYTES) {
    this.#available = initial;
  }

  get available(): number {
    return this.#available;
  }

  /** Take up to `want` bytes of credit; returns how many were taken (0 when none is left). */
  take(want: number): number {
    const taken = Math.min(want, this.#available);
    this.#available -= taken;
    return taken;
  }

  /**
   * Add a WINDOW increment.
   * @returns false if the credit would exceed {@link MAX_CREDIT} (the peer broke the protocol); nothing changes then.
   */
  grant(increment: number): boolean {
    if (this.#available + increment > MAX_CREDIT) return false;
    this.#available += increment;
    return true;
  }
}

/** The receiving half: the window we granted, the bytes received against it, and when to grant more. */
export class ReceiveWindow {
  readonly #window: number;
  /** Bytes the peer may still send without breaking the protocol. */
  #remaining: number;
  /** Bytes consumed by the application and not yet granted back. */
  #consumed = 0;

  constructor(window: number = DEFAULT_REQUEST_WINDOW_BYTES) {
    this.#window = window;
    this.#remaining = window;
  }

  /** Bytes the peer may still send. */
  get remaining(): number {
    return this.#remaining;
  }

  /**
   * Count `bytes` received.
   * @returns false if they exceed what was granted (the peer broke the protocol); nothing changes then.
   */
  receive(bytes: number): boolean {
    if (bytes > this.#remaining) return false;
    this.#remaining -= bytes;
    return true;
  }

  /**
   * Count `bytes` consumed by the application.
   * @returns the WINDOW increment to send now, or 0: credit is returned in batches of at least half the
   *   window, so a bulk transfer costs one WINDOW frame per 128 KiB rather than one per BODY frame.
   */
  consume(bytes: number): number {
    this.#consumed += bytes;
    if (this.#consumed < this.#window / 2) return 0;
    const increment = this.#consumed;
    this.#consumed = 0;
    this.#remaining += increment;
    return increment;
  }
}
