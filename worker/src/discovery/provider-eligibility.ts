/**
 * Which DHT providers a resolver may return: anyone can announce itself as a provider and sign a valid
 * record with a fresh key, so the resolver keeps only providers the chain says may serve — a registered
 * Xnode, active (not jailed or retired), whose operator's bonded stake covers what is locked and the
 * service's minimum provider stake.
 *
 * The resolver asks the predicate *before* it fetches a provider's record (a provider's node address
 * follows from its PeerId, both being views of one key — docs/protocol.md §1), so announcing junk
 * providers costs the resolver no record lookups.
 */
import { ECDH } from "node:crypto";
import { bytesToHex, type Address, type Hex } from "viem";
import { isServingNode, nodeOfPeer, type DsmpState } from "../chain/dsmp-state.ts";
import { addressFromPublicKey, PEER_ID_LENGTH, PEER_ID_PREFIX } from "../identity/node-identity.ts";

/** A provider as the resolver sees it before fetching its record. */
export interface ProviderCandidate {
  serviceId: bigint;
  /** The 39 PeerId bytes (identity multihash of the secp256k1 key), as the registry stores them. */
  peerId: Uint8Array;
  /** The node address of the same key. */
  node: Address;
}

/** `true` when the candidate may serve the service. Called once per provider per lookup: keep it cheap. */
export type ProviderEligibility = (candidate: ProviderCandidate) => boolean;

/**
 * The node address behind PeerId bytes, or `undefined` when they are not a secp256k1 PeerId
 * (`0x00 0x25 0x08 0x02 0x12 0x21 ‖ compressed key`) or the key is not on the curve.
 */
export function nodeAddressOfPeerId(peerId: Uint8Array): Address | undefined {
  if (peerId.length !== PEER_ID_LENGTH || !PEER_ID_PREFIX.every((byte, i) => peerId[i] === byte)) return undefined;
  try {
    const uncompressed = ECDH.convertKey(peerId.subarray(PEER_ID_PREFIX.length), "secp256k1", undefined, undefined, "uncompressed");
    return addressFromPublicKey(new Uint8Array(uncompressed as Buffer));
  } catch {
    return undefined;
  }
}

/** A fixed set of node addresses (any case): a devnet without a chain view, and tests. */
export function allowListEligibility(nodes: Iterable<Address>): ProviderEligibility {
  const allowed = new Set([...nodes].map((node) => node.toLowerCase()));
  return (candidate) => allowed.has(candidate.node.toLowerCase());
}

/** Anything holding the folded DSMP state, e.g. a running `ChainIndexer<DsmpState>`; read on every call. */
export interface DsmpStateView {
  readonly state: DsmpState;
}

/**
 * Eligibility from the chain view: the PeerId belongs to a registered, non-retired node whose address is
 * the candidate's, {@link isServingNode} holds for it with the service's `minProviderStake` (0 when the
 * service is not in the view), and the service is not retired.
 * @example
 * const resolver = createServiceResolver({ chainId, registry, eligibility: chainViewEligibility(indexer) })(components);
 */
export function chainViewEligibility(view: DsmpStateView): ProviderEligibility {
  return (candidate) => {
    const state = view.state;
    const node = nodeOfPeer(state, bytesToHex(candidate.peerId) as Hex);
    if (node === undefined || node.node !== candidate.node.toLowerCase()) return false;
    const service = state.services.get(candidate.serviceId);
    if (service?.status === "retired") return false;
    return isServingNode(state, node.node, service?.minProviderStake ?? 0n);
  };
}
