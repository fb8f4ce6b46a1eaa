import type { PeerId, Stream } from "@libp2p/interface";
import { afterEach, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log.ts";
import { TestNodes } from "../p2p/p2p-test-harness.ts";
import { sendAll, StreamReader } from "../p2p/stream-bytes.ts";
import { productBytes } from "./matrix-challenge.ts";
import {
  CHALLENGE_BYTES,
  createResourceProofProtocol,
  decodeChallenge,
  encodeChallenge,
  RESOURCE_PROOF_PROTOCOL_ID,
  RESOURCE_PROOF_STATUS,
  type ResourceProofProtocol,
  type ResourceProofProtocolInit,
} from "./resource-proof-protocol.ts";
import { judgeChallenge, planChallenge, type ChallengeSizing } from "./resource-proof-verdict.ts";

const nodes = new TestNodes();
const services: ResourceProofProtocol[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  await nodes.stopAll();
});

/** Small matrices and a low reference rate: an honest prover passes however loaded the test machine is. */
const EASY: ChallengeSizing = { matrixSize: 128, minWorkPerCoreSecond: 2_000_000, targetSeconds: 0.5, allowanceMs: 2_000 };

async function peer(init: Partial<ResourceProofProtocolInit> = {}) {
  const { libp2p } = await nodes.start();
  const proofs = createResourceProofProtocol({ isEligibleVerifier: () => true, threads: 2, ...init })({ libp2p, logger: createSilentLogger() });
  await proofs.start();
  services.push(proofs);
  return { libp2p, proofs };
}

async function pair(proverInit: Partial<ResourceProofProtocolInit> = {}) {
  const prover = await peer(proverInit);
  const verifier = await peer();
  await verifier.libp2p.dial(prover.libp2p.getMultiaddrs()[0]!);
  return { prover, verifier };
}

/** A hand-written prover (no library code on its side): answers each challenge with `reply`. */
async function rawProver(reply: (stream: Stream, request: Uint8Array) => Promise<void>) {
  const { libp2p } = await nodes.start();
  await libp2p.handle(RESOURCE_PROOF_PROTOCOL_ID, (stream) => {
    void (async () => {
      const request = await new StreamReader(stream).read(CHALLENGE_BYTES);
      await reply(stream, request);
    })().catch(() => stream.abort(new Error("raw prover failed")));
  });
  return libp2p;
}

describe("challenge codec", () => {
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
  it("round-trips", () => {
    expect(decodeChallenge(encodeChallenge({ seed, n: 512, count: 16 }))).toEqual({ seed, n: 512, count: 16 });
  });
  it.each([
    { name: "short", bytes: new Uint8Array(35), error: /36 bytes/ },
    { name: "long", bytes: new Uint8Array(37), error: /36 bytes/ },
    { name: "unknown version", bytes: Uint8Array.from([2, ...seed, 0, 16, 1]), error: /version 2/ },
    { name: "n too small", bytes: Uint8Array.from([1, ...seed, 0, 8, 1]), error: /n = 8/ },
    { name: "n too large", bytes: Uint8Array.from([1, ...seed, 0x08, 0x00, 1]), error: /n = 2048/ },
    { name: "count 0", bytes: Uint8Array.from([1, ...seed, 0, 16, 0]), error: /count = 0/ },
    { name: "count 17", bytes: Uint8Array.from([1, ...seed, 0, 16, 17]), error: /count = 17/ },
  ])("refuses a $name challenge", ({ bytes, error }) => {
    const decoded = decodeChallenge(bytes);
    expect("error" in decoded && decoded.error).toMatch(error);
  });
});

describe("/dsmp/resource-proof/1.0.0 over libp2p", () => {
  it("an honest prover's products pass Freivalds and the deadline", async () => {
    const { prover, verifier } = await pair();
    const plan = planChallenge(2_000, EASY);
    const outcome = await verifier.proofs.challenge(prover.libp2p.peerId, plan);
    expect(outcome).toMatchObject({ kind: "answered", productsCorrect: true });
    const verdict = judgeChallenge(plan, outcome, EASY);
    expect(verdict).toMatchObject({ passed: true, reason: "proven" });
    expect(verdict.provenMillicores).toBeGreaterThan(2_000);
    expect(prover.proofs.stats.answered).toBe(1);
  });

  it("a prover that changes one entry fails with wrong-product", async () => {
    const { prover, verifier } = await pair({
      answer: (_challenge, products) => {
        const forged = products!.map((p) => p.slice());
        forged[1]![77] = (forged[1]![77]! + 1) % 2_097_143;
        return forged;
      },
    });
    const plan = planChallenge(8_000, EASY);
    expect(plan.count).toBeGreaterThan(1);
    const outcome = await verifier.proofs.challenge(prover.libp2p.peerId, plan);
    expect(outcome).toMatchObject({ kind: "answered", productsCorrect: false });
    expect(judgeChallenge(plan, outcome, EASY).reason).toBe("wrong-product");
  });

  it("a prover that skips the work and sends zeros fails with wrong-product, however fast", async () => {
    const { prover, verifier } = await pair({ skipWork: true, answer: (c) => Array.from({ length: c.count }, () => new Uint32Array(c.n * c.n)) });
    const plan = planChallenge(2_000, EASY);
    const outcome = await verifier.proofs.challenge(prover.libp2p.peerId, plan);
    expect(judgeChallenge(plan, outcome, EASY)).toMatchObject({ passed: false, reason: "wrong-product", provenMillicores: undefined });
  });

  it("a node advertising 64 cores on one prover thread is too slow at the default reference rate", async () => {
    const { prover, verifier } = await pair({ threads: 1 });
    // A short target keeps the test cheap: 6 pairs of 512 (805 M multiply-adds), 50 ms for 64 reference cores.
    const sizing: ChallengeSizing = { matrixSize: 256, minWorkPerCoreSecond: 250_000_000, targetSeconds: 0.05, allowanceMs: 0 };
    const plan = planChallenge(64_000, sizing);
    expect(plan).toMatchObject({ n: 512, count: 6, deadlineMs: 51 });
    const outcome = await verifier.proofs.challenge(prover.libp2p.peerId, plan);
    expect(outcome).toMatchObject({ kind: "answered", productsCorrect: true });
    const verdict = judgeChallenge(plan, outcome, sizing);
    expect(verdict.reason).toBe("too-slow");
    // What one JavaScript thread shows: a handful of reference cores, far from 64.
    expect(verdict.provenMillicores).toBeLessThan(32_000);
  });

  it("a node that relays its challenge to another node gets that node's matrices, and fails", async () => {
    const honest = await peer();
    // The relay answers with whatever the honest node computes for the same 36 bytes.
    const { libp2p: relay } = await nodes.start();
    await relay.dial(honest.libp2p.getMultiaddrs()[0]!);
    await relay.handle(RESOURCE_PROOF_PROTOCOL_ID, (stream) => {
      void (async () => {
        const request = await new StreamReader(stream).read(CHALLENGE_BYTES);
        const upstream = await relay.dialProtocol(honest.libp2p.peerId, RESOURCE_PROOF_PROTOCOL_ID);
        await sendAll(upstream, request, AbortSignal.timeout(10_000));
        await upstream.close();
        const reader = new StreamReader(upstream);
        for (;;) {
          const chunk = await reader.read(64 * 1024);
          if (chunk.length === 0) break;
          await sendAll(stream, chunk, AbortSignal.timeout(10_000));
        }
        await stream.close();
      })().catch((err: Error) => stream.abort(err));
    });
    const verifier = await peer();
    await verifier.libp2p.dial(relay.getMultiaddrs()[0]!);
    const plan = planChallenge(2_000, EASY);
    const outcome = await verifier.proofs.challenge(relay.peerId, plan);
    expect(outcome).toMatchObject({ kind: "answered", productsCorrect: false });
    expect(honest.proofs.stats.answered).toBe(1); // the honest node did the work, for nothing
  });

  it("refuses a challenge over its work budget with 0x05, and answers one within it", async () => {
    const { prover, verifier } = await pair({ maxWork: () => 128 ** 3, minIntervalPerVerifierMs: 0 });
    expect(await verifier.proofs.challenge(prover.libp2p.peerId, planChallenge(1_000, { ...EASY, matrixSize: 256 }))).toEqual({ kind: "refused", status: "over-budget" });
    expect(prover.proofs.stats.refused["over-budget"]).toBe(1);
    expect(await verifier.proofs.challenge(prover.libp2p.peerId, planChallenge(1_000, EASY))).toMatchObject({ kind: "answered", productsCorrect: true });
  });

  it("refuses verifiers that are not active Xnodes, counting them", async () => {
    const { prover, verifier } = await pair({ isEligibleVerifier: () => false });
    const outcome = await verifier.proofs.challenge(prover.libp2p.peerId, planChallenge(1_000, EASY));
    expect(outcome).toEqual({ kind: "refused", status: "not-eligible" });
    expect(prover.proofs.stats.refused["not-eligible"]).toBe(1);
  });

  it("answers one challenge per verifier per interval, then refuses as rate-limited", async () => {
    const { prover, verifier } = await pair({ minIntervalPerVerifierMs: 60_000 });
    const plan = planChallenge(1_000, EASY);
    expect((await verifier.proofs.challenge(prover.libp2p.peerId, plan)).kind).toBe("answered");
    expect(await verifier.proofs.challenge(prover.libp2p.peerId, plan)).toEqual({ kind: "refused", status: "rate-limited" });
    expect(prover.proofs.stats.refused["rate-limited"]).toBe(1);
  });

  it("runs one challenge at a time: a second verifier meanwhile is told busy, and is answered afterwards", async () => {
    // The first challenge's computation is held until the test releases it.
    let computing!: () => void;
    const started = new Promise<void>((resolve) => (computing = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    const prover = await peer({
      minIntervalPerVerifierMs: 0,
      answer: async (_challenge, products) => {
        if (!held) {
          held = true;
          computing();
          await released;
        }
        return products!;
      },
    });
    const first = await peer();
    const second = await peer();
    await first.libp2p.dial(prover.libp2p.getMultiaddrs()[0]!);
    await second.libp2p.dial(prover.libp2p.getMultiaddrs()[0]!);
    const running = first.proofs.challenge(prover.libp2p.peerId, planChallenge(1_000, EASY));
    await started;
    const meanwhile = await second.proofs.challenge(prover.libp2p.peerId, planChallenge(1_000, EASY));
    expect(meanwhile).toEqual({ kind: "refused", status: "busy" });
    release();
    expect((await running).kind).toBe("answered");
    expect(await second.proofs.challenge(prover.libp2p.peerId, planChallenge(1_000, EASY))).toMatchObject({ kind: "answered", productsCorrect: true });
  });

  it("stops a stalled prover's pending work when it stops", async () => {
    let computing!: () => void;
    const started = new Promise<void>((resolve) => (computing = resolve));
    const { prover, verifier } = await pair({ answer: async () => (computing(), new Promise<Uint32Array[]>(() => {})) });
    const outcome = verifier.proofs.challenge(prover.libp2p.peerId, planChallenge(1_000, EASY));
    await started;
    await prover.proofs.stop();
    services.splice(services.indexOf(prover.proofs), 1);
    expect((await outcome).kind).toBe("no-answer");
  });

  it("refuses a malformed challenge with status 0x04", async () => {
    const { prover, verifier } = await pair();
    const stream = await verifier.libp2p.dialProtocol(prover.libp2p.peerId, RESOURCE_PROOF_PROTOCOL_ID);
    await sendAll(stream, Uint8Array.from([1, 2, 3]), AbortSignal.timeout(5_000));
    await stream.close();
    const status = await new StreamReader(stream).read(2);
    expect([...status]).toEqual([RESOURCE_PROOF_STATUS.malformedRequest]);
    expect(prover.proofs.stats.refused["malformed-request"]).toBe(1);
  });

  it("resets a malformed challenge whose sender keeps its stream open, instead of buffering what follows", async () => {
    const { prover, verifier } = await pair();
    const stream = await verifier.libp2p.dialProtocol(prover.libp2p.peerId, RESOURCE_PROOF_PROTOCOL_ID);
    // Version 2, and more bytes after the 36, the stream left open: what a flooding peer would do.
    await sendAll(stream, Uint8Array.from([2, ...new Uint8Array(35), ...new Uint8Array(4096).fill(7)]), AbortSignal.timeout(5_000));
    const reader = new StreamReader(stream);
    expect([...(await reader.read(1))]).toEqual([RESOURCE_PROOF_STATUS.malformedRequest]);
    await expect.poll(() => stream.status, { timeout: 10_000 }).not.toBe("open");
    expect(prover.proofs.stats.refused["malformed-request"]).toBe(1);
  });

  it("survives a verifier that drops the stream mid-challenge, and answers the next one", async () => {
    const { prover, verifier } = await pair({ minIntervalPerVerifierMs: 0 });
    const plan = planChallenge(4_000, { ...EASY, matrixSize: 256 });
    const stream = await verifier.libp2p.dialProtocol(prover.libp2p.peerId, RESOURCE_PROOF_PROTOCOL_ID);
    await sendAll(stream, encodeChallenge({ seed: new Uint8Array(32).fill(9), n: plan.n, count: plan.count }), AbortSignal.timeout(5_000));
    await stream.close();
    stream.abort(new Error("verifier gone"));
    await expect.poll(() => prover.proofs.stats.failed, { timeout: 20_000 }).toBe(1);
    expect(await verifier.proofs.challenge(prover.libp2p.peerId, planChallenge(1_000, EASY))).toMatchObject({ kind: "answered", productsCorrect: true });
  });

  describe("against hand-written provers", () => {
    const verifierFor = async (prover: { peerId: PeerId; getMultiaddrs(): unknown[] }) => {
      const verifier = await peer();
      await verifier.libp2p.dial((prover as Awaited<ReturnType<typeof rawProver>>).getMultiaddrs()[0]!);
      return verifier;
    };
    const plan = planChallenge(1_000, { ...EASY, matrixSize: 16 });

    it("an unknown status byte is malformed", async () => {
      const prover = await rawProver(async (stream) => {
        await sendAll(stream, Uint8Array.of(0x09), AbortSignal.timeout(5_000));
        await stream.close();
      });
      const verifier = await verifierFor(prover);
      expect(await verifier.proofs.challenge(prover.peerId, plan)).toMatchObject({ kind: "malformed", error: expect.stringMatching(/status byte 9/) });
    });

    it("a digest that does not match the products is malformed", async () => {
      const prover = await rawProver(async (stream) => {
        const body = new Uint8Array(1 + 32 + plan.count * productBytes(plan.n));
        await sendAll(stream, body, AbortSignal.timeout(5_000)); // status ok, digest of zeros, zero products
        await stream.close();
      });
      const verifier = await verifierFor(prover);
      expect(await verifier.proofs.challenge(prover.peerId, plan)).toMatchObject({ kind: "malformed", error: expect.stringMatching(/digest/) });
    });

    it("a prover that closes inside the products gives no answer, and the verifier does not throw", async () => {
      const prover = await rawProver(async (stream) => {
        await sendAll(stream, new Uint8Array(1 + 32 + 100), AbortSignal.timeout(5_000));
        await stream.close();
      });
      const verifier = await verifierFor(prover);
      expect(await verifier.proofs.challenge(prover.peerId, plan)).toMatchObject({ kind: "no-answer", error: `the prover sent 0 of ${plan.count} products and closed the stream` });
    });

    it("a prover that resets the stream mid-digest gives no answer", async () => {
      const prover = await rawProver(async (stream) => {
        await sendAll(stream, new Uint8Array(10), AbortSignal.timeout(5_000));
        stream.abort(new Error("prover crashed"));
      });
      const verifier = await verifierFor(prover);
      expect((await verifier.proofs.challenge(prover.peerId, plan)).kind).toBe("no-answer");
    });

    it("bytes after the last product are malformed", async () => {
      const prover = await rawProver(async (stream) => {
        await sendAll(stream, new Uint8Array(1 + 32 + plan.count * productBytes(plan.n) + 4), AbortSignal.timeout(5_000));
        await stream.close();
      });
      const verifier = await verifierFor(prover);
      expect(await verifier.proofs.challenge(prover.peerId, plan)).toMatchObject({ kind: "malformed", error: expect.stringMatching(/after the last product/) });
    });
  });
});
