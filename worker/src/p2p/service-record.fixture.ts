/** Test fixtures for service records: fixed node keys and a record builder. Not imported by production code. */
import { hexToBytes, type Address } from "viem";
import { identityFromPrivateKey, type NodeIdentity } from "../identity/node-identity.ts";
import { signServiceRecord, type ServiceRecord, type SignedServiceRecord } from "./service-record.ts";

/** Hardhat / Anvil accounts #0 and #1 (published keys). */
export const NODE_A: NodeIdentity = identityFromPrivateKey(
  hexToBytes("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"),
);
export const NODE_B: NodeIdentity = identityFromPrivateKey(
  hexToBytes("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
);
/** The address Hardhat gives the first contract deployed by account #0 (nonce 0). */
export const REGISTRY: Address = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
export const CHAIN_ID = 31337;
/** 2026-01-01T00:00:00Z: a fixed "now" for the fixtures. */
export const NOW = 1_767_225_600;

/** An unsigned record of `node` for service 1, expiring an hour after {@link NOW}. */
export function recordOf(node: NodeIdentity, overrides: Partial<ServiceRecord> = {}): ServiceRecord {
  return {
    chainId: CHAIN_ID,
    registry: REGISTRY,
    serviceId: 1n,
    node: node.address,
    peerId: node.peerId.toString(),
    multiaddrs: ["/ip4/127.0.0.1/tcp/4660", "/ip4/127.0.0.1/tcp/4661/ws"],
    version: "1.0.0",
    load: 2500,
    pricePerCall: 1_000_000_000_000_000n,
    seq: 1n,
    expiresAt: NOW + 3600,
    ...overrides,
  };
}

export function signedRecordOf(node: NodeIdentity, overrides: Partial<ServiceRecord> = {}): Promise<SignedServiceRecord> {
  return signServiceRecord(recordOf(node, overrides), node.account);
}
