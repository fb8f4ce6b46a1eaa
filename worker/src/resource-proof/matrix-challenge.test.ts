import { describe, expect, it } from "vitest";
import { challengeKey, challengeMatrices, challengeWork, FIELD_PRIME, FREIVALDS_ROUNDS, freivaldsCheck, MAX_MATRIX_SIZE, multiplyMod, productBytes } from "./matrix-challenge.ts";

/** RFC 8439 §2.3 ChaCha20 block function, written from the RFC: the reference the derivation is held to. */
function chachaBlock(key: Uint8Array, counter: number, nonce: Uint8Array): Uint32Array {
  const words = (bytes: Uint8Array) => Array.from({ length: bytes.length / 4 }, (_, i) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(i * 4, true));
  const state = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574, ...words(key), counter, ...words(nonce)];
  const x = state.slice();
  const rotl = (v: number, n: number) => ((v << n) | (v >>> (32 - n))) >>> 0;
  const quarter = (a: number, b: number, c: number, d: number) => {
    x[a] = (x[a]! + x[b]!) >>> 0; x[d] = rotl(x[d]! ^ x[a]!, 16);
    x[c] = (x[c]! + x[d]!) >>> 0; x[b] = rotl(x[b]! ^ x[c]!, 12);
    x[a] = (x[a]! + x[b]!) >>> 0; x[d] = rotl(x[d]! ^ x[a]!, 8);
    x[c] = (x[c]! + x[d]!) >>> 0; x[b] = rotl(x[b]! ^ x[c]!, 7);
  };
  for (let round = 0; round < 10; round++) {
    quarter(0, 4, 8, 12); quarter(1, 5, 9, 13); quarter(2, 6, 10, 14); quarter(3, 7, 11, 15);
    quarter(0, 5, 10, 15); quarter(1, 6, 11, 12); quarter(2, 7, 8, 13); quarter(3, 4, 9, 14);
  }
  return Uint32Array.from(x, (v, i) => (v + state[i]!) >>> 0);
}

/** The spec's derivation, word by word from the reference block function. */
function referenceMatrices(seed: Uint8Array, index: number, n: number): { a: number[]; b: number[] } {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setUint32(0, index, true);
  const stream: number[] = [];
  for (let counter = 0; stream.length < 2 * n * n; counter++) stream.push(...chachaBlock(seed, counter, nonce));
  const entries = stream.slice(0, 2 * n * n).map((w) => w % FIELD_PRIME);
  return { a: entries.slice(0, n * n), b: entries.slice(n * n) };
}

const SEED = Uint8Array.from({ length: 32 }, (_, i) => i);
const seededRandom = (start: number) => {
  let state = start;
  return () => (state = (state * 48271) % 2147483647) % FIELD_PRIME;
};

describe("ChaCha20 reference", () => {
  it("matches RFC 8439 §2.3.2's block test vector", () => {
    const nonce = Uint8Array.from([0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0]);
    const block = chachaBlock(SEED, 1, nonce);
    expect(Buffer.from(block.buffer).subarray(0, 16).toString("hex")).toBe("10f1e7e4d13b5915500fdd1fa32071c4");
  });
});

describe("challengeMatrices", () => {
  it.each([
    { index: 0, n: 16 },
    { index: 1, n: 16 },
    { index: 7, n: 32 },
    { index: 0xffff_ffff, n: 16 },
  ])("derives pair $index at n = $n exactly as the spec's ChaCha20 keystream says", ({ index, n }) => {
    const { a, b } = challengeMatrices(SEED, index, n);
    const reference = referenceMatrices(SEED, index, n);
    expect([...a]).toEqual(reference.a);
    expect([...b]).toEqual(reference.b);
  });

  it("gives different matrices for different seeds and indexes", () => {
    const other = Uint8Array.from(SEED, (v) => v ^ 1);
    expect(challengeMatrices(SEED, 0, 16).a).not.toEqual(challengeMatrices(other, 0, 16).a);
    expect(challengeMatrices(SEED, 0, 16).a).not.toEqual(challengeMatrices(SEED, 1, 16).a);
  });

  it.each([
    { name: "short key", seed: new Uint8Array(31), index: 0, n: 16, message: /32 bytes/ },
    { name: "n below the minimum", seed: SEED, index: 0, n: 8, message: /outside/ },
    { name: "n above the maximum", seed: SEED, index: 0, n: MAX_MATRIX_SIZE + 1, message: /outside/ },
    { name: "fractional n", seed: SEED, index: 0, n: 16.5, message: /outside/ },
    { name: "negative index", seed: SEED, index: -1, n: 16, message: /u32/ },
  ])("refuses a $name", ({ seed, index, n, message }) => {
    expect(() => challengeMatrices(seed, index, n)).toThrow(message);
  });
});

describe("challengeKey", () => {
  it("is SHA-256(seed ‖ prover PeerId bytes): another prover gets other matrices from the same seed", async () => {
    const { createHash } = await import("node:crypto");
    const alice = Uint8Array.from([0, 0x25, 8, 2, 0x12, 0x21, ...new Uint8Array(33).fill(2)]);
    const bob = Uint8Array.from([0, 0x25, 8, 2, 0x12, 0x21, ...new Uint8Array(33).fill(3)]);
    expect(Buffer.from(challengeKey(SEED, alice))).toEqual(createHash("sha256").update(SEED).update(alice).digest());
    expect(challengeMatrices(challengeKey(SEED, alice), 0, 16).a).not.toEqual(challengeMatrices(challengeKey(SEED, bob), 0, 16).a);
    expect(() => challengeKey(new Uint8Array(16), alice)).toThrow(/32 bytes/);
  });
});

describe("multiplyMod", () => {
  it.each([16, 33, 64])("equals the BigInt product mod P at n = %i", (n) => {
    const { a, b } = challengeMatrices(SEED, 3, n);
    const c = multiplyMod(a, b, n);
    const P = BigInt(FIELD_PRIME);
    for (const [i, j] of [[0, 0], [n - 1, n - 1], [1, n - 2], [n >> 1, 3]] as const) {
      let sum = 0n;
      for (let k = 0; k < n; k++) sum += BigInt(a[i * n + k]!) * BigInt(b[k * n + j]!);
      expect(c[i * n + j]).toBe(Number(sum % P));
    }
  });

  it("stays exact at the largest n with every entry P − 1 (the float64 bound)", () => {
    const n = MAX_MATRIX_SIZE;
    const a = new Float64Array(n * n).fill(FIELD_PRIME - 1);
    const c = multiplyMod(a, a, n);
    // Σ (P−1)² over n terms, mod P = n mod P (since P − 1 ≡ −1).
    expect(c[0]).toBe(n % FIELD_PRIME);
    expect(c[n * n - 1]).toBe(n % FIELD_PRIME);
  });

  it("counts the work and the wire size", () => {
    expect(challengeWork(512)).toBe(134_217_728);
    expect(productBytes(512)).toBe(1_048_576);
  });
});

describe("freivaldsCheck", () => {
  const n = 32;
  const { a, b } = challengeMatrices(SEED, 0, n);
  const c = multiplyMod(a, b, n);

  it("accepts the true product", () => {
    expect(freivaldsCheck(a, b, c, n, seededRandom(7))).toBe(true);
  });

  it.each([
    { name: "first entry off by one", at: 0, delta: 1 },
    { name: "last entry off by one", at: n * n - 1, delta: 1 },
    { name: "a middle entry off by P − 1", at: 500, delta: FIELD_PRIME - 1 },
  ])("rejects a product with the $name", ({ at, delta }) => {
    const wrong = c.slice();
    wrong[at] = (wrong[at]! + delta) % FIELD_PRIME;
    expect(freivaldsCheck(a, b, wrong, n, seededRandom(11))).toBe(false);
  });

  it("rejects an entry ≥ P even when it is congruent to the right one", () => {
    const wrong = c.slice();
    wrong[5] = wrong[5]! + FIELD_PRIME;
    expect(freivaldsCheck(a, b, wrong, n, seededRandom(3))).toBe(false);
  });

  it("rejects a product of the wrong size, and A·B for another pair", () => {
    expect(freivaldsCheck(a, b, c.subarray(0, n * n - 1), n, seededRandom(5))).toBe(false);
    const other = challengeMatrices(SEED, 1, n);
    expect(freivaldsCheck(a, b, multiplyMod(other.a, other.b, n), n, seededRandom(5))).toBe(false);
  });

  it(`draws ${FREIVALDS_ROUNDS} vectors of n entries from the verifier's randomness`, () => {
    let draws = 0;
    freivaldsCheck(a, b, c, n, () => (draws++, 1));
    expect(draws).toBe(FREIVALDS_ROUNDS * n);
  });
});
