import { abis } from "@dsmp/contracts";
import type { Address, Hex } from "viem";
import type { ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import {
  enumName,
  SERVICE_KINDS,
  SERVICE_STATUSES,
  SERVICE_VISIBILITIES,
  type ServiceKindName,
  type ServiceStatusName,
  type ServiceVisibilityName,
} from "../contract-enums.ts";
import { readChain } from "../transactions.ts";
import type { ServiceDefinition } from "./publish-service.ts";

export interface GetServiceParameters {
  serviceId: bigint;
}

/** A service as the registry stores it (IServiceRegistry.Service), enums as names. */
export interface ServiceRecord extends ServiceDefinition {
  id: bigint;
  owner: Address;
  status: ServiceStatusName;
  /** Unix seconds. */
  publishedAt: bigint;
  /** Unix seconds; 0 while active. */
  retiredAt: bigint;
  /** Merkle root of the allow-list (zero when proofs are off). */
  allowlistRoot: Hex;
}

export type GetServiceReturnType = ServiceRecord;
export type GetServiceErrorType = ChainRevertError | ChainUnreachableError | InterruptedError;

type StoredService = Awaited<ReturnType<typeof readService>>;

function readService(client: DsmpChainClient, serviceId: bigint) {
  return readChain(client, (pub) =>
    pub.readContract({ address: client.contracts.serviceRegistry, abi: abis.ServiceRegistry, functionName: "getService", args: [serviceId] }),
  );
}

/** A stored service in the record shape (enum indexes to names, a value a newer contract added passes as-is). */
export function toServiceRecord(id: bigint, stored: StoredService): ServiceRecord {
  return {
    id,
    owner: stored.owner,
    status: enumName(SERVICE_STATUSES, stored.status) as ServiceStatusName,
    name: stored.name,
    kind: enumName(SERVICE_KINDS, stored.kind) as ServiceKindName,
    visibility: enumName(SERVICE_VISIBILITIES, stored.visibility) as ServiceVisibilityName,
    pricing: { ...stored.pricing },
    manifestHash: stored.manifestHash,
    minReplicas: stored.minReplicas,
    maxReplicas: stored.maxReplicas,
    minProviderStake: stored.minProviderStake,
    metadataURI: stored.metadataURI,
    publishedAt: stored.publishedAt,
    retiredAt: stored.retiredAt,
    allowlistRoot: stored.allowlistRoot,
  };
}

/**
 * One service by id (ServiceRegistry.getService).
 * @throws {ChainRevertError} `ServiceRegistryUnknownService` for an id never published.
 * @example
 * const { name, pricing } = await getService(client, { serviceId: 1n });
 */
export async function getService(client: DsmpChainClient, parameters: GetServiceParameters): Promise<GetServiceReturnType> {
  return toServiceRecord(parameters.serviceId, await readService(client, parameters.serviceId));
}
