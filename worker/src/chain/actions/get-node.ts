import { abis } from "@dsmp/contracts";
import type { Address, Hex } from "viem";
import type { ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { enumName, NODE_STATUSES, type NodeStatusName } from "../contract-enums.ts";
import { readChain } from "../transactions.ts";
import type { NodeResources } from "./register-node.ts";

export interface GetNodeParameters {
  node: Address;
}

/** A node as the registry stores it (IXnodeRegistry.Node), enums as names. */
export interface NodeRecord {
  node: Address;
  /** Zero address when never registered. */
  operator: Address;
  status: NodeStatusName | `unknown(${number})`;
  slots: number;
  /** Unix seconds of the latest registration. */
  registeredAt: bigint;
  /** Stake locked for it (0 once retired). */
  bond: bigint;
  resources: NodeResources;
  /** libp2p PeerId bytes (39). */
  peerId: Hex;
  metadataURI: string;
  /** End of the jail term (0 when not jailed). */
  jailedUntil: bigint;
}

export type GetNodeReturnType = NodeRecord;
export type GetNodeErrorType = ChainUnreachableError | InterruptedError;

/**
 * The registry's record of `node` (status `none` if it was never registered).
 * @example
 * const { status, operator } = await getNode(client, { node: "0x…" });
 */
export async function getNode(client: DsmpChainClient, parameters: GetNodeParameters): Promise<GetNodeReturnType> {
  const registry = { address: client.contracts.xnodeRegistry, abi: abis.XnodeRegistry } as const;
  const [record, jailedUntil] = await readChain(client, (pub) =>
    Promise.all([
      pub.readContract({ ...registry, functionName: "getNode", args: [parameters.node] }),
      pub.readContract({ ...registry, functionName: "jailedUntil", args: [parameters.node] }),
    ]),
  );
  return {
    node: parameters.node,
    operator: record.operator,
    status: enumName(NODE_STATUSES, record.status),
    slots: record.slots,
    registeredAt: BigInt(record.registeredAt),
    bond: record.bond,
    resources: { ...record.resources },
    peerId: record.peerId,
    metadataURI: record.metadataURI,
    jailedUntil: BigInt(jailedUntil),
  };
}
