import { abis } from "@dsmp/contracts";
import type { ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { readChain } from "../transactions.ts";
import { getService, type ServiceRecord } from "./get-service.ts";

/** Services read at once: enough to be quick, few enough not to trip an RPC provider's rate limit. */
export const LIST_SERVICES_CONCURRENCY = 16;

export interface ListServicesParameters {
  /** Include retired services. @default true */
  includeRetired?: boolean | undefined;
}

/** Services in id order. */
export type ListServicesReturnType = ServiceRecord[];
export type ListServicesErrorType = ChainUnreachableError | InterruptedError;

/**
 * Every published service: ServiceRegistry.serviceCount, then getService for ids 1..count.
 * @example
 * const active = await listServices(client, { includeRetired: false });
 */
export async function listServices(client: DsmpChainClient, parameters: ListServicesParameters = {}): Promise<ListServicesReturnType> {
  const count = await readChain(client, (pub) =>
    pub.readContract({ address: client.contracts.serviceRegistry, abi: abis.ServiceRegistry, functionName: "serviceCount" }),
  );
  const services: ServiceRecord[] = [];
  for (let start = 1n; start <= count; start += BigInt(LIST_SERVICES_CONCURRENCY)) {
    const ids: bigint[] = [];
    for (let id = start; id <= count && id < start + BigInt(LIST_SERVICES_CONCURRENCY); id++) ids.push(id);
    services.push(...(await Promise.all(ids.map((serviceId) => getService(client, { serviceId })))));
  }
  return parameters.includeRetired === false ? services.filter((service) => service.status !== "retired") : services;
}
