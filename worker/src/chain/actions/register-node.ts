import { abis } from "@dsmp/contracts";
import { bytesToHex, type Address, type Hex, type LocalAccount } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { findEvent, readChain, requireWallet, sendTransaction } from "../transactions.ts";

/** EIP-712 domain name and version of XnodeRegistry's proof of possession. */
export const NODE_REGISTRATION_DOMAIN = { name: "DSMP XnodeRegistry", version: "1" } as const;

/** EIP-712 types of the proof of possession the node key signs. */
export const NODE_REGISTRATION_TYPES = {
  NodeRegistration: [
    { name: "operator", type: "address" },
    { name: "node", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

/**
 * How long a proof of possession stays valid after the latest block: one hour covers a slow inclusion on a
 * busy chain, and a leaked proof is useless soon after (it also only registers the node for this operator).
 */
export const REGISTRATION_PROOF_LIFETIME_SECONDS = 3_600n;

/** What a node advertises (IXnodeRegistry.Resources); cpu and memory must be non-zero. */
export interface NodeResources {
  cpuMillicores: number;
  memoryMiB: number;
  storageGiB: number;
  gpus: number;
}

/** The node key, as `loadKeystore(path).identity` provides it. */
export interface NodeKey {
  account: LocalAccount;
  /** 64 bytes X || Y, no 0x04 prefix. */
  nodePublicKey64(): Uint8Array;
}

export interface RegisterNodeParameters {
  node: NodeKey;
  resources: NodeResources;
  /** Capacity slots (≥ 1). */
  slots: number;
  /** Free-form operator metadata (region, contact, …). @default "" */
  metadataURI?: string | undefined;
  /** Last timestamp the proof is accepted. @default latest block + {@link REGISTRATION_PROOF_LIFETIME_SECONDS} */
  deadline?: bigint | undefined;
  signal?: AbortSignal | undefined;
}

export interface RegisterNodeReturnType {
  hash: Hex;
  txHashes: Hex[];
  /** The node address (its id on-chain). */
  node: Address;
  /** The 39 libp2p PeerId bytes the registry derived. */
  peerId: Hex;
  /** Stake locked as the node's bond. */
  bond: bigint;
}

export type RegisterNodeErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

export interface SignNodeRegistrationParameters {
  node: NodeKey;
  operator: Address;
  nonce: bigint;
  deadline: bigint;
  chainId: number;
  registry: Address;
}

/**
 * The EIP-712 `NodeRegistration(operator, node, nonce, deadline)` signature by the node key: proof that the
 * operator holds the node key it registers. Domain "DSMP XnodeRegistry" / "1" binds chain id and registry.
 * @example
 * const signature = await signNodeRegistration({ node: identity, operator, nonce: 0n, deadline, chainId: 31337, registry });
 */
export function signNodeRegistration(parameters: SignNodeRegistrationParameters): Promise<Hex> {
  const signTypedData = parameters.node.account.signTypedData;
  if (signTypedData === undefined) throw new TypeError("the node account cannot sign typed data");
  return signTypedData({
    domain: { ...NODE_REGISTRATION_DOMAIN, chainId: parameters.chainId, verifyingContract: parameters.registry },
    types: NODE_REGISTRATION_TYPES,
    primaryType: "NodeRegistration",
    message: {
      operator: parameters.operator,
      node: parameters.node.account.address,
      nonce: parameters.nonce,
      deadline: parameters.deadline,
    },
  });
}

/**
 * Register a node under the client's account (the operator): sign the proof of possession with the node key,
 * then send XnodeRegistry.register, which locks `minNodeStake` of the operator's free stake as the bond.
 * @throws {ChainRevertError} `XnodeRegistryInsufficientStake`, `XnodeRegistryNodeAlreadyRegistered`,
 *   `XnodeRegistryInvalidResources`, `XnodeRegistryInvalidSlots`, …
 * @example
 * const { identity } = await loadKeystore("~/.dsmp/node-key.json");
 * const { node, bond } = await registerNode(client, {
 *   node: identity,
 *   resources: { cpuMillicores: 4000, memoryMiB: 8192, storageGiB: 100, gpus: 0 },
 *   slots: 4,
 * });
 */
export async function registerNode(client: DsmpChainClient, parameters: RegisterNodeParameters): Promise<RegisterNodeReturnType> {
  const operator = requireWallet(client, "node register").account.address;
  const registry = client.contracts.xnodeRegistry;
  const nodeAddress = parameters.node.account.address;
  const [nonce, deadline] = await readChain(client, async (pub) => [
    await pub.readContract({ address: registry, abi: abis.XnodeRegistry, functionName: "nonces", args: [nodeAddress] }),
    parameters.deadline ?? (await pub.getBlock()).timestamp + REGISTRATION_PROOF_LIFETIME_SECONDS,
  ]);
  const signature = await signNodeRegistration({ node: parameters.node, operator, nonce, deadline, chainId: client.chainId, registry });
  const { resources } = parameters;
  const { hash, receipt } = await sendTransaction(
    client,
    "node register",
    (wallet) =>
      wallet.writeContract({
        address: registry,
        abi: abis.XnodeRegistry,
        functionName: "register",
        args: [
          bytesToHex(parameters.node.nodePublicKey64()),
          { cpuMillicores: resources.cpuMillicores, memoryMiB: resources.memoryMiB, storageGiB: resources.storageGiB, gpus: resources.gpus },
          parameters.slots,
          parameters.metadataURI ?? "",
          deadline,
          signature,
        ],
      }),
    { signal: parameters.signal },
  );
  const event = findEvent(receipt, abis.XnodeRegistry, "NodeRegistered", registry);
  return { hash, txHashes: [hash], node: event.args.node, peerId: event.args.peerId, bond: event.args.bond };
}
