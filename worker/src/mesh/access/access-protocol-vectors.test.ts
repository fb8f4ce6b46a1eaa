/**
 * Test vectors of docs/protocol.md §8.6: the worked access token is signed here and every value the page
 * shows must match, so the page and the code cannot drift apart.
 */
import { readFileSync } from "node:fs";
import { hashTypedData } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { ACCESS_DENIAL_STATUS } from "../../errors.ts";
import { accessTokenTypedData, decodeAccessToken, encodeAccessToken, recoverAccessTokenSigner, signAccessToken } from "./request-token.ts";

const doc = readFileSync(new URL("../../../../docs/protocol.md", import.meta.url), "utf8");
const example = doc.slice(doc.indexOf("### 8.6 Worked example"), doc.indexOf("### 8.7 "));
const key = /private key\s+`(0x[0-9a-f]{64})`/.exec(example)![1] as `0x${string}`;

describe.each([
  ["8.6.1 Version 1", example.slice(example.indexOf("#### 8.6.1"), example.indexOf("#### 8.6.2")), 1],
  ["8.6.2 Version 2", example.slice(example.indexOf("#### 8.6.2")), 2],
] as const)("docs/protocol.md §%s worked example", (_name, section, version) => {
  const cell = (name: string) => new RegExp(`^\\| ${name} \\| \`([^\`]+)\` \\|$`, "m").exec(section)?.[1];

  it("signs to the documented digest, signature, JSON and header", async () => {
    const provider = cell("provider") as `0x${string}` | undefined;
    expect(provider === undefined ? 1 : 2).toBe(version);
    const token = await signAccessToken({
      account: privateKeyToAccount(key),
      domain: { chainId: Number(cell("chainId")), registry: cell("registry") as `0x${string}` },
      serviceId: BigInt(cell("serviceId")!),
      provider,
      expiry: Number(cell("expiry")),
      nonce: cell("nonce") as `0x${string}`,
    });
    expect(token.consumer).toBe(cell("consumer"));
    expect(hashTypedData(accessTokenTypedData(token))).toBe(cell("digest"));
    expect(token.signature).toBe(cell("signature"));
    const header = encodeAccessToken(token);
    expect(section).toContain(`dsmp-access: ${header}\n`);
    const json = Buffer.from(header, "base64url").toString("utf8");
    expect(section).toContain(json);
    expect(JSON.parse(json)).toMatchObject({ v: version });
    expect(await recoverAccessTokenSigner(decodeAccessToken(header))).toBe(token.consumer);
  });
});

describe("docs/protocol.md §8.5 verification order", () => {
  it("lists every denial reason with the status the provider answers", () => {
    const table = doc.slice(doc.indexOf("### 8.5 Verification order"), doc.indexOf("### 8.6 Worked example"));
    const rows = [...table.matchAll(/^\| [0-9]+[a-z]? \| .* \| `([a-z-]+)` \| ([0-9]{3}) \|$/gm)].map((m) => [m[1], Number(m[2])]);
    expect(Object.fromEntries(rows)).toEqual(ACCESS_DENIAL_STATUS);
  });
});
