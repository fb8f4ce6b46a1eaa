/**
 * From global options to a connected chain client: the signing account from --key / DSMP_PRIVATE_KEY, the
 * deployment file from --deployment / DSMP_DEPLOYMENT or `deployments/<chainId>.json` of this repository.
 */
import { join } from "node:path";
import { privateKeyToAccount } from "viem/accounts";
import { createDsmpChainClient, fetchChainId, type DsmpChainClient } from "../chain/chain-client.ts";
import { readDeploymentFile } from "../chain/deployment-file.ts";
import { CliUsageError } from "../errors.ts";
import type { GlobalOptions } from "./command-spec.ts";
import { CLI_ENV } from "./global-options.ts";

/** `deployments/` at the root of this repository (worker/src/cli → ../../../deployments). */
export const REPOSITORY_DEPLOYMENTS_DIR = new URL("../../../deployments/", import.meta.url).pathname;

export interface ConnectChainOptions {
  /** The command sends transactions: a missing key is a usage error. */
  signs: boolean;
  /** Aborts every RPC request (the CLI's first SIGINT). */
  signal?: AbortSignal | undefined;
}

/**
 * Connect to the chain the options describe.
 * @throws {CliUsageError} when the command signs and no key was given.
 * @throws {ChainUnreachableError | ChainMismatchError | DeploymentNotFoundError | DeploymentInvalidError}
 */
export async function connectChain(options: GlobalOptions, connect: ConnectChainOptions): Promise<DsmpChainClient> {
  if (connect.signs && options.privateKey === undefined) {
    throw new CliUsageError(`this command signs a transaction: pass --key <hex> or set ${CLI_ENV.privateKey}`);
  }
  const deploymentFile = options.deployment ?? join(REPOSITORY_DEPLOYMENTS_DIR, `${await fetchChainId(options.rpcUrl, { signal: connect.signal })}.json`);
  const deployment = await readDeploymentFile(deploymentFile);
  return createDsmpChainClient({
    rpcUrl: options.rpcUrl,
    deployment,
    deploymentSource: deploymentFile,
    account: options.privateKey === undefined ? undefined : privateKeyToAccount(options.privateKey),
    signal: connect.signal,
  });
}

/** The signing account's address of a connected client (connectChain with `signs: true` guarantees one). */
export function signerAddress(client: DsmpChainClient): `0x${string}` {
  const address = client.wallet?.account.address;
  if (address === undefined) throw new CliUsageError(`no signing account: pass --key <hex> or set ${CLI_ENV.privateKey}`);
  return address;
}
