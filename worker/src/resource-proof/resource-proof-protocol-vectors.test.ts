/** Every value of docs/protocol.md §12.4, recomputed: fails if the page and the code disagree. */
import { describe, expect, it } from "vitest";
import { challengeMatrices, multiplyMod } from "./matrix-challenge.ts";
import { encodeChallenge, productsDigest } from "./resource-proof-protocol.ts";

const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
const pairs = [0, 1].map((index) => {
  const { a, b } = challengeMatrices(seed, index, 16);
  return { a, b, c: multiplyMod(a, b, 16) };
});

describe("docs/protocol.md §12.4", () => {
  it("the challenge's 36 bytes", () => {
    expect(Buffer.from(encodeChallenge({ seed, n: 16, count: 2 })).toString("hex")).toBe("01000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f001002");
  });
  it("pair 0", () => {
    expect([...pairs[0]!.a.slice(0, 4)]).toEqual([794730, 1696681, 253701, 717138]);
    expect([...pairs[0]!.b.slice(0, 4)]).toEqual([1791239, 1403300, 1714649, 1290024]);
    expect([...pairs[0]!.c.slice(0, 4)]).toEqual([48397, 336889, 1077554, 783860]);
    expect(pairs[0]!.c[255]).toBe(306669);
  });
  it("pair 1", () => {
    expect([...pairs[1]!.a.slice(0, 4)]).toEqual([1784735, 949932, 1243655, 1282323]);
    expect([...pairs[1]!.c.slice(0, 4)]).toEqual([250875, 807322, 1192339, 824792]);
    expect(pairs[1]!.c[255]).toBe(2054387);
  });
  it("the digest and the first product bytes", () => {
    expect(Buffer.from(productsDigest(pairs.map((p) => p.c))).toString("hex")).toBe("2baafa5a878648dd718f4e89a4594e3a35c8f415924b95ad49206640f8209534");
    expect(Buffer.from(pairs[0]!.c.buffer).subarray(0, 4).toString("hex")).toBe("0dbd0000");
    expect(pairs.reduce((sum, p) => sum + p.c.byteLength, 0)).toBe(2048);
  });
});
