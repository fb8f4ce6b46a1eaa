import { abis } from "@dsmp/contracts";
import type { Hex } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { enumIndex, SERVICE_KINDS, SERVICE_VISIBILITIES, type ServiceKindName, type ServiceVisibilityName } from "../contract-enums.ts";
import { findEvent, sendTransaction } from "../transactions.ts";

/** Prices in the token's smallest unit; zero disables that way of paying (IServiceRegistry.Pricing). */
export interface ServicePricing {
  /** Advertised for per-call metering (not charged on-chain yet). */
  perCall: bigint;
  /** Price of one period of a recurring subscription. */
  perPeriod: bigint;
  /** Length of a period in seconds (required when `perPeriod` > 0). */
  periodSeconds: bigint;
  /** Price of one-time access. */
  oneTime: bigint;
  /** Seconds of access one-time payment buys (required when `oneTime` > 0). */
  oneTimeDuration: bigint;
}

/** Everything an owner chooses when publishing or updating a service (IServiceRegistry.ServiceParams). */
export interface ServiceDefinition {
  /** 1..64 bytes, unique among the owner's live services. */
  name: string;
  kind: ServiceKindName;
  visibility: ServiceVisibilityName;
  pricing: ServicePricing;
  /** Content hash of the service manifest (what operators run). */
  manifestHash: Hex;
  minReplicas: number;
  maxReplicas: number;
  /** Stake a provider needs to serve it. */
  minProviderStake: bigint;
  metadataURI: string;
}

/** A definition in the shape the ServiceRegistry ABI takes. */
export function toServiceParams(definition: ServiceDefinition) {
  return {
    name: definition.name,
    kind: enumIndex(SERVICE_KINDS, definition.kind),
    visibility: enumIndex(SERVICE_VISIBILITIES, definition.visibility),
    pricing: { ...definition.pricing },
    manifestHash: definition.manifestHash,
    minReplicas: definition.minReplicas,
    maxReplicas: definition.maxReplicas,
    minProviderStake: definition.minProviderStake,
    metadataURI: definition.metadataURI,
  };
}

export interface PublishServiceParameters {
  service: ServiceDefinition;
  signal?: AbortSignal | undefined;
}

export interface PublishServiceReturnType {
  hash: Hex;
  txHashes: Hex[];
  /** The new service id (sequential from 1). */
  serviceId: bigint;
}

export type PublishServiceErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

/**
 * Publish a service owned by the client's account (ServiceRegistry.publish).
 * @throws {ChainRevertError} `ServiceRegistryDuplicateName`, `ServiceRegistryInvalidPeriod`, `ServiceRegistryInvalidReplicas`, …
 * @example
 * const { serviceId } = await publishService(client, {
 *   service: {
 *     name: "weather", kind: "http", visibility: "public",
 *     pricing: { perCall: 0n, perPeriod: parseEther("5"), periodSeconds: 2_592_000n, oneTime: 0n, oneTimeDuration: 0n },
 *     manifestHash: zeroHash, minReplicas: 1, maxReplicas: 3, minProviderStake: 0n, metadataURI: "",
 *   },
 * });
 */
export async function publishService(client: DsmpChainClient, parameters: PublishServiceParameters): Promise<PublishServiceReturnType> {
  const registry = client.contracts.serviceRegistry;
  const { hash, receipt } = await sendTransaction(
    client,
    "service publish",
    (wallet) =>
      wallet.writeContract({ address: registry, abi: abis.ServiceRegistry, functionName: "publish", args: [toServiceParams(parameters.service)] }),
    { signal: parameters.signal },
  );
  const event = findEvent(receipt, abis.ServiceRegistry, "ServicePublished", registry);
  return { hash, txHashes: [hash], serviceId: event.args.serviceId };
}
