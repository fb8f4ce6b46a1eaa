import type { Address } from "viem";
import { DeploymentInvalidError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";

/**
 * The client's UsageEscrow (per-call settlement).
 * @throws {DeploymentInvalidError} when the deployment predates it.
 */
export function requireUsageEscrow(client: DsmpChainClient): Address {
  const address = client.contracts.usageEscrow;
  if (address === undefined) {
    throw new DeploymentInvalidError("(chain client)", "it has no UsageEscrow (per-call settlement): redeploy with `npm run deploy`");
  }
  return address;
}
