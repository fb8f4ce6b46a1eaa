/**
 * The compute challenge of Proof of Resource (DESIGN §6, docs/proof-of-resource.md, wire format
 * docs/protocol.md §12): from a verifier's random seed, both sides derive two n×n matrices A and B over the
 * prime field Z_P; the prover returns C = A·B mod P (n³ multiply-adds), and the verifier checks it with
 * Freivalds' algorithm — A·(B·r) = C·r for random vectors r — in O(n²), so checking costs the verifier about
 * 3/n of what proving cost the prover. Pure: no I/O, no clock.
 *
 * Entries come from ChaCha20 (RFC 8439) keyed by SHA-256(seed ‖ the prover's PeerId bytes) — so a prover
 * cannot relay its challenge to another node and pass on that node's work: the other node derives other
 * matrices — the nonce naming the matrix pair; keystream words (u32 little-endian) taken mod P, A's n² entries
 * row-major, then B's.
 *
 * @example
 * const key = challengeKey(seed, proverPeerId.toMultihash().bytes)
 * const { a, b } = challengeMatrices(key, 0, 256)
 * const c = multiplyMod(a, b, 256)
 * freivaldsCheck(a, b, c, 256, randomVector) // true
 */
import { createCipheriv, createHash } from "node:crypto";

/**
 * The field's prime: 2²¹ − 9, the largest prime below 2²¹. An entry is < 2²¹, a product < 2⁴², and a row
 * of up to {@link MAX_MATRIX_SIZE} products sums below 2⁵² — exact in a float64, so a JavaScript prover
 * needs no BigInt and a native one no 128-bit arithmetic.
 */
export const FIELD_PRIME = 2_097_143;
/** Largest n a challenge may ask for (1 024: 2 × 4 MiB of matrices, 1.07 G multiply-adds). */
export const MAX_MATRIX_SIZE = 1_024;
/** Smallest n (below it the product is too cheap to time). */
export const MIN_MATRIX_SIZE = 16;
/** Freivalds rounds: each lets a wrong C through with probability ≤ 1/P, so two leave ≤ 2.3 × 10⁻¹³. */
export const FREIVALDS_ROUNDS = 2;

/** Multiply-adds to prove one challenge of size n (the work a prover must do without a shortcut). */
export function challengeWork(n: number): number {
  return n * n * n;
}

/** Bytes of one product on the wire: n² entries, u32 little-endian. */
export function productBytes(n: number): number {
  return n * n * 4;
}

/** The ChaCha20 key of a challenge for one prover: SHA-256(seed ‖ the prover's PeerId bytes). */
export function challengeKey(seed: Uint8Array, proverPeerId: Uint8Array): Uint8Array {
  if (seed.length !== 32) throw new RangeError(`a challenge seed is 32 bytes, got ${seed.length}`);
  return createHash("sha256").update(seed).update(proverPeerId).digest();
}

/**
 * The matrix pair `index` of a challenge: ChaCha20 keyed by `key` ({@link challengeKey}), 96-bit nonce = u32 little-endian `index`
 * followed by 8 zero bytes, block counter from 0; keystream words mod {@link FIELD_PRIME}, A then B, row-major.
 */
export function challengeMatrices(key: Uint8Array, index: number, n: number): { a: Float64Array; b: Float64Array } {
  if (key.length !== 32) throw new RangeError(`a challenge key is 32 bytes, got ${key.length}`);
  if (!Number.isInteger(n) || n < MIN_MATRIX_SIZE || n > MAX_MATRIX_SIZE) throw new RangeError(`matrix size ${n} is outside [${MIN_MATRIX_SIZE}, ${MAX_MATRIX_SIZE}]`);
  if (!Number.isInteger(index) || index < 0 || index > 0xffff_ffff) throw new RangeError(`matrix pair index ${index} is not a u32`);
  // Node's "chacha20" takes a 16-byte IV: the 32-bit block counter (little-endian) and then the 96-bit nonce.
  const iv = Buffer.alloc(16);
  iv.writeUInt32LE(index, 4);
  const cipher = createCipheriv("chacha20", key, iv);
  const words = n * n;
  const stream = cipher.update(Buffer.alloc(words * 2 * 4));
  const view = new Uint32Array(stream.buffer, stream.byteOffset, words * 2);
  const a = new Float64Array(words);
  const b = new Float64Array(words);
  // Uint32Array reads in the platform's byte order; every platform Node runs on is little-endian.
  for (let i = 0; i < words; i++) a[i] = view[i]! % FIELD_PRIME;
  for (let i = 0; i < words; i++) b[i] = view[words + i]! % FIELD_PRIME;
  return { a, b };
}

/**
 * C = A·B mod P, the prover's work (i-k-j order: both inner reads walk rows). Rows are summed in float64
 * (exact below 2⁵³, see {@link FIELD_PRIME}) and reduced once per entry.
 */
export function multiplyMod(a: Float64Array, b: Float64Array, n: number): Uint32Array {
  const c = new Uint32Array(n * n);
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    row.fill(0);
    const aRow = i * n;
    for (let k = 0; k < n; k++) {
      const aik = a[aRow + k]!;
      if (aik === 0) continue;
      const bRow = k * n;
      for (let j = 0; j < n; j++) row[j]! += aik * b[bRow + j]!;
    }
    for (let j = 0; j < n; j++) c[aRow + j] = row[j]! % FIELD_PRIME;
  }
  return c;
}

/** M·v mod P for an n×n matrix M (float64 or u32 entries < P) and a vector v of entries < P. */
function multiplyVector(m: Float64Array | Uint32Array, v: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    const at = i * n;
    for (let j = 0; j < n; j++) sum += m[at + j]! * v[j]!;
    out[i] = sum % FIELD_PRIME;
  }
  return out;
}

/**
 * Freivalds' check of C = A·B mod P: for {@link FREIVALDS_ROUNDS} vectors r with entries drawn by
 * `randomBelowPrime` (the verifier's private randomness; the prover must not know r), A·(B·r) = C·r.
 * A correct C always passes; a wrong one passes each round with probability ≤ 1/P. Entries of C at or above
 * P fail outright (they cannot be a product mod P).
 */
export function freivaldsCheck(a: Float64Array, b: Float64Array, c: Uint32Array, n: number, randomBelowPrime: () => number): boolean {
  if (c.length !== n * n) return false;
  for (let i = 0; i < c.length; i++) if (c[i]! >= FIELD_PRIME) return false;
  for (let round = 0; round < FREIVALDS_ROUNDS; round++) {
    const r = new Float64Array(n);
    for (let i = 0; i < n; i++) r[i] = randomBelowPrime();
    const left = multiplyVector(a, multiplyVector(b, r, n), n);
    const right = multiplyVector(c, r, n);
    for (let i = 0; i < n; i++) if (left[i] !== right[i]) return false;
  }
  return true;
}
