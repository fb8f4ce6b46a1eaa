/** Every value of docs/protocol.md §12.4, recomputed: fails if the page and the code disagree. */
import { describe, expect, it } from "vitest";
import { challengeKey, challengeMatrices, multiplyMod } from "./matrix-challenge.ts";
import { encodeChallenge, productsDigest } from "./resource-proof-protocol.ts";

const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
// The PeerId bytes of docs/protocol.md §1.2 (the worked example key).
const prover = Buffer.from("002508021221038318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed75", "hex");
const key = challengeKey(seed, prover);
const pairs = [0, 1].map((index) => {
  const { a, b } = challengeMatrices(key, index, 16);
  return { a, b, c: multiplyMod(a, b, 16) };
});

describe("docs/protocol.md §12.4", () => {
  it("the challenge's 36 bytes", () => {
    expect(Buffer.from(encodeChallenge({ seed, n: 16, count: 2 })).toString("hex")).toBe("01000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f001002");
  });
  it("the ChaCha20 key for that prover", () => {
    expect(Buffer.from(key).toString("hex")).toBe("a18037f0ffcd540d12354c0c81229df45addb869826ff3252a4b0b84ef8331c4");
  });
  it("pair 0", () => {
    expect([...pairs[0]!.a.slice(0, 4)]).toEqual([222906, 89006, 585042, 894863]);
    expect([...pairs[0]!.b.slice(0, 4)]).toEqual([1335891, 1960901, 728041, 316909]);
    expect([...pairs[0]!.c.slice(0, 4)]).toEqual([1837693, 386472, 1994505, 196563]);
    expect(pairs[0]!.c[255]).toBe(1926386);
  });
  it("pair 1", () => {
    expect([...pairs[1]!.a.slice(0, 4)]).toEqual([1869744, 424208, 1111613, 322940]);
    expect([...pairs[1]!.c.slice(0, 4)]).toEqual([1230739, 2062626, 1446169, 1455657]);
    expect(pairs[1]!.c[255]).toBe(46232);
  });
  it("the digest and the first product bytes", () => {
    expect(Buffer.from(productsDigest(pairs.map((p) => p.c))).toString("hex")).toBe("c065616bafa3d8958b7763ac2f3f88f9eca2790eee5ce96e7ae9f14860a0038a");
    expect(Buffer.from(pairs[0]!.c.buffer).subarray(0, 4).toString("hex")).toBe("7d0a1c00");
    expect(pairs.reduce((sum, p) => sum + p.c.byteLength, 0)).toBe(2048);
  });
});
