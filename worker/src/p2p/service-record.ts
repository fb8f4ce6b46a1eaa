/**
 * The signed service record: what a provider Xnode publishes in the DHT for each Service Mesh Worker it
 * serves — where to reach it, which version, how loaded, at what price — signed with the node key using
 * EIP-712, with a sequence number so the newest valid record wins. Specified in docs/protocol.md §3.
 *
 * Pure: time comes in as `now` (unix seconds); signing takes any viem account.
 */
import {
  type Address,
  type Hex,
  hashTypedData,
  hexToBigInt,
  hexToBytes,
  type LocalAccount,
  recoverPublicKey,
  type TypedDataDomain,
} from "viem";
import { z } from "zod";
import { RecordInvalidError } from "../errors.ts";
import { addressFromPublicKey, peerIdStringFromPublicKey, SECP256K1_ORDER } from "../identity/node-identity.ts";
import { serviceRecordKey } from "./dht-keys.ts";

/** Largest encoded record accepted (bytes), checked before parsing. */
export const SERVICE_RECORD_MAX_BYTES = 4096;
/**
 * Furthest ahead `expiresAt` may lie (seconds). A record's load and addresses go stale; a provider
 * republishes well before expiry (e.g. every 10 minutes with a 1 hour lifetime), and a record leaked
 * with a far expiry cannot outlive a day.
 */
export const SERVICE_RECORD_MAX_LIFETIME_SECONDS = 24 * 60 * 60;
/** `load` is in basis points of the provider's capacity for the service. */
export const MAX_LOAD_BPS = 10_000;
export const MAX_MULTIADDRS = 16;
export const MAX_MULTIADDR_LENGTH = 256;
export const MAX_VERSION_LENGTH = 64;
const UINT64_MAX = 2n ** 64n - 1n;
const UINT256_MAX = 2n ** 256n - 1n;

/** EIP-712 domain name and version; the domain also binds `chainId` and `verifyingContract` = the ServiceRegistry. */
export const SERVICE_RECORD_DOMAIN_NAME = "DSMP ServiceRecord";
export const SERVICE_RECORD_DOMAIN_VERSION = "1";

/**
 * EIP-712 types. `chainId` and `registry` are in the domain, not the struct. `multiaddrs` is a `string[]`:
 * encoded per EIP-712 as keccak256 of the concatenated keccak256 of each UTF-8 string.
 */
export const SERVICE_RECORD_EIP712_TYPES = {
  ServiceRecord: [
    { name: "serviceId", type: "uint256" },
    { name: "node", type: "address" },
    { name: "peerId", type: "string" },
    { name: "multiaddrs", type: "string[]" },
    { name: "version", type: "string" },
    { name: "load", type: "uint16" },
    { name: "pricePerCall", type: "uint256" },
    { name: "seq", type: "uint64" },
    { name: "expiresAt", type: "uint64" },
  ],
} as const;

/** A service record before signing. Addresses may be in any case; encoding lowercases them. */
export interface ServiceRecord {
  chainId: number;
  /** ServiceRegistry address: the EIP-712 verifying contract. */
  registry: Address;
  serviceId: bigint;
  /** The provider's node address (Ethereum address of its node key). */
  node: Address;
  /** The provider's PeerId, base58btc; must be the PeerId of the node key. */
  peerId: string;
  /** Where to dial the provider (without or with `/p2p/<peerId>`). */
  multiaddrs: readonly string[];
  /** Version of the service the provider runs (free text, e.g. semver). */
  version: string;
  /** Load in basis points, 0..10000. */
  load: number;
  /** Price per call in the token's smallest unit (informational; the chain's price governs payment). */
  pricePerCall: bigint;
  /** uint64; a provider increases it with every record it publishes for the service. */
  seq: bigint;
  /** Unix seconds after which the record is void. */
  expiresAt: number;
}

export interface SignedServiceRecord extends ServiceRecord {
  /** 65 bytes r || s || v, lowercase hex, v ∈ {27, 28}. */
  signature: Hex;
}

// ---------------------------------------------------------------------------------------------------------
// EIP-712

export function serviceRecordDomain(record: Pick<ServiceRecord, "chainId" | "registry">): TypedDataDomain {
  return {
    name: SERVICE_RECORD_DOMAIN_NAME,
    version: SERVICE_RECORD_DOMAIN_VERSION,
    chainId: record.chainId,
    verifyingContract: record.registry.toLowerCase() as Address,
  };
}

/** The EIP-712 typed data of a record, as viem's `signTypedData` / `hashTypedData` take it. */
export function serviceRecordTypedData(record: ServiceRecord) {
  return {
    domain: serviceRecordDomain(record),
    types: SERVICE_RECORD_EIP712_TYPES,
    primaryType: "ServiceRecord" as const,
    message: {
      serviceId: record.serviceId,
      node: record.node.toLowerCase() as Address,
      peerId: record.peerId,
      multiaddrs: [...record.multiaddrs],
      version: record.version,
      load: record.load,
      pricePerCall: record.pricePerCall,
      seq: record.seq,
      expiresAt: BigInt(record.expiresAt),
    },
  };
}

/** The EIP-712 digest the node key signs. */
export function hashServiceRecord(record: ServiceRecord): Hex {
  return hashTypedData(serviceRecordTypedData(record));
}

/**
 * Sign `record` with the node's account. Refuses a record it would not accept itself.
 * @throws {RecordInvalidError} `malformed` when a field is out of range, `wrong-signer` when
 *   `record.node` is not the signer's address.
 * @example
 * const signed = await signServiceRecord({ ...fields, node: identity.address, peerId: identity.peerId.toString() }, identity.account);
 * await dht.put(serviceRecordKey(signed), encodeServiceRecord(signed));
 */
export async function signServiceRecord(
  record: ServiceRecord,
  signer: Pick<LocalAccount, "address" | "signTypedData">,
): Promise<SignedServiceRecord> {
  if (signer.address.toLowerCase() !== record.node.toLowerCase()) {
    throw new RecordInvalidError("wrong-signer", `record.node is ${record.node} but the signer is ${signer.address}`);
  }
  const normalised: ServiceRecord = {
    ...record,
    registry: record.registry.toLowerCase() as Address,
    node: record.node.toLowerCase() as Address,
    multiaddrs: [...record.multiaddrs],
  };
  const placeholder = `0x${"00".repeat(64)}1b` as Hex;
  decodeServiceRecord(encodeServiceRecord({ ...normalised, signature: placeholder })); // field checks
  const signature = await signer.signTypedData(serviceRecordTypedData(normalised));
  return { ...normalised, signature: signature.toLowerCase() as Hex };
}

// ---------------------------------------------------------------------------------------------------------
// Wire encoding: UTF-8 JSON, fixed field order, no whitespace, nothing to escape

/**
 * Characters allowed in `version` and in multiaddrs: printable ASCII except `"` and `\`, so the JSON
 * encoding needs no escapes and each value has exactly one encoding.
 */
const PLAIN_CHARS = "\\x21\\x23-\\x5b\\x5d-\\x7e";
const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;
/** zod runs a refinement even after `.regex` failed, so the range check repeats the pattern test. */
const decimal = (max: bigint, what: string) =>
  z
    .string()
    .regex(DECIMAL, `${what} must be a decimal string without leading zeros`)
    .refine((value) => !DECIMAL.test(value) || BigInt(value) <= max, `${what} out of range`)
    .transform((value) => (DECIMAL.test(value) ? BigInt(value) : 0n));
const lowercaseAddress = z.string().regex(/^0x[0-9a-f]{40}$/, "expected a lowercase 0x-address").transform((a) => a as Address);

const WireSchema = z
  .object({
    chainId: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    registry: lowercaseAddress,
    serviceId: decimal(UINT256_MAX, "serviceId"),
    node: lowercaseAddress,
    peerId: z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{1,128}$/, "expected a base58btc PeerId"),
    multiaddrs: z
      .array(z.string().regex(new RegExp(`^/[${PLAIN_CHARS}]{0,${MAX_MULTIADDR_LENGTH - 1}}$`), "not a plain multiaddr string"))
      .max(MAX_MULTIADDRS),
    version: z.string().regex(new RegExp(`^[${PLAIN_CHARS}]{1,${MAX_VERSION_LENGTH}}$`), "version: 1–64 plain characters"),
    load: z.number().int().min(0).max(MAX_LOAD_BPS),
    pricePerCall: decimal(UINT256_MAX, "pricePerCall"),
    seq: decimal(UINT64_MAX, "seq"),
    expiresAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    signature: z.string().regex(/^0x[0-9a-f]{128}(1b|1c)$/, "expected 65 bytes lowercase hex with v = 1b or 1c").transform((s) => s as Hex),
  })
  .strict();

/** The wire bytes of a signed record: JSON, fields in this order, integers above 2^53 as decimal strings. */
export function encodeServiceRecord(record: SignedServiceRecord): Uint8Array {
  const ordered = {
    chainId: record.chainId,
    registry: record.registry.toLowerCase(),
    serviceId: record.serviceId.toString(),
    node: record.node.toLowerCase(),
    peerId: record.peerId,
    multiaddrs: record.multiaddrs,
    version: record.version,
    load: record.load,
    pricePerCall: record.pricePerCall.toString(),
    seq: record.seq.toString(),
    expiresAt: record.expiresAt,
    signature: record.signature.toLowerCase(),
  };
  return new TextEncoder().encode(JSON.stringify(ordered));
}

/**
 * Parse wire bytes strictly: size cap, UTF-8, JSON, every field present and in range, no extra field, and
 * the bytes must be exactly the canonical encoding. Checks no signature (see {@link validateServiceRecord}).
 * @throws {RecordInvalidError} `too-large` or `malformed`.
 */
export function decodeServiceRecord(bytes: Uint8Array): SignedServiceRecord {
  if (bytes.length > SERVICE_RECORD_MAX_BYTES) {
    throw new RecordInvalidError("too-large", `${bytes.length} bytes, at most ${SERVICE_RECORD_MAX_BYTES} allowed`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new RecordInvalidError("malformed", "not UTF-8 JSON", { cause });
  }
  const parsed = WireSchema.safeParse(json);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ");
    throw new RecordInvalidError("malformed", details, { cause: parsed.error });
  }
  const record: SignedServiceRecord = parsed.data;
  const canonical = encodeServiceRecord(record);
  if (!bytesEqual(canonical, bytes)) {
    throw new RecordInvalidError("malformed", "not the canonical encoding (field order, whitespace, number or string form)");
  }
  return record;
}

// ---------------------------------------------------------------------------------------------------------
// Validation

export interface ValidateServiceRecordOptions {
  /** Current time, unix seconds. */
  now: number;
  /** The DHT key the record was found under; it must be the record's own key. */
  expectedKey?: Uint8Array | undefined;
  /** Accept only records of this chain. */
  chainId?: number | undefined;
  /** Accept only records of this ServiceRegistry. */
  registry?: Address | undefined;
  /** @default {@link SERVICE_RECORD_MAX_LIFETIME_SECONDS} */
  maxLifetimeSeconds?: number | undefined;
}

/**
 * Decode and fully check a record, in the order of docs/protocol.md §3.5: size, syntax and canonical form,
 * deployment, DHT key, expiry, signature, signer = node, PeerId = signer's PeerId.
 * @throws {RecordInvalidError} with the first failing check's `reason`.
 */
export async function validateServiceRecord(bytes: Uint8Array, options: ValidateServiceRecordOptions): Promise<SignedServiceRecord> {
  const record = decodeServiceRecord(bytes);
  if (options.chainId !== undefined && record.chainId !== options.chainId) {
    throw new RecordInvalidError("wrong-chain", `record for chain ${record.chainId}, expected ${options.chainId}`);
  }
  if (options.registry !== undefined && record.registry !== options.registry.toLowerCase()) {
    throw new RecordInvalidError("wrong-chain", `record for registry ${record.registry}, expected ${options.registry.toLowerCase()}`);
  }
  if (options.expectedKey !== undefined && !bytesEqual(serviceRecordKey(record), options.expectedKey)) {
    throw new RecordInvalidError("wrong-key", "the record is stored under a key that is not its own");
  }
  if (record.expiresAt <= options.now) {
    throw new RecordInvalidError("expired", `expired at ${record.expiresAt}, now ${options.now}`);
  }
  const maxLifetime = options.maxLifetimeSeconds ?? SERVICE_RECORD_MAX_LIFETIME_SECONDS;
  if (record.expiresAt - options.now > maxLifetime) {
    throw new RecordInvalidError("expiry-too-far", `expires ${record.expiresAt - options.now} s from now, at most ${maxLifetime} allowed`);
  }
  const publicKey = await recoverSigner(record);
  const signer = addressFromPublicKey(publicKey);
  if (signer.toLowerCase() !== record.node) {
    throw new RecordInvalidError("wrong-signer", `signed by ${signer}, record.node is ${record.node}`);
  }
  const peerId = peerIdStringFromPublicKey(publicKey);
  if (peerId !== record.peerId) {
    throw new RecordInvalidError("wrong-peer-id", `the signing key's PeerId is ${peerId}, record.peerId is ${record.peerId}`);
  }
  return record;
}

/** Recover the uncompressed public key; refuses r or s out of range and high-s (malleable) signatures. */
async function recoverSigner(record: SignedServiceRecord): Promise<Uint8Array> {
  const r = hexToBigInt(`0x${record.signature.slice(2, 66)}`);
  const s = hexToBigInt(`0x${record.signature.slice(66, 130)}`);
  if (r === 0n || r >= SECP256K1_ORDER || s === 0n || s > SECP256K1_ORDER / 2n) {
    throw new RecordInvalidError("bad-signature", "r or s out of range (s must be in the lower half of the order)");
  }
  try {
    return hexToBytes(await recoverPublicKey({ hash: hashServiceRecord(record), signature: record.signature }));
  } catch (cause) {
    throw new RecordInvalidError("bad-signature", "no public key recovers from the signature", { cause });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Selection

/** A decoded record with the bytes it came from (selection breaks ties on the bytes). */
export interface ServiceRecordCandidate {
  record: SignedServiceRecord;
  bytes: Uint8Array;
}

/**
 * Total order on candidates: higher `seq`, then later `expiresAt`, then lexicographically greater bytes.
 * Positive when `a` is better than `b`.
 */
export function compareServiceRecordCandidates(a: ServiceRecordCandidate, b: ServiceRecordCandidate): number {
  if (a.record.seq !== b.record.seq) return a.record.seq > b.record.seq ? 1 : -1;
  if (a.record.expiresAt !== b.record.expiresAt) return a.record.expiresAt - b.record.expiresAt;
  return compareBytes(a.bytes, b.bytes);
}

/**
 * Index of the best candidate (the maximum of {@link compareServiceRecordCandidates}); the same record
 * whatever the input order. Candidates should be validated first.
 * @throws {RangeError} on an empty list.
 */
export function selectServiceRecord(candidates: readonly ServiceRecordCandidate[]): number {
  if (candidates.length === 0) throw new RangeError("no service records to select from");
  let best = 0;
  for (let i = 1; i < candidates.length; i++) {
    if (compareServiceRecordCandidates(candidates[i]!, candidates[best]!) > 0) best = i;
  }
  return best;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}
