/**
 * Merkle allow-list membership as `ServiceRegistry.isAllowed` checks it: OpenZeppelin StandardMerkleTree
 * leaves `keccak256(bytes.concat(keccak256(abi.encode(consumer))))`, inner nodes `keccak256` of the sorted
 * pair (OpenZeppelin `MerkleProof`). Pure; hashing is viem's.
 */
import { concat, encodeAbiParameters, keccak256, type Address, type Hex } from "viem";

/** The tree leaf of `consumer`. */
export function allowlistLeaf(consumer: Address): Hex {
  return keccak256(keccak256(encodeAbiParameters([{ type: "address" }], [consumer])));
}

/** Parent of two nodes: `keccak256` of the pair in ascending order. */
export function hashPair(a: Hex, b: Hex): Hex {
  return BigInt(a) < BigInt(b) ? keccak256(concat([a, b])) : keccak256(concat([b, a]));
}

/** Whether `proof` leads from `consumer`'s leaf to `root`. A zero root admits nobody. */
export function verifyAllowlistProof(root: Hex, consumer: Address, proof: readonly Hex[]): boolean {
  if (BigInt(root) === 0n) return false;
  let node = allowlistLeaf(consumer);
  for (const sibling of proof) node = hashPair(node, sibling);
  return node.toLowerCase() === root.toLowerCase();
}
