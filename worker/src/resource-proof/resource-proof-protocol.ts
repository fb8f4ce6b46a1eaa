/**
 * `/dsmp/resource-proof/1.0.0`: the compute challenge of Proof of Resource over libp2p (docs/protocol.md
 * §12). The verifier sends 36 bytes — version 0x01, a random 32-byte seed, n (u16 big-endian), count (u8) —
 * and closes its writing end. The prover answers one status byte; when it is 0x00 (ok), the SHA-256 of the
 * concatenated products follows, then the `count` products C_i = A_i·B_i mod P (n² entries each, u32
 * little-endian, row-major), and the prover closes. The verifier times the challenge from sending it to
 * receiving the digest (the prover can only hash the products once it has them all), so the bulk transfer
 * is not timed; it then checks the digest and every product with Freivalds' algorithm.
 *
 * The prover computes on worker threads (matrix-thread.ts) so its event loop keeps serving the mesh, runs one
 * challenge at a time, answers only active Xnodes (`isEligibleVerifier`), and at most one challenge per
 * verifier per `minIntervalPerVerifierMs`.
 *
 * @example
 * const proofs = createResourceProofProtocol({ isEligibleVerifier })({ libp2p, logger })
 * await proofs.start()
 * const outcome = await proofs.challenge(peerId, planChallenge(4000, sizing))
 */
import { createHash, randomBytes, randomInt } from "node:crypto";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { Connection, Libp2p, PeerId, Stream } from "@libp2p/interface";
import { ResourceChallengeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { sendAll, StreamReader } from "../p2p/stream-bytes.ts";
import { challengeKey, challengeMatrices, challengeWork, FIELD_PRIME, freivaldsCheck, MAX_MATRIX_SIZE, MIN_MATRIX_SIZE, productBytes } from "./matrix-challenge.ts";
import { MAX_CHALLENGE_COUNT, type ChallengeOutcome, type ChallengePlan } from "./resource-proof-verdict.ts";

export const RESOURCE_PROOF_PROTOCOL_ID = "/dsmp/resource-proof/1.0.0";
export const RESOURCE_PROOF_VERSION = 0x01;
/** Bytes of a challenge: version, seed, n, count. */
export const CHALLENGE_BYTES = 36;
/** Status byte of an answer. */
export const RESOURCE_PROOF_STATUS = { ok: 0x00, busy: 0x01, rateLimited: 0x02, notEligible: 0x03, malformedRequest: 0x04, overBudget: 0x05 } as const;
const STATUS_NAMES: Record<number, string> = { 0x01: "busy", 0x02: "rate-limited", 0x03: "not-eligible", 0x04: "malformed-request", 0x05: "over-budget" };
/** Default: a verifier may challenge this prover once a minute. */
export const DEFAULT_MIN_INTERVAL_PER_VERIFIER_MS = 60_000;
/**
 * Inbound challenge streams per connection: libp2p resets any beyond it. An honest verifier opens one at a
 * time; a second one (a retry while the first drains) is answered busy.
 */
const MAX_INBOUND_STREAMS = 2;
/** The 36 bytes and the end of the verifier's writing side must arrive within this (ms). */
export const REQUEST_TIMEOUT_MS = 10_000;

export interface Challenge {
  seed: Uint8Array;
  n: number;
  count: number;
}

/** The 36 bytes of a challenge. @throws {RangeError} on an n or count outside the protocol's bounds. */
export function encodeChallenge(challenge: Challenge): Uint8Array {
  checkChallenge(challenge);
  const bytes = new Uint8Array(CHALLENGE_BYTES);
  bytes[0] = RESOURCE_PROOF_VERSION;
  bytes.set(challenge.seed, 1);
  new DataView(bytes.buffer).setUint16(33, challenge.n, false);
  bytes[35] = challenge.count;
  return bytes;
}

/** The challenge in `bytes`, or why it is not one. */
export function decodeChallenge(bytes: Uint8Array): Challenge | { error: string } {
  if (bytes.length !== CHALLENGE_BYTES) return { error: `a challenge is ${CHALLENGE_BYTES} bytes, got ${bytes.length}` };
  if (bytes[0] !== RESOURCE_PROOF_VERSION) return { error: `unknown challenge version ${bytes[0]}` };
  const challenge = { seed: bytes.slice(1, 33), n: new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint16(33, false), count: bytes[35]! };
  try {
    checkChallenge(challenge);
  } catch (err) {
    return { error: (err as Error).message };
  }
  return challenge;
}

function checkChallenge({ seed, n, count }: Challenge): void {
  if (seed.length !== 32) throw new RangeError(`a challenge seed is 32 bytes, got ${seed.length}`);
  if (!Number.isInteger(n) || n < MIN_MATRIX_SIZE || n > MAX_MATRIX_SIZE) throw new RangeError(`n = ${n} is outside [${MIN_MATRIX_SIZE}, ${MAX_MATRIX_SIZE}]`);
  if (!Number.isInteger(count) || count < 1 || count > MAX_CHALLENGE_COUNT) throw new RangeError(`count = ${count} is outside [1, ${MAX_CHALLENGE_COUNT}]`);
}

/** SHA-256 over the products' bytes (u32 little-endian entries), in order: what the answer's digest is. */
export function productsDigest(products: readonly Uint32Array[]): Uint8Array {
  const hash = createHash("sha256");
  for (const product of products) hash.update(new Uint8Array(product.buffer, product.byteOffset, product.byteLength));
  return hash.digest();
}

/** A job handed to a thread, settled by its answer or by the thread's end. */
interface PendingJob {
  resolve: (product: Uint32Array) => void;
  reject: (err: Error) => void;
}

/**
 * Multiplies matrix pairs on a fixed pool of worker threads. A thread that fails or exits fails its job and is
 * replaced on the next use; closing fails every pending and waiting job.
 */
class MatrixPool {
  readonly #size: number;
  readonly #threads = new Set<Worker>();
  readonly #idle: Worker[] = [];
  readonly #jobs = new Map<Worker, { id: number; job: PendingJob }>();
  readonly #waiters: Array<{ wake: () => void; fail: (err: Error) => void }> = [];
  #nextId = 1;
  #closed = false;

  constructor(size: number) {
    this.#size = Math.max(1, size);
  }

  #spawn(): Worker {
    const thread = new Worker(new URL("./matrix-thread.ts", import.meta.url));
    thread.unref();
    this.#threads.add(thread);
    thread.on("message", (message: { id: number; product?: ArrayBuffer; error?: string }) => {
      const running = this.#jobs.get(thread);
      if (running === undefined || running.id !== message.id) return;
      this.#jobs.delete(thread);
      if (message.product !== undefined) running.job.resolve(new Uint32Array(message.product));
      else running.job.reject(new Error(message.error ?? "matrix thread failed"));
      this.#release(thread);
    });
    const gone = (err: Error): void => {
      if (!this.#threads.delete(thread)) return;
      const index = this.#idle.indexOf(thread);
      if (index >= 0) this.#idle.splice(index, 1);
      this.#jobs.get(thread)?.job.reject(err);
      this.#jobs.delete(thread);
      // Its slot is free: a waiter may start a replacement.
      this.#waiters.shift()?.wake();
    };
    thread.on("error", gone);
    thread.on("exit", (code) => gone(new Error(`matrix thread exited (code ${code})`)));
    return thread;
  }

  async #acquire(): Promise<Worker> {
    for (;;) {
      if (this.#closed) throw new Error("resource-proof pool closed");
      const idle = this.#idle.pop();
      if (idle !== undefined) return idle;
      if (this.#threads.size < this.#size) return this.#spawn();
      await new Promise<void>((wake, fail) => this.#waiters.push({ wake, fail }));
    }
  }

  #release(thread: Worker): void {
    if (!this.#threads.has(thread)) return;
    this.#idle.push(thread);
    this.#waiters.shift()?.wake();
  }

  async multiply(key: Uint8Array, index: number, n: number): Promise<Uint32Array> {
    const thread = await this.#acquire();
    const id = this.#nextId++;
    return new Promise<Uint32Array>((resolve, reject) => {
      this.#jobs.set(thread, { id, job: { resolve, reject } });
      thread.postMessage({ id, key, index, n });
    });
  }

  /** Starts every thread now, so a challenge does not pay for thread start-up (the prover is timed). */
  async warm(): Promise<void> {
    const started: Worker[] = [];
    while (this.#threads.size < this.#size) {
      const thread = this.#spawn();
      this.#idle.push(thread);
      started.push(thread);
    }
    await Promise.all(started.map((thread) => new Promise<void>((resolve, reject) => thread.once("online", resolve).once("error", reject))));
  }

  async close(): Promise<void> {
    this.#closed = true;
    const closed = new Error("resource-proof pool closed");
    for (const waiter of this.#waiters.splice(0)) waiter.fail(closed);
    // Terminating emits `exit`, which fails the thread's running job.
    await Promise.all([...this.#threads].map((thread) => thread.terminate()));
    this.#idle.length = 0;
  }
}

export interface ResourceProofProtocolInit {
  /** Whether a verifier may challenge this node (an active, bonded Xnode of the chain view). */
  isEligibleVerifier: (peer: PeerId) => boolean;
  /** @default {@link DEFAULT_MIN_INTERVAL_PER_VERIFIER_MS} */
  minIntervalPerVerifierMs?: number | undefined;
  /**
   * Most multiply-adds this prover computes for one challenge (count · n³), read per challenge; more is refused
   * as over-budget, so no verifier can make it spend seconds of every core. @default unbounded
   */
  maxWork?: (() => number) | undefined;
  /** Prover threads. @default the machine's available parallelism, at most {@link MAX_CHALLENGE_COUNT} */
  threads?: number | undefined;
  /** Bound on the whole exchange on either side (ms). @default 120 000 */
  exchangeTimeoutMs?: number | undefined;
  /**
   * Test hook: what the prover sends instead of the true products (a lying or lazy prover). Receives the
   * true products (or `undefined` when `skipWork`), returns what to send; runs while the prover is busy.
   */
  answer?: ((challenge: Challenge, products: Uint32Array[] | undefined) => Uint32Array[] | Promise<Uint32Array[]>) | undefined;
  /** Test hook: do not compute at all (only meaningful with `answer`). */
  skipWork?: boolean | undefined;
  clock?: (() => number) | undefined;
}

export interface ResourceProofProtocolComponents {
  libp2p: Pick<Libp2p, "handle" | "unhandle" | "dialProtocol" | "peerId">;
  logger: Logger;
}

/** Counted prover-side outcomes, for metrics. */
export interface ResourceProverStats {
  /** Challenges answered with products (right or not: the prover does not judge itself). */
  answered: number;
  refused: Record<"busy" | "rate-limited" | "not-eligible" | "malformed-request" | "over-budget", number>;
  failed: number;
}

export interface ResourceProofProtocol {
  readonly stats: ResourceProverStats;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Runs one challenge of `plan` against `peer`. Resolves to what happened (answered — with the elapsed time
   * and whether every product was right —, refused, no answer, malformed); judge it with `judgeChallenge`.
   */
  challenge(peer: PeerId, plan: ChallengePlan, signal?: AbortSignal): Promise<ChallengeOutcome>;
}

export function createResourceProofProtocol(init: ResourceProofProtocolInit): (components: ResourceProofProtocolComponents) => ResourceProofProtocol {
  const minInterval = init.minIntervalPerVerifierMs ?? DEFAULT_MIN_INTERVAL_PER_VERIFIER_MS;
  const exchangeTimeoutMs = init.exchangeTimeoutMs ?? 120_000;
  const clock = init.clock ?? Date.now;
  return ({ libp2p, logger }) => {
    const log = logger.child({ module: "resource-proof" });
    const stats: ResourceProverStats = { answered: 0, refused: { busy: 0, "rate-limited": 0, "not-eligible": 0, "malformed-request": 0, "over-budget": 0 }, failed: 0 };
    const pool = new MatrixPool(init.threads ?? Math.min(availableParallelism(), MAX_CHALLENGE_COUNT));
    const running = new AbortController();
    const lastChallenge = new Map<string, number>();
    let busy = false;

    const ownPeerId = libp2p.peerId.toMultihash().bytes;

    const refuse = async (stream: Stream, status: keyof ResourceProverStats["refused"], code: number, signal: AbortSignal): Promise<void> => {
      stats.refused[status]++;
      await sendAll(stream, Uint8Array.of(code), signal);
      await stream.close({ signal });
    };

    const serve = async (stream: Stream, connection: Connection): Promise<void> => {
      const signal = AbortSignal.any([running.signal, AbortSignal.timeout(exchangeTimeoutMs)]);
      const onAbort = (): void => stream.abort(new Error("resource-proof exchange deadline"));
      signal.addEventListener("abort", onAbort, { once: true });
      const requestTimer = setTimeout(() => stream.abort(new Error("no challenge within the request timeout")), REQUEST_TIMEOUT_MS);
      const verifier = connection.remotePeer;
      let holding = false;
      try {
        const reader = new StreamReader(stream);
        const request = await reader.read(CHALLENGE_BYTES);
        // Fewer bytes only come with the end of the stream; after 36, the end must follow (within the timer).
        const ended = request.length < CHALLENGE_BYTES || (await reader.atEnd());
        clearTimeout(requestTimer);
        const decoded = decodeChallenge(request);
        if ("error" in decoded || !ended) {
          log.debug({ peer: verifier.toString(), error: "error" in decoded ? decoded.error : "bytes after the challenge" }, "malformed challenge");
          await refuse(stream, "malformed-request", RESOURCE_PROOF_STATUS.malformedRequest, signal);
          // Whatever else it sends is not read: reset instead of buffering it.
          if (!ended) stream.abort(new Error("bytes after the challenge"));
          return;
        }
        if (!init.isEligibleVerifier(verifier)) return await refuse(stream, "not-eligible", RESOURCE_PROOF_STATUS.notEligible, signal);
        if (init.maxWork !== undefined && decoded.count * challengeWork(decoded.n) > init.maxWork()) {
          return await refuse(stream, "over-budget", RESOURCE_PROOF_STATUS.overBudget, signal);
        }
        const key = verifier.toString();
        const now = clock();
        const last = lastChallenge.get(key);
        if (last !== undefined && now - last < minInterval) return await refuse(stream, "rate-limited", RESOURCE_PROOF_STATUS.rateLimited, signal);
        if (busy) return await refuse(stream, "busy", RESOURCE_PROOF_STATUS.busy, signal);
        busy = true;
        holding = true;
        lastChallenge.set(key, now);
        if (lastChallenge.size > 4096) for (const [peer, at] of lastChallenge) if (now - at >= minInterval) lastChallenge.delete(peer);

        let truth: Uint32Array[] | undefined;
        if (init.skipWork !== true) {
          const matrixKey = challengeKey(decoded.seed, ownPeerId);
          // Every job settles before the prover is free again (a failed one does not leave its siblings running).
          const settled = await Promise.allSettled(Array.from({ length: decoded.count }, (_, index) => pool.multiply(matrixKey, index, decoded.n)));
          const failed = settled.find((r) => r.status === "rejected");
          if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
          truth = settled.map((r) => (r as PromiseFulfilledResult<Uint32Array>).value);
        }
        const products = init.answer === undefined ? truth! : await init.answer(decoded, truth);
        // Computed: the next verifier may start while this one reads the products (at its own pace).
        busy = false;
        holding = false;
        signal.throwIfAborted();
        const head = new Uint8Array(33);
        head[0] = RESOURCE_PROOF_STATUS.ok;
        head.set(productsDigest(products), 1);
        await sendAll(stream, head, signal);
        for (const product of products) await sendAll(stream, new Uint8Array(product.buffer, product.byteOffset, product.byteLength), signal);
        await stream.close({ signal });
        stats.answered++;
      } catch (err) {
        stats.failed++;
        log.debug({ err, peer: verifier.toString() }, "resource-proof challenge failed");
        stream.abort(err instanceof Error ? err : new Error(String(err)));
      } finally {
        clearTimeout(requestTimer);
        if (holding) busy = false;
        signal.removeEventListener("abort", onAbort);
      }
    };

    const challenge = async (peer: PeerId, plan: ChallengePlan, outer?: AbortSignal): Promise<ChallengeOutcome> => {
      const seed = randomBytes(32);
      const request = encodeChallenge({ seed, n: plan.n, count: plan.count });
      // The answer (the digest) may take up to 4× its deadline before the verifier calls it "no answer": a slow
      // answer is worth measuring (it says how much capacity the node has). The products after it are bounded
      // by the exchange timeout only: a slow link is not a slow prover.
      const answerTimeoutMs = Math.max(plan.deadlineMs * 4, plan.deadlineMs + 10_000);
      const signal = AbortSignal.any([running.signal, AbortSignal.timeout(exchangeTimeoutMs), ...(outer ? [outer] : [])]);
      const answerSignal = AbortSignal.any([signal, AbortSignal.timeout(answerTimeoutMs)]);
      let stream: Stream;
      try {
        stream = await libp2p.dialProtocol(peer, RESOURCE_PROOF_PROTOCOL_ID, { signal: answerSignal });
      } catch (err) {
        if (outer?.aborted === true) throw outer.reason;
        return { kind: "no-answer", error: `cannot open a resource-proof stream: ${(err as Error).message}` };
      }
      const onAbort = (): void => stream.abort(new Error("resource-proof exchange deadline"));
      let watching: AbortSignal = answerSignal;
      watching.addEventListener("abort", onAbort, { once: true });
      const watch = (next: AbortSignal): void => {
        watching.removeEventListener("abort", onAbort);
        watching = next;
        if (next.aborted) onAbort();
        else next.addEventListener("abort", onAbort, { once: true });
      };
      let outcome: ChallengeOutcome | undefined;
      try {
        const expected = plan.count * productBytes(plan.n);
        stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, expected + 64);
        const reader = new StreamReader(stream);
        const started = performance.now();
        await sendAll(stream, request, signal);
        await stream.close({ signal });
        const status = await reader.read(1);
        if (status.length === 0) return (outcome = { kind: "no-answer", error: "the prover closed the stream without answering" });
        if (status[0] !== RESOURCE_PROOF_STATUS.ok) {
          const name = STATUS_NAMES[status[0]!];
          if (name === undefined) return (outcome = { kind: "malformed", error: `unknown status byte ${status[0]}` });
          return (outcome = { kind: "refused", status: name });
        }
        const digest = await reader.read(32);
        const elapsedMs = performance.now() - started;
        if (digest.length !== 32) return (outcome = { kind: "no-answer", error: "the prover closed the stream inside the digest" });
        watch(signal);
        const products: Uint32Array[] = [];
        for (let index = 0; index < plan.count; index++) {
          const bytes = await reader.read(productBytes(plan.n));
          if (bytes.length !== productBytes(plan.n)) return (outcome = { kind: "no-answer", error: `the prover sent ${index} of ${plan.count} products and closed the stream` });
          // Copy into an aligned buffer: the reader's chunks sit at any offset.
          products.push(new Uint32Array(Uint8Array.from(bytes).buffer));
        }
        if (!(await reader.atEnd())) return (outcome = { kind: "malformed", error: "bytes after the last product" });
        if (Buffer.compare(Buffer.from(productsDigest(products)), Buffer.from(digest)) !== 0) {
          return (outcome = { kind: "malformed", error: "the digest does not match the products sent" });
        }
        const matrixKey = challengeKey(seed, peer.toMultihash().bytes);
        let productsCorrect = true;
        for (let index = 0; index < plan.count && productsCorrect; index++) {
          const { a, b } = challengeMatrices(matrixKey, index, plan.n);
          productsCorrect = freivaldsCheck(a, b, products[index]!, plan.n, () => randomInt(FIELD_PRIME));
          // One product checked per event-loop turn: the mesh this node serves keeps running.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        return (outcome = { kind: "answered", elapsedMs, productsCorrect });
      } catch (err) {
        if (outer?.aborted === true) throw outer.reason;
        if (running.signal.aborted) throw new ResourceChallengeError("no-answer", "the resource-proof service stopped", { cause: err });
        return (outcome = { kind: "no-answer", error: answerSignal.aborted && watching === answerSignal ? `no answer within ${answerTimeoutMs} ms` : (err as Error).message });
      } finally {
        watching.removeEventListener("abort", onAbort);
        // Anything but a complete answer: reset the stream, so nothing more the prover sends is buffered.
        if (outcome?.kind !== "answered") stream.abort(new Error("resource-proof challenge ended"));
      }
    };

    return {
      stats,
      async start() {
        await pool.warm();
        await libp2p.handle(RESOURCE_PROOF_PROTOCOL_ID, (stream, connection) => void serve(stream, connection), { maxInboundStreams: MAX_INBOUND_STREAMS });
      },
      async stop() {
        running.abort(new Error("resource-proof service stopped"));
        await libp2p.unhandle(RESOURCE_PROOF_PROTOCOL_ID);
        await pool.close();
      },
      challenge,
    };
  };
}
