import { describe, expect, it } from "vitest";
import { privateKeyToAccount } from "viem/accounts";
import { getAddress, type Address, type Hex } from "viem";
import { dsmpStateReducer, type DsmpState, type ServiceView } from "../../chain/dsmp-state.ts";
import { AccessDeniedError } from "../../errors.ts";
import { allowlistLeaf, hashPair, verifyAllowlistProof } from "./allowlist-proof.ts";
import { verifyAccess, type AccessContext } from "./access-policy.ts";
import { ReplayCache } from "./replay-cache.ts";
import {
  ACCESS_TOKEN_TYPES,
  decodeAccessToken,
  encodeAccessToken,
  MAX_ACCESS_HEADER_LENGTH,
  PROVIDER_ACCESS_TOKEN_TYPES,
  recoverAccessTokenSigner,
  signAccessToken,
  type AccessDomain,
  type AccessToken,
} from "./request-token.ts";

// Hardhat development keys (published; never use them for value).
const consumerA = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const consumerB = privateKeyToAccount("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a");
const ownerKey = privateKeyToAccount("0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6");
const lower = (a: Address) => a.toLowerCase() as Address;

const DOMAIN: AccessDomain = { chainId: 31337, registry: "0x5fbdb2315678afecb367f032d93f642f64180aa3" };
/** The deciding provider's node address, and another provider's. */
const SELF = "0x00000000000000000000000000000000000000b1" as Address;
const OTHER_PROVIDER = "0x00000000000000000000000000000000000000b2" as Address;
const NOW = 1_800_000_000;
const FREE = { perCall: 0n, perPeriod: 0n, periodSeconds: 0n, oneTime: 0n, oneTimeDuration: 0n };

function service(id: bigint, over: Partial<ServiceView> = {}): ServiceView {
  return {
    id,
    owner: lower(ownerKey.address),
    name: `s${id}`,
    kind: "http",
    visibility: "public",
    status: "active",
    pricing: FREE,
    manifestHash: `0x${"00".repeat(32)}`,
    minReplicas: 1,
    maxReplicas: 1,
    minProviderStake: 0n,
    metadataURI: "",
    allowlistRoot: `0x${"00".repeat(32)}`,
    granted: new Set(),
    subscriberCount: 0n,
    ...over,
  };
}

// A three-member Merkle allow-list (consumer B, two others) built as OpenZeppelin's StandardMerkleTree does.
const other1 = "0x00000000000000000000000000000000000000a1" as Address;
const other2 = "0x00000000000000000000000000000000000000a2" as Address;
const leafB = allowlistLeaf(lower(consumerB.address));
const leaf1 = allowlistLeaf(other1);
const leaf2 = allowlistLeaf(other2);
const ROOT = hashPair(hashPair(leafB, leaf1), leaf2);
const PROOF_B: Hex[] = [leaf1, leaf2];

/**
 * 1 open, 2 paid per period, 3 private (A granted), 4 private by Merkle root, 5 per-call only (price 1),
 * 6 retired paid, 7 per-call at 10 with escrows: A 30 at 10, B 30 at 5 (agreed before a raise), owner none;
 * 8 per-call at 10, A has 30 with 25 of it pending withdrawal.
 */
function chainState(): DsmpState {
  const s = dsmpStateReducer.initial();
  s.services.set(1n, service(1n));
  s.services.set(2n, service(2n, { pricing: { ...FREE, perPeriod: 10n, periodSeconds: 3600n } }));
  s.services.set(3n, service(3n, { visibility: "private", granted: new Set([lower(consumerA.address)]) }));
  s.services.set(4n, service(4n, { visibility: "private", allowlistRoot: ROOT }));
  s.services.set(5n, service(5n, { pricing: { ...FREE, perCall: 1n } }));
  s.services.set(6n, service(6n, { status: "retired", pricing: { ...FREE, oneTime: 5n, oneTimeDuration: 60n } }));
  s.services.set(7n, service(7n, { pricing: { ...FREE, perCall: 10n } }));
  s.services.set(8n, service(8n, { pricing: { ...FREE, perCall: 10n } }));
  s.escrows.set(`7:${lower(consumerA.address)}`, { balance: 30n, pricePerCall: 10n, pendingWithdrawal: 0n, withdrawableAt: 0n });
  s.escrows.set(`7:${lower(consumerB.address)}`, { balance: 30n, pricePerCall: 5n, pendingWithdrawal: 0n, withdrawableAt: 0n });
  s.escrows.set(`8:${lower(consumerA.address)}`, { balance: 30n, pricePerCall: 10n, pendingWithdrawal: 25n, withdrawableAt: BigInt(NOW + 3600) });
  // A subscribes to 2 until NOW + 100; B's subscription ended at NOW - 1.
  s.subscriptions.set(`2:${lower(consumerA.address)}`, { paidUntil: BigInt(NOW + 100), oneTimeUntil: 0n });
  s.subscriptions.set(`2:${lower(consumerB.address)}`, { paidUntil: BigInt(NOW - 1), oneTimeUntil: 0n });
  return s;
}

type Signer = typeof consumerA;
interface Case {
  name: string;
  serviceId: bigint;
  /** How to build the header; `undefined` sends none. */
  /** `provider`: the node the token names (v 2), default {@link SELF} as the gateway signs; `null` for a v 1 token. */
  token?: { signer?: Signer; consumer?: Signer; service?: bigint; expiry?: number; domain?: AccessDomain; proof?: Hex[]; nonce?: Hex; provider?: Address | null } | string;
  context?: Partial<AccessContext>;
  expect: { allow: true; basis: string } | { allow: false; status: number; reason: string };
}

const nonce = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;

async function header(spec: Case["token"], serviceId: bigint, n: number): Promise<string | undefined> {
  if (spec === undefined || typeof spec === "string") return spec;
  const signer = spec.signer ?? consumerA;
  const consumer = spec.consumer ?? signer;
  const token = await signAccessToken({
    account: { address: consumer.address, signTypedData: (data) => signer.signTypedData(data) },
    domain: spec.domain ?? DOMAIN,
    serviceId: spec.service ?? serviceId,
    provider: spec.provider === null ? undefined : (spec.provider ?? SELF),
    expiry: spec.expiry ?? NOW + 60,
    nonce: spec.nonce ?? nonce(n),
    proof: spec.proof,
  });
  return encodeAccessToken(token);
}

const CASES: Case[] = [
  { name: "public free service needs no token", serviceId: 1n, expect: { allow: true, basis: "open" } },
  { name: "public free service ignores a junk token", serviceId: 1n, token: "!!", expect: { allow: true, basis: "open" } },
  { name: "unknown service is refused (fail closed)", serviceId: 99n, token: {}, expect: { allow: false, status: 403, reason: "service-unknown" } },
  { name: "paid service without token", serviceId: 2n, expect: { allow: false, status: 401, reason: "token-missing" } },
  { name: "paid service with an empty header", serviceId: 2n, token: "", expect: { allow: false, status: 401, reason: "token-missing" } },
  { name: "paid service, subscribed consumer", serviceId: 2n, token: {}, expect: { allow: true, basis: "token" } },
  { name: "paid service, lapsed subscription", serviceId: 2n, token: { signer: consumerB }, expect: { allow: false, status: 403, reason: "not-subscribed" } },
  {
    name: "paid service, subscription over at chain time though not at wall time",
    serviceId: 2n,
    token: {},
    context: { chainNow: BigInt(NOW + 100) },
    expect: { allow: false, status: 403, reason: "not-subscribed" },
  },
  { name: "paid service, owner without subscription", serviceId: 2n, token: { signer: ownerKey }, expect: { allow: true, basis: "owner" } },
  { name: "private service, granted consumer", serviceId: 3n, token: {}, expect: { allow: true, basis: "token" } },
  { name: "private service, other consumer", serviceId: 3n, token: { signer: consumerB }, expect: { allow: false, status: 403, reason: "not-allowed" } },
  { name: "private service, owner", serviceId: 3n, token: { signer: ownerKey }, expect: { allow: true, basis: "owner" } },
  { name: "private by root, valid proof", serviceId: 4n, token: { signer: consumerB, proof: PROOF_B }, expect: { allow: true, basis: "token" } },
  { name: "private by root, no proof", serviceId: 4n, token: { signer: consumerB }, expect: { allow: false, status: 403, reason: "not-allowed" } },
  { name: "private by root, someone else's proof", serviceId: 4n, token: { signer: consumerA, proof: PROOF_B }, expect: { allow: false, status: 403, reason: "not-allowed" } },
  { name: "per-call only service: a valid token suffices", serviceId: 5n, token: { signer: consumerB }, expect: { allow: true, basis: "token" } },
  { name: "per-call only service without token", serviceId: 5n, expect: { allow: false, status: 401, reason: "token-missing" } },
  { name: "per-call with escrow checks: no escrow at all", serviceId: 5n, token: { signer: consumerB }, context: { escrow: { unclaimed: () => 0 } }, expect: { allow: false, status: 403, reason: "escrow-missing" } },
  { name: "per-call escrow: funded at the current price", serviceId: 7n, token: {}, context: { escrow: { unclaimed: () => 0 } }, expect: { allow: true, basis: "token" } },
  { name: "per-call escrow: balance covers 2 unclaimed + this one exactly", serviceId: 7n, token: {}, context: { escrow: { unclaimed: () => 2 } }, expect: { allow: true, basis: "token" } },
  { name: "per-call escrow: 3 unclaimed + this one exceed the balance", serviceId: 7n, token: {}, context: { escrow: { unclaimed: () => 3 } }, expect: { allow: false, status: 403, reason: "escrow-insufficient" } },
  { name: "per-call escrow: agreed to a lower price than today's", serviceId: 7n, token: { signer: consumerB }, context: { escrow: { unclaimed: () => 0 } }, expect: { allow: false, status: 403, reason: "escrow-price-outdated" } },
  { name: "per-call escrow: a pending withdrawal leaves too little", serviceId: 8n, token: {}, context: { escrow: { unclaimed: () => 0 } }, expect: { allow: false, status: 403, reason: "escrow-insufficient" } },
  { name: "per-call escrow: the owner needs none", serviceId: 7n, token: { signer: ownerKey }, context: { escrow: { unclaimed: () => 0 } }, expect: { allow: true, basis: "owner" } },
  { name: "per-call escrow: unchecked without a UsageEscrow", serviceId: 7n, token: { signer: consumerB }, expect: { allow: true, basis: "token" } },
  {
    name: "per-call escrow: a token good at any provider (v 1) is no evidence",
    serviceId: 7n,
    token: { provider: null },
    context: { escrow: { unclaimed: () => 0 } },
    expect: { allow: false, status: 401, reason: "token-unbound" },
  },
  { name: "per-call escrow: the owner may send a v 1 token", serviceId: 7n, token: { signer: ownerKey, provider: null }, context: { escrow: { unclaimed: () => 0 } }, expect: { allow: true, basis: "owner" } },
  { name: "per-call without a UsageEscrow: a v 1 token suffices", serviceId: 7n, token: { signer: consumerB, provider: null }, expect: { allow: true, basis: "token" } },
  { name: "subscription service: a v 1 token suffices", serviceId: 2n, token: { provider: null }, expect: { allow: true, basis: "token" } },
  { name: "private service: a v 1 token suffices", serviceId: 3n, token: { provider: null }, expect: { allow: true, basis: "token" } },
  { name: "a token for another provider", serviceId: 2n, token: { provider: OTHER_PROVIDER }, expect: { allow: false, status: 401, reason: "wrong-provider" } },
  {
    name: "a token for another provider, on a per-call service with escrow",
    serviceId: 7n,
    token: { provider: OTHER_PROVIDER },
    context: { escrow: { unclaimed: () => 0 } },
    expect: { allow: false, status: 401, reason: "wrong-provider" },
  },
  { name: "the provider's own address compares in any case", serviceId: 2n, token: {}, context: { provider: getAddress(SELF) }, expect: { allow: true, basis: "token" } },
  { name: "retired service", serviceId: 6n, token: {}, expect: { allow: false, status: 403, reason: "service-retired" } },
  { name: "retired service, owner", serviceId: 6n, token: { signer: ownerKey }, expect: { allow: true, basis: "owner" } },
  { name: "malformed token", serviceId: 2n, token: "bm90IGpzb24", expect: { allow: false, status: 401, reason: "token-malformed" } },
  { name: "not base64url", serviceId: 2n, token: "a+b/c=", expect: { allow: false, status: 401, reason: "token-malformed" } },
  { name: "oversized token", serviceId: 2n, token: "A".repeat(MAX_ACCESS_HEADER_LENGTH + 1), expect: { allow: false, status: 401, reason: "token-too-large" } },
  { name: "wrong chain id", serviceId: 2n, token: { domain: { ...DOMAIN, chainId: 1 } }, expect: { allow: false, status: 401, reason: "wrong-chain" } },
  {
    name: "wrong deployment (registry)",
    serviceId: 2n,
    token: { domain: { ...DOMAIN, registry: "0x0000000000000000000000000000000000000001" } },
    expect: { allow: false, status: 401, reason: "wrong-chain" },
  },
  { name: "wrong service", serviceId: 2n, token: { service: 3n }, expect: { allow: false, status: 401, reason: "wrong-service" } },
  { name: "expired", serviceId: 2n, token: { expiry: NOW - 31 }, expect: { allow: false, status: 401, reason: "expired" } },
  { name: "just expired, within clock skew", serviceId: 2n, token: { expiry: NOW - 29 }, expect: { allow: true, basis: "token" } },
  { name: "too far in the future", serviceId: 2n, token: { expiry: NOW + 331 }, expect: { allow: false, status: 401, reason: "expiry-too-far" } },
  { name: "5 min ahead plus skew is fine", serviceId: 2n, token: { expiry: NOW + 330 }, expect: { allow: true, basis: "token" } },
  {
    name: "wrong signer: claims consumer A, signed by B",
    serviceId: 2n,
    token: { signer: consumerB, consumer: consumerA },
    expect: { allow: false, status: 401, reason: "wrong-signer" },
  },
];

describe("verifyAccess", () => {
  it.each(CASES.map((c, i) => [c.name, c, i] as const))("%s", async (_name, c, i) => {
    const context: AccessContext = { domain: DOMAIN, provider: SELF, state: chainState(), now: NOW, replay: new ReplayCache(16), ...c.context };
    const decision = await verifyAccess({ serviceId: c.serviceId, header: await header(c.token, c.serviceId, i) }, context);
    expect(decision).toMatchObject(c.expect);
    if (!decision.allow) expect(decision.message.length).toBeGreaterThan(0);
  });

  it("refuses more than one dsmp-access value as token-malformed whatever their size, and reads a single one as the header", async () => {
    const context: AccessContext = { domain: DOMAIN, provider: SELF, state: chainState(), now: NOW, replay: new ReplayCache(16) };
    const [a, b] = [(await header({ nonce: nonce(21) }, 2n, 0))!, (await header({ nonce: nonce(22) }, 2n, 0))!];
    expect(await verifyAccess({ serviceId: 2n, header: [a, "A".repeat(MAX_ACCESS_HEADER_LENGTH)] }, context)).toMatchObject({ allow: false, status: 401, reason: "token-malformed" });
    expect(await verifyAccess({ serviceId: 2n, header: [a, b] }, context)).toMatchObject({ allow: false, reason: "token-malformed" });
    expect(await verifyAccess({ serviceId: 2n, header: [] }, context)).toMatchObject({ allow: false, reason: "token-missing" });
    expect(await verifyAccess({ serviceId: 2n, header: [a] }, context)).toMatchObject({ allow: true });
    // A public free service looks at no token at all.
    expect(await verifyAccess({ serviceId: 1n, header: [a, b] }, context)).toMatchObject({ allow: true, basis: "open" });
  });

  it("refuses a replayed token and remembers nonces per consumer", async () => {
    const context: AccessContext = { domain: DOMAIN, provider: SELF, state: chainState(), now: NOW, replay: new ReplayCache(16) };
    const first = await header({ nonce: nonce(7) }, 2n, 0);
    expect(await verifyAccess({ serviceId: 2n, header: first }, context)).toMatchObject({ allow: true });
    expect(await verifyAccess({ serviceId: 2n, header: first }, context)).toMatchObject({ allow: false, status: 401, reason: "replayed" });
    // The same nonce from another consumer is another key.
    const other = await header({ signer: ownerKey, nonce: nonce(7) }, 2n, 0);
    expect(await verifyAccess({ serviceId: 2n, header: other }, context)).toMatchObject({ allow: true });
  });

  it("records the nonce only when the call is allowed", async () => {
    const state = chainState();
    const context: AccessContext = { domain: DOMAIN, provider: SELF, state, now: NOW, replay: new ReplayCache(16) };
    const token = await header({ signer: consumerB, nonce: nonce(9) }, 2n, 0);
    expect(await verifyAccess({ serviceId: 2n, header: token }, context)).toMatchObject({ reason: "not-subscribed" });
    expect(context.replay.size).toBe(0);
    state.subscriptions.set(`2:${lower(consumerB.address)}`, { paidUntil: BigInt(NOW + 10), oneTimeUntil: 0n });
    expect(await verifyAccess({ serviceId: 2n, header: token }, context)).toMatchObject({ allow: true });
    expect(await verifyAccess({ serviceId: 2n, header: token }, context)).toMatchObject({ reason: "replayed" });
  });

  it("answers 503 when the replay memory is full of live nonces, and recovers once they expire", async () => {
    const replay = new ReplayCache(2);
    const at = (now: number): AccessContext => ({ domain: DOMAIN, provider: SELF, state: chainState(), now, replay });
    for (const n of [1, 2]) expect(await verifyAccess({ serviceId: 2n, header: await header({ nonce: nonce(n), expiry: NOW + 10 }, 2n, 0) }, at(NOW))).toMatchObject({ allow: true });
    const third = await header({ nonce: nonce(3), expiry: NOW + 60 }, 2n, 0);
    expect(await verifyAccess({ serviceId: 2n, header: third }, at(NOW))).toMatchObject({ allow: false, status: 503, reason: "replay-cache-full" });
    // After the first two expire (expiry 10 s + 30 s skew), their slots free up.
    expect(await verifyAccess({ serviceId: 2n, header: third }, at(NOW + 41))).toMatchObject({ allow: true });
    expect(replay.size).toBeLessThanOrEqual(2);
  });
});

describe("ReplayCache", () => {
  it("never holds more than its capacity, whatever is added", () => {
    const cache = new ReplayCache(100);
    let refused = 0;
    for (let i = 0; i < 10_000; i++) {
      const now = NOW + Math.floor(i / 20); // 20 adds per second, each remembered for 3 s: ≤ 80 live
      if (!cache.add(`k${i}`, now + 3, now)) refused++;
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    expect(refused).toBe(0); // expired entries were pruned to make room, so no live nonce was ever refused
  });

  it("refuses when every entry is live and forgets nothing live", () => {
    const cache = new ReplayCache(3);
    for (const k of ["a", "b", "c"]) expect(cache.add(k, NOW + 10, NOW)).toBe(true);
    expect(cache.add("d", NOW + 10, NOW)).toBe(false);
    for (const k of ["a", "b", "c"]) expect(cache.has(k, NOW)).toBe(true);
    expect(cache.has("d", NOW)).toBe(false);
    expect(cache.add("d", NOW + 20, NOW + 11)).toBe(true);
    expect(cache.size).toBe(1);
    expect(cache.has("a", NOW + 11)).toBe(false);
  });
});

describe("access token codec", () => {
  it("round-trips and recovers the consumer", async () => {
    const token = await signAccessToken({ account: consumerA, domain: DOMAIN, serviceId: 2n, expiry: NOW + 60, proof: PROOF_B });
    const decoded = decodeAccessToken(encodeAccessToken(token));
    expect(decoded).toEqual(token);
    expect(await recoverAccessTokenSigner(decoded)).toBe(lower(consumerA.address));
  });

  it("round-trips a token that names its provider (v 2) and recovers the consumer", async () => {
    const token = await signAccessToken({ account: consumerA, domain: DOMAIN, serviceId: 7n, provider: getAddress(SELF), expiry: NOW + 60 });
    expect(token.provider).toBe(SELF);
    const header = encodeAccessToken(token);
    expect(JSON.parse(Buffer.from(header, "base64url").toString())).toMatchObject({ v: 2, provider: SELF });
    const decoded = decodeAccessToken(header);
    expect(decoded).toEqual(token);
    expect(await recoverAccessTokenSigner(decoded)).toBe(lower(consumerA.address));
    // The provider is signed: naming another one breaks the signature.
    expect(await recoverAccessTokenSigner({ ...decoded, provider: OTHER_PROVIDER })).not.toBe(lower(consumerA.address));
    // And a v 1 token with the same fields is another message.
    expect(await recoverAccessTokenSigner({ ...decoded, provider: undefined })).not.toBe(lower(consumerA.address));
  });

  it("signs the documented EIP-712 types", () => {
    expect(ACCESS_TOKEN_TYPES.AccessToken.map((f) => `${f.type} ${f.name}`).join(",")).toBe("uint256 serviceId,address consumer,uint64 expiry,bytes32 nonce");
    expect(PROVIDER_ACCESS_TOKEN_TYPES.ProviderAccessToken.map((f) => `${f.type} ${f.name}`).join(",")).toBe(
      "uint256 serviceId,address consumer,address provider,uint64 expiry,bytes32 nonce",
    );
  });

  it("refuses a v 2 token without a provider, a v 1 token with one, and unknown versions", async () => {
    const token = await signAccessToken({ account: consumerA, domain: DOMAIN, serviceId: 7n, provider: SELF, expiry: NOW + 60 });
    const json = JSON.parse(Buffer.from(encodeAccessToken(token), "base64url").toString()) as Record<string, unknown>;
    const encode = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const { provider: _omitted, ...withoutProvider } = json;
    expect(() => decodeAccessToken(encode(withoutProvider))).toThrow(/token-malformed/);
    expect(() => decodeAccessToken(encode({ ...json, v: 1 }))).toThrow(/token-malformed/);
    expect(() => decodeAccessToken(encode({ ...json, v: 3 }))).toThrow(/token-malformed/);
    expect(() => decodeAccessToken(encode({ ...json, provider: SELF.toUpperCase().replace("0X", "0x") }))).toThrow(/token-malformed/);
  });

  it("refuses extra fields, uppercase hex and a high-s signature", async () => {
    const token = await signAccessToken({ account: consumerA, domain: DOMAIN, serviceId: 2n, expiry: NOW + 60 });
    const json = JSON.parse(Buffer.from(encodeAccessToken(token), "base64url").toString()) as Record<string, unknown>;
    const encode = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    expect(() => decodeAccessToken(encode({ ...json, provider: "x" }))).toThrow(AccessDeniedError);
    expect(() => decodeAccessToken(encode({ ...json, consumer: (json.consumer as string).toUpperCase().replace("0X", "0x") }))).toThrow(/token-malformed/);
    // The malleable twin: s' = n − s, v flipped.
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(`0x${token.signature.slice(66, 130)}`);
    const v = parseInt(token.signature.slice(130), 16);
    const twin = `${token.signature.slice(0, 66)}${(n - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
    await expect(recoverAccessTokenSigner({ ...token, signature: twin } satisfies AccessToken)).rejects.toMatchObject({ reason: "bad-signature" });
  });

  it("refuses v 0 or 1 (the same signature that recovers with 27/28): UsageEscrow could never settle it", async () => {
    const token = await signAccessToken({ account: consumerA, domain: DOMAIN, serviceId: 2n, expiry: NOW + 60 });
    expect(await recoverAccessTokenSigner(token)).toBe(lower(consumerA.address));
    const v = parseInt(token.signature.slice(130), 16);
    const yParity = `${token.signature.slice(0, 130)}${(v - 27).toString(16).padStart(2, "0")}` as Hex;
    await expect(recoverAccessTokenSigner({ ...token, signature: yParity })).rejects.toMatchObject({ reason: "bad-signature", message: expect.stringMatching(/v must be 27 or 28/) });
  });
});

describe("allow-list proofs", () => {
  it("accepts members with their proof and nobody under a zero root", () => {
    expect(verifyAllowlistProof(ROOT, other2, [hashPair(leafB, leaf1)])).toBe(true);
    expect(verifyAllowlistProof(ROOT, lower(consumerB.address), PROOF_B)).toBe(true);
    expect(verifyAllowlistProof(ROOT, lower(consumerA.address), PROOF_B)).toBe(false);
    expect(verifyAllowlistProof(`0x${"00".repeat(32)}`, lower(consumerB.address), [])).toBe(false);
  });
});
