import type { Address, Hex } from "viem";

/** One deployed contract in `deployments/<chainId>.json`. */
export interface DeployedContract {
  address: Address;
  /** Block in which the contract was created (indexers start here). */
  blockNumber: number;
  /** Creation transaction. */
  txHash: Hex;
  /** sha256 of the ABI JSON at deploy time: a changed hash means the ABI changed since deployment. */
  abiHash: Hex;
  /** sha256 of the creation bytecode at deploy time: a redeploy happens when this changes. */
  bytecodeHash: Hex;
  /** Constructor arguments, JSON-encoded (bigints as decimal strings). */
  args: unknown[];
}

/** The content of `deployments/<chainId>.json`, written by scripts/deploy.ts. */
export interface Deployment {
  chainId: number;
  deployer: Address;
  /** Receives the OPEN supply (local deployments) and protocol fees / slashed stake. */
  treasury: Address;
  contracts: Record<string, DeployedContract>;
}
