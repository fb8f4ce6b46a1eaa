/**
 * Access tokens for paid and private services (docs/protocol.md §8): a consumer signs, per request, a
 * short-lived EIP-712 message naming the service, itself, an expiry and a random nonce; the gateway sends it
 * to the provider in the `dsmp-access` header, and the provider checks it (access-policy.ts) before it
 * contacts the backend.
 *
 * The domain binds chain id and the ServiceRegistry address (`verifyingContract`), so a token is good for one
 * deployment only. Two versions:
 * - **v 1, `AccessToken`** (serviceId, consumer, expiry, nonce): good at any provider of the service. A
 *   provider remembers the nonce, so a token is served once per provider, but a token replayed to another
 *   provider within its ≤ 5 min lifetime is served there too. Enough for private and subscription services,
 *   where a call costs the consumer nothing extra; what `dsmp call --key` signs without `--provider`.
 * - **v 2, `ProviderAccessToken`** (serviceId, consumer, provider, expiry, nonce): names the node address
 *   (`provider`) of the one provider that may serve it. The gateway signs one per attempt, after it picks the
 *   provider. Per-call priced services need it: it is the evidence UsageEscrow pays that node (and only that
 *   node) for, so a token cannot be served by several providers or claimed by a node that copies it.
 *
 * Pure apart from `crypto.getRandomValues` in {@link randomNonce}; all crypto is viem's.
 */
import { z } from "zod";
import {
  getAddress,
  hashTypedData,
  hexToBigInt,
  isAddress,
  recoverAddress,
  type Address,
  type Hex,
  type LocalAccount,
  type TypedDataDefinition,
} from "viem";
import { AccessDeniedError } from "../../errors.ts";
import { SECP256K1_ORDER } from "../../identity/node-identity.ts";

/** The request header that carries the token (lowercase, as header pairs travel). */
export const ACCESS_HEADER = "dsmp-access";
/** EIP-712 domain name and version; the domain also binds `chainId` and `verifyingContract` = ServiceRegistry. */
export const ACCESS_DOMAIN_NAME = "DSMP Access";
export const ACCESS_DOMAIN_VERSION = "1";
/** Wire format version (the `v` field) of a token good at any provider. */
export const ACCESS_TOKEN_WIRE_VERSION = 1;
/** Wire format version of a token that names its provider. */
export const PROVIDER_ACCESS_TOKEN_WIRE_VERSION = 2;
/**
 * Longest lifetime a provider accepts: 300 s (issue 4: "expiry ≤ 5 min"). Bounds how long a nonce must be
 * remembered, hence the replay memory.
 */
export const MAX_ACCESS_TOKEN_LIFETIME_SECONDS = 300;
/** Lifetime the gateway and the CLI give their tokens: 60 s, ample for one request including retries. */
export const DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS = 60;
/**
 * Longest `dsmp-access` value accepted: 4096 characters, refused before decoding. A token without a proof is
 * ~420; a 20-level Merkle proof (a million members) adds ~1.8 KiB after base64url.
 */
export const MAX_ACCESS_HEADER_LENGTH = 4096;
/** Most Merkle proof elements: 24 levels, 16 M allow-list members; fits {@link MAX_ACCESS_HEADER_LENGTH}. */
export const MAX_ALLOWLIST_PROOF_LENGTH = 24;

/**
 * Request header by which a gateway's HTTP client hands it the Merkle proof of the gateway's consumer in a
 * private service's allow-list root, for the tokens the gateway signs (protocol.md §8.2). Never forwarded.
 */
export const ALLOWLIST_PROOF_HEADER = "dsmp-allowlist-proof";

/**
 * A proof written as comma-separated 32-byte hex values (`--proof`, {@link ALLOWLIST_PROOF_HEADER}), lowercase;
 * `undefined` when malformed or longer than {@link MAX_ALLOWLIST_PROOF_LENGTH}. Empty text is an empty proof.
 */
export function parseAllowlistProofList(text: string): Hex[] | undefined {
  if (text.trim() === "") return [];
  const parts = text.split(",").map((p) => p.trim().toLowerCase());
  if (parts.length > MAX_ALLOWLIST_PROOF_LENGTH || !parts.every((p) => /^0x[0-9a-f]{64}$/.test(p))) return undefined;
  return parts as Hex[];
}

/** EIP-712 types of a v 1 token. `chainId` and `registry` are in the domain, not the struct; `proof` is not signed. */
export const ACCESS_TOKEN_TYPES = {
  AccessToken: [
    { name: "serviceId", type: "uint256" },
    { name: "consumer", type: "address" },
    { name: "expiry", type: "uint64" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;

/** EIP-712 types of a v 2 token: v 1's fields and the provider's node address. */
export const PROVIDER_ACCESS_TOKEN_TYPES = {
  ProviderAccessToken: [
    { name: "serviceId", type: "uint256" },
    { name: "consumer", type: "address" },
    { name: "provider", type: "address" },
    { name: "expiry", type: "uint64" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;

/** The deployment a token is bound to. */
export interface AccessDomain {
  chainId: number;
  /** ServiceRegistry address. */
  registry: Address;
}

/** A decoded access token. Addresses and hex are lowercase. */
export interface AccessToken extends AccessDomain {
  serviceId: bigint;
  consumer: Address;
  /**
   * Node address (the Ethereum address of its PeerId key) of the only provider that may serve the token:
   * present in v 2 tokens, `undefined` in v 1 tokens (any provider).
   */
  provider?: Address | undefined;
  /** Unix seconds after which the token is refused. */
  expiry: number;
  /** 32 random bytes; a provider accepts each (consumer, nonce) once. */
  nonce: Hex;
  /**
   * Merkle proof of `consumer` in the service's `allowlistRoot` (OpenZeppelin StandardMerkleTree leaf
   * `keccak256(keccak256(abi.encode(consumer)))`, sorted pairs). Empty unless the consumer is allow-listed by
   * root rather than by explicit grant. Not signed: it is checked against the on-chain root.
   */
  proof: Hex[];
  /** 65-byte ECDSA signature (r ‖ s ‖ v) of the EIP-712 digest by `consumer`. */
  signature: Hex;
}

const hex = (bytes: number) => z.string().regex(new RegExp(`^0x[0-9a-f]{${bytes * 2}}$`), `lowercase hex of ${bytes} bytes`);
const address = z.string().regex(/^0x[0-9a-f]{40}$/, "lowercase hex address");
const decimal = z.string().regex(/^(0|[1-9][0-9]{0,77})$/, "decimal without leading zeros");

const wireFields = {
  chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  registry: address,
  serviceId: decimal.refine((s) => BigInt(s) < 2n ** 256n, "a uint256"),
  consumer: address,
  expiry: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  nonce: hex(32),
  proof: z.array(hex(32)).max(MAX_ALLOWLIST_PROOF_LENGTH).optional(),
  signature: hex(65),
};

const WireTokenSchema = z.discriminatedUnion("v", [
  z.object({ v: z.literal(ACCESS_TOKEN_WIRE_VERSION), ...wireFields }).strict(),
  z.object({ v: z.literal(PROVIDER_ACCESS_TOKEN_WIRE_VERSION), ...wireFields, provider: address }).strict(),
]);

/**
 * The EIP-712 typed data of a token, as viem's `signTypedData` / `hashTypedData` take it: `ProviderAccessToken`
 * when the token names a provider, else `AccessToken`.
 */
export function accessTokenTypedData(token: Omit<AccessToken, "signature" | "proof">): TypedDataDefinition {
  const domain = { name: ACCESS_DOMAIN_NAME, version: ACCESS_DOMAIN_VERSION, chainId: token.chainId, verifyingContract: token.registry };
  const expiry = BigInt(token.expiry);
  if (token.provider !== undefined) {
    return {
      domain,
      types: PROVIDER_ACCESS_TOKEN_TYPES,
      primaryType: "ProviderAccessToken" as const,
      message: { serviceId: token.serviceId, consumer: token.consumer, provider: token.provider, expiry, nonce: token.nonce },
    };
  }
  return {
    domain,
    types: ACCESS_TOKEN_TYPES,
    primaryType: "AccessToken" as const,
    message: { serviceId: token.serviceId, consumer: token.consumer, expiry, nonce: token.nonce },
  };
}

/** 32 random bytes as lowercase hex. */
export function randomNonce(): Hex {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `0x${Buffer.from(bytes).toString("hex")}`;
}

export interface SignAccessTokenParameters {
  /** The consumer's key. */
  account: Pick<LocalAccount, "address" | "signTypedData">;
  domain: AccessDomain;
  serviceId: bigint;
  /** Node address of the provider the token is for (a v 2 token); absent: any provider (v 1). */
  provider?: Address | undefined;
  /** Unix seconds. */
  expiry: number;
  /** @default {@link randomNonce}() */
  nonce?: Hex | undefined;
  proof?: readonly Hex[] | undefined;
}

/**
 * Sign a token for one request (for one attempt at one provider when `provider` is given).
 * @example
 * const token = await signAccessToken({ account, domain: { chainId: 31337, registry }, serviceId: 2n, provider, expiry: now + 60 });
 * headers["dsmp-access"] = encodeAccessToken(token);
 */
export async function signAccessToken(parameters: SignAccessTokenParameters): Promise<AccessToken> {
  const unsigned = {
    chainId: parameters.domain.chainId,
    registry: parameters.domain.registry.toLowerCase() as Address,
    serviceId: parameters.serviceId,
    consumer: parameters.account.address.toLowerCase() as Address,
    ...(parameters.provider === undefined ? {} : { provider: parameters.provider.toLowerCase() as Address }),
    expiry: parameters.expiry,
    nonce: (parameters.nonce ?? randomNonce()).toLowerCase() as Hex,
  };
  const signature = await parameters.account.signTypedData(accessTokenTypedData(unsigned));
  return { ...unsigned, proof: (parameters.proof ?? []).map((p) => p.toLowerCase() as Hex), signature: signature.toLowerCase() as Hex };
}

/** The token as the `dsmp-access` header value: base64url (no padding) of its JSON (docs/protocol.md §8.3). */
export function encodeAccessToken(token: AccessToken): string {
  const wire = {
    v: token.provider === undefined ? ACCESS_TOKEN_WIRE_VERSION : PROVIDER_ACCESS_TOKEN_WIRE_VERSION,
    chainId: token.chainId,
    registry: token.registry,
    serviceId: token.serviceId.toString(),
    consumer: token.consumer,
    ...(token.provider === undefined ? {} : { provider: token.provider }),
    expiry: token.expiry,
    nonce: token.nonce,
    ...(token.proof.length > 0 ? { proof: token.proof } : {}),
    signature: token.signature,
  };
  return Buffer.from(JSON.stringify(wire), "utf8").toString("base64url");
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Decode a `dsmp-access` header value. Checks form only (no signature, time or chain checks).
 * @throws {AccessDeniedError} `token-too-large` or `token-malformed`.
 */
export function decodeAccessToken(text: string): AccessToken {
  if (text.length > MAX_ACCESS_HEADER_LENGTH) {
    throw new AccessDeniedError("token-too-large", `${text.length} characters, at most ${MAX_ACCESS_HEADER_LENGTH}`);
  }
  if (!BASE64URL.test(text)) throw new AccessDeniedError("token-malformed", "not base64url (A–Z a–z 0–9 - _, no padding)");
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(text, "base64url")));
  } catch (cause) {
    throw new AccessDeniedError("token-malformed", "not UTF-8 JSON", { cause });
  }
  const parsed = WireTokenSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new AccessDeniedError("token-malformed", issues);
  }
  const w = parsed.data;
  return {
    chainId: w.chainId,
    registry: w.registry as Address,
    serviceId: BigInt(w.serviceId),
    consumer: w.consumer as Address,
    ...(w.v === PROVIDER_ACCESS_TOKEN_WIRE_VERSION ? { provider: w.provider as Address } : {}),
    expiry: w.expiry,
    nonce: w.nonce as Hex,
    proof: (w.proof ?? []) as Hex[],
    signature: w.signature as Hex,
  };
}

/**
 * The address that signed the token (lowercase). Refuses r or s out of range and high-s (malleable)
 * signatures, so one signed token has exactly one encoding.
 * @throws {AccessDeniedError} `bad-signature`.
 */
export async function recoverAccessTokenSigner(token: AccessToken): Promise<Address> {
  const r = hexToBigInt(`0x${token.signature.slice(2, 66)}`);
  const s = hexToBigInt(`0x${token.signature.slice(66, 130)}`);
  if (r === 0n || r >= SECP256K1_ORDER || s === 0n || s > SECP256K1_ORDER / 2n) {
    throw new AccessDeniedError("bad-signature", "r or s out of range (s must be in the lower half of the order)");
  }
  // v is 27 or 28, as UsageEscrow's ECDSA check (OpenZeppelin) requires: a token signed with v 0 or 1 would be
  // served here and then refused on-chain when the provider claims it.
  const v = Number.parseInt(token.signature.slice(130, 132), 16);
  if (v !== 27 && v !== 28) throw new AccessDeniedError("bad-signature", `v must be 27 or 28 (got ${v})`);
  try {
    const signer = await recoverAddress({ hash: hashTypedData(accessTokenTypedData(token)), signature: token.signature });
    return signer.toLowerCase() as Address;
  } catch (cause) {
    throw new AccessDeniedError("bad-signature", "no public key recovers from the signature", { cause });
  }
}

/** `address` checksummed for messages. */
export function displayAddress(address: string): string {
  return isAddress(address, { strict: false }) ? getAddress(address) : address;
}
