/**
 * DHT keys of a Service Mesh Worker (docs/protocol.md §4):
 * - provider key: CIDv1, raw codec, sha2-256 of the UTF-8 string `dsmp/service/<chainId>/<registry>/<serviceId>`.
 *   Providers of a service announce themselves under it (`contentRouting.provide`).
 * - record key: the UTF-8 bytes `/dsmp/service/<chainId>/<registry>/<serviceId>/<peerId>`, one per provider,
 *   holding that provider's signed service record. kad-dht picks a key's validator and selector by its
 *   first path segment, {@link DSMP_DHT_NAMESPACE}.
 *
 * `chainId` and `serviceId` are decimal without leading zeros, `registry` is lowercase 0x-hex, `peerId` is
 * the base58btc PeerId string.
 */
import { createHash } from "node:crypto";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import * as Digest from "multiformats/hashes/digest";
import { type Address, isAddress } from "viem";

/** Namespace of DSMP DHT records: the key for kad-dht's `validators` and `selectors` maps. */
export const DSMP_DHT_NAMESPACE = "dsmp";
/** Kind segment of service keys (leaves room for other record kinds under the same namespace). */
export const SERVICE_KEY_KIND = "service";
/** Multihash code of sha2-256. */
const SHA2_256 = 0x12;
const UINT256_MAX = 2n ** 256n - 1n;
const BASE58BTC = /^[1-9A-HJ-NP-Za-km-z]+$/;

/** Which service, in which deployment. */
export interface ServiceLocator {
  chainId: number;
  /** ServiceRegistry address (any case; keys use lowercase). */
  registry: Address;
  serviceId: bigint;
}

export interface ServiceRecordKeyParts extends ServiceLocator {
  /** base58btc PeerId of the provider. */
  peerId: string;
}

/** `dsmp/service/<chainId>/<registry lowercase>/<serviceId>`: the string hashed into the provider key. */
export function serviceKeyString(locator: ServiceLocator): string {
  assertLocator(locator);
  return `${DSMP_DHT_NAMESPACE}/${SERVICE_KEY_KIND}/${locator.chainId}/${locator.registry.toLowerCase()}/${locator.serviceId}`;
}

/** The CID providers of the service announce: CIDv1, raw codec (0x55), sha2-256 of {@link serviceKeyString}. */
export function serviceProviderCid(locator: ServiceLocator): CID {
  const digest = createHash("sha256").update(serviceKeyString(locator), "utf8").digest();
  return CID.createV1(raw.code, Digest.create(SHA2_256, new Uint8Array(digest)));
}

/** `/dsmp/service/<chainId>/<registry>/<serviceId>/<peerId>` as UTF-8 bytes: where a provider's record lives. */
export function serviceRecordKey(parts: ServiceRecordKeyParts): Uint8Array {
  if (!BASE58BTC.test(parts.peerId)) throw new RangeError(`not a base58btc PeerId: ${parts.peerId}`);
  return new TextEncoder().encode(`/${serviceKeyString(parts)}/${parts.peerId}`);
}

/** The parts of a service record key, or `undefined` when `key` is not one (in canonical form). */
export function parseServiceRecordKey(key: Uint8Array): ServiceRecordKeyParts | undefined {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(key);
  } catch {
    return undefined;
  }
  const match = /^\/dsmp\/service\/([1-9][0-9]{0,15})\/(0x[0-9a-f]{40})\/(0|[1-9][0-9]{0,77})\/([1-9A-HJ-NP-Za-km-z]+)$/.exec(text);
  if (match === null) return undefined;
  const [, chainId, registry, serviceId, peerId] = match as unknown as [string, string, Address, string, string];
  const parts = { chainId: Number(chainId), registry, serviceId: BigInt(serviceId), peerId };
  if (!Number.isSafeInteger(parts.chainId) || parts.serviceId > UINT256_MAX) return undefined;
  return parts;
}

function assertLocator(locator: ServiceLocator): void {
  if (!Number.isSafeInteger(locator.chainId) || locator.chainId <= 0) {
    throw new RangeError(`chainId must be a positive safe integer, got ${locator.chainId}`);
  }
  if (!isAddress(locator.registry, { strict: false })) throw new RangeError(`not an address: ${locator.registry}`);
  if (locator.serviceId < 0n || locator.serviceId > UINT256_MAX) {
    throw new RangeError(`serviceId must be a uint256, got ${locator.serviceId}`);
  }
}
