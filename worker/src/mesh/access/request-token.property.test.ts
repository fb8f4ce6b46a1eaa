/** Properties of the access token codec (STYLE §18): round trip, and nothing but typed refusals on junk. */
import fc from "fast-check";
import type { Address, Hex } from "viem";
import { describe, expect, it } from "vitest";
import { AccessDeniedError } from "../../errors.ts";
import { decodeAccessToken, encodeAccessToken, MAX_ALLOWLIST_PROOF_LENGTH, type AccessToken } from "./request-token.ts";

const hexOf = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => `0x${Buffer.from(b).toString("hex")}` as Hex);

/** v 1 tokens (no provider) and v 2 tokens (a provider). */
const tokenArb: fc.Arbitrary<AccessToken> = fc.record(
  {
    chainId: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    registry: hexOf(20).map((h) => h as Address),
    serviceId: fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
    consumer: hexOf(20).map((h) => h as Address),
    provider: hexOf(20).map((h) => h as Address),
    expiry: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    nonce: hexOf(32),
    proof: fc.array(hexOf(32), { maxLength: MAX_ALLOWLIST_PROOF_LENGTH }),
    signature: hexOf(65),
  },
  { requiredKeys: ["chainId", "registry", "serviceId", "consumer", "expiry", "nonce", "proof", "signature"] },
);

describe("access token codec properties", () => {
  it("decode(encode(t)) = t", () => {
    fc.assert(
      fc.property(tokenArb, (token) => {
        expect(decodeAccessToken(encodeAccessToken(token))).toEqual(token);
      }),
      { numRuns: 300 },
    );
  });

  it("any string decodes to a token or throws AccessDeniedError, never anything else", () => {
    const junk = fc.oneof(
      fc.string({ maxLength: 600 }),
      fc.json().map((j) => Buffer.from(j).toString("base64url")),
      tokenArb.map((t) => {
        const json = JSON.parse(Buffer.from(encodeAccessToken(t), "base64url").toString()) as Record<string, unknown>;
        delete json[Object.keys(json)[Math.floor(t.expiry % Object.keys(json).length)]!];
        return Buffer.from(JSON.stringify(json)).toString("base64url");
      }),
    );
    fc.assert(
      fc.property(junk, (text) => {
        try {
          decodeAccessToken(text);
        } catch (error) {
          expect(error).toBeInstanceOf(AccessDeniedError);
          expect(["token-malformed", "token-too-large"]).toContain((error as AccessDeniedError).reason);
        }
      }),
      { numRuns: 500 },
    );
  });
});
