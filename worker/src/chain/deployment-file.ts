/**
 * Reading `deployments/<chainId>.json` (written by scripts/deploy.ts): validated once at the boundary, so
 * the rest of the code trusts the addresses it holds.
 */
import { readFile } from "node:fs/promises";
import type { Deployment } from "@dsmp/contracts";
import { getAddress, isAddress, type Address } from "viem";
import { z } from "zod";
import { DeploymentInvalidError, DeploymentNotFoundError } from "../errors.ts";

/** Contracts a client of the DSMP chain needs; `LeaseEscrow` and later ones are optional. */
export const REQUIRED_DEPLOYED_CONTRACTS = ["OpenToken", "Staking", "XnodeRegistry", "ServiceRegistry", "Subscriptions"] as const;
export type RequiredContractName = (typeof REQUIRED_DEPLOYED_CONTRACTS)[number];

const address = z.string().refine((value) => isAddress(value, { strict: false }), { message: "not an address" });
const hex = z.string().regex(/^0x[0-9a-fA-F]*$/, "not 0x-hex");

const DeployedContractSchema = z
  .object({
    address,
    blockNumber: z.number().int().min(0),
    txHash: hex,
    abiHash: hex,
    bytecodeHash: hex,
    args: z.array(z.unknown()),
  })
  .passthrough();

const DeploymentSchema = z
  .object({
    chainId: z.number().int().positive(),
    deployer: address,
    treasury: address,
    contracts: z.record(DeployedContractSchema),
  })
  .passthrough();

/**
 * Parse the JSON text of a deployment file; `path` is named in errors.
 * @throws {DeploymentInvalidError} when it is not JSON, misses a field or lacks a {@link REQUIRED_DEPLOYED_CONTRACTS} entry.
 */
export function parseDeployment(text: string, path: string): Deployment {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new DeploymentInvalidError(path, `not JSON (${(cause as Error).message})`, { cause });
  }
  const result = DeploymentSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? "" : `${issue.path.join(".")}: `;
    throw new DeploymentInvalidError(path, `${where}${issue?.message ?? "does not validate"}`, { cause: result.error });
  }
  const missing = REQUIRED_DEPLOYED_CONTRACTS.filter((name) => result.data.contracts[name] === undefined);
  if (missing.length > 0) throw new DeploymentInvalidError(path, `no address for ${missing.join(", ")}`);
  return result.data as unknown as Deployment;
}

/**
 * Read and validate a deployment file.
 * @throws {DeploymentNotFoundError} when there is no file at `path`.
 * @throws {DeploymentInvalidError} see {@link parseDeployment}.
 * @example
 * const deployment = await readDeploymentFile("deployments/31337.json");
 */
export async function readDeploymentFile(path: string): Promise<Deployment> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") throw new DeploymentNotFoundError(path, { cause });
    throw new DeploymentInvalidError(path, `cannot read it (${(cause as NodeJS.ErrnoException).code ?? "error"})`, { cause });
  }
  return parseDeployment(text, path);
}

/** Checksummed address of a deployed contract, or `undefined` when the deployment does not list it. */
export function deployedAddress(deployment: Deployment, name: string): Address | undefined {
  const entry = deployment.contracts[name];
  return entry === undefined ? undefined : getAddress(entry.address);
}
