/**
 * Deploys the DSMP contracts to any EVM chain and wires their roles, idempotently:
 * a contract recorded in `deployments/<chainId>.json` whose code is on-chain and whose creation bytecode is
 * unchanged is reused; anything missing or changed is (re)deployed, and role grants are only sent when absent.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  keccak256,
  parseEther,
  toHex,
  type Abi,
  type Address,
  type Hex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { abis, type ContractName, type Deployment, type DeployedContract } from "../../contracts/index.ts";
import { toJson } from "../../worker/src/bigint-json.ts";
import bytecodeJson from "../../contracts/generated/bytecode.json" with { type: "json" };

const bytecodes = bytecodeJson as Record<string, { bytecode: Hex; bytecodeHash: Hex; abiHash: Hex }>;

export interface DeployParameters {
  rpcUrl: string;
  /** Deployer key: becomes the admin of every contract. */
  privateKey: Hex;
  /** Receives protocol fees and the treasury share of slashes; on local chains also the OPEN supply. */
  treasury?: Address;
  /** Existing OPEN token (real networks). When absent an OpenToken is deployed. */
  token?: Address;
  /** OPEN supply minted to the treasury when the token is deployed here. */
  tokenSupply?: bigint;
  /** Stake an operator bonds per registered Xnode. */
  minNodeStake?: bigint;
  /** Protocol fee on subscriptions, leases, tasks and per-call usage, in basis points. */
  protocolFeeBps?: number;
  /**
   * UsageEscrow: seconds between a consumer's withdrawal request and the withdrawal (providers claim meanwhile).
   * Default {@link DEPLOY_DEFAULTS}.usageWithdrawalDelay, or `devnetUsageWithdrawalDelay` on chain 31337.
   */
  usageWithdrawalDelay?: bigint;
  /** UsageEscrow: seconds after an access token's expiry during which it can be claimed. */
  usageClaimWindow?: bigint;
  /** TaskManager's fixed parameters; default {@link TASK_PARAMETER_DEFAULTS}. */
  taskParameters?: TaskParameters;
  /** Folder for `<chainId>.json`; default `deployments/` at the repository root. */
  outDir?: string;
  /** Progress lines (one per action); default silent. */
  log?: (line: string) => void;
}

export const DEPLOY_DEFAULTS = {
  tokenSupply: parseEther("1000000000"),
  minNodeStake: parseEther("100"),
  protocolFeeBps: 250,
  /** UsageEscrow withdrawal delay: 1 day, so providers that batch claims daily are paid before escrow leaves. */
  usageWithdrawalDelay: 86_400n,
  /** UsageEscrow withdrawal delay on the local devnet (chain 31337): 1 hour, so it can be tried by hand. */
  devnetUsageWithdrawalDelay: 3_600n,
  /** UsageEscrow claim window: a token stays claimable for 7 days after its expiry. */
  usageClaimWindow: 7n * 86_400n,
} as const;

/** Hardhat's local chain id (the devnet). */
const DEVNET_CHAIN_ID = 31337;

/** ITaskManager.Parameters as the constructor takes them. */
export interface TaskParameters {
  collateralBps: number;
  minCollateral: bigint;
  noShowPenaltyBps: number;
  wrongResultSlashBps: number;
  equivocationSlashBps: number;
  finalizerFeeShareBps: number;
  maxRounds: number;
  candidateWindow: number;
  maxScan: number;
  drawDelay: number;
  stakeWeightCap: bigint;
}

/**
 * TaskManager defaults (docs/tasks.md explains each): collateral = the reward (min 10 OPEN) per seated worker;
 * a no-show loses a quarter of it, a wrong result all of it, an equivocation twice it; half the protocol fee
 * goes to the finalizing signers; 3 draw rounds; a draw weighs vacancies + 2 fitting candidates found in at most
 * 64 registry entries (each candidate costs ≈ 14 k gas); the draw is seeded by the next block's hash; held task collateral above
 * 10 000 OPEN adds no draw weight.
 */
export const TASK_PARAMETER_DEFAULTS: TaskParameters = {
  collateralBps: 10_000,
  minCollateral: parseEther("10"),
  noShowPenaltyBps: 2_500,
  wrongResultSlashBps: 10_000,
  equivocationSlashBps: 20_000,
  finalizerFeeShareBps: 5_000,
  maxRounds: 3,
  candidateWindow: 2,
  maxScan: 64,
  drawDelay: 1,
  stakeWeightCap: parseEther("10000"),
};

export const DEFAULT_DEPLOYMENTS_DIR = new URL("../../deployments", import.meta.url).pathname;

const role = (name: string) => keccak256(toHex(name));

export async function deploy(params: DeployParameters): Promise<Deployment> {
  const log = params.log ?? (() => {});
  const account = privateKeyToAccount(params.privateKey);
  const probe = createPublicClient({ transport: http(params.rpcUrl) });
  const chainId = await probe.getChainId();
  const chain = defineChain({
    id: chainId,
    name: `chain-${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [params.rpcUrl] } },
  });
  const publicClient = createPublicClient({ chain, transport: http(params.rpcUrl) });
  const wallet = createWalletClient({ chain, account, transport: http(params.rpcUrl) });
  const treasury = params.treasury ?? account.address;
  const outDir = params.outDir ?? DEFAULT_DEPLOYMENTS_DIR;
  const file = join(outDir, `${chainId}.json`);
  const previous: Deployment | undefined = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : undefined;
  const contracts: Record<string, DeployedContract> = {};

  async function ensure(name: ContractName, args: unknown[]): Promise<Address> {
    const code = bytecodes[name];
    if (!code) throw new Error(`no bytecode for ${name}: run \`npm run build\``);
    const prev = previous?.contracts[name];
    const argsJson = JSON.parse(toJson(args));
    if (prev && prev.bytecodeHash === code.bytecodeHash && JSON.stringify(prev.args) === JSON.stringify(argsJson)) {
      const onChain = await publicClient.getCode({ address: prev.address });
      if (onChain && onChain !== "0x") {
        log(`${name}: reusing ${prev.address}`);
        contracts[name] = prev;
        return prev.address;
      }
    }
    const hash = await wallet.deployContract({ abi: abis[name] as Abi, bytecode: code.bytecode, args });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success" || !receipt.contractAddress) throw new Error(`${name}: deployment reverted (${hash})`);
    log(`${name}: deployed at ${receipt.contractAddress} (block ${receipt.blockNumber})`);
    contracts[name] = {
      address: receipt.contractAddress,
      blockNumber: Number(receipt.blockNumber),
      txHash: hash,
      abiHash: code.abiHash,
      bytecodeHash: code.bytecodeHash,
      args: argsJson,
    };
    return receipt.contractAddress;
  }

  async function grant(name: ContractName, roleName: string, to: Address) {
    const address = contracts[name]!.address;
    const abi = abis[name] as Abi;
    const r = role(roleName);
    const has = (await publicClient.readContract({ address, abi, functionName: "hasRole", args: [r, to] })) as boolean;
    if (has) return;
    const hash = await wallet.writeContract({ address, abi, functionName: "grantRole", args: [r, to] });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`${name}.grantRole(${roleName}) reverted (${hash})`);
    log(`${name}: granted ${roleName} to ${to}`);
  }

  const admin = account.address;
  const feeBps = params.protocolFeeBps ?? DEPLOY_DEFAULTS.protocolFeeBps;
  const token =
    params.token ?? (await ensure("OpenToken", [treasury, params.tokenSupply ?? DEPLOY_DEFAULTS.tokenSupply]));
  const staking = await ensure("Staking", [token, admin, treasury]);
  const registry = await ensure("XnodeRegistry", [staking, admin, params.minNodeStake ?? DEPLOY_DEFAULTS.minNodeStake]);
  const services = await ensure("ServiceRegistry", []);
  await ensure("Subscriptions", [token, services, admin, treasury, feeBps]);
  await ensure("LeaseEscrow", [token, registry, admin, treasury, feeBps]);
  const tasks = await ensure("TaskManager", [
    token,
    staking,
    registry,
    admin,
    treasury,
    feeBps,
    params.taskParameters ?? TASK_PARAMETER_DEFAULTS,
  ]);

  await grant("Staking", "LOCKER_ROLE", registry);
  await grant("Staking", "LOCKER_ROLE", tasks);
  await grant("Staking", "SLASHER_ROLE", tasks);
  // Last, so every earlier contract keeps its address on a fresh chain (deployments/31337.json).
  await ensure("UsageEscrow", [
    token,
    services,
    registry,
    admin,
    treasury,
    feeBps,
    params.usageWithdrawalDelay ??
      (chainId === DEVNET_CHAIN_ID ? DEPLOY_DEFAULTS.devnetUsageWithdrawalDelay : DEPLOY_DEFAULTS.usageWithdrawalDelay),
    params.usageClaimWindow ?? DEPLOY_DEFAULTS.usageClaimWindow,
  ]);

  const deployment: Deployment = {
    chainId,
    deployer: account.address,
    treasury,
    contracts,
  };
  if (params.token) {
    deployment.contracts.OpenToken = {
      address: params.token,
      blockNumber: 0,
      txHash: "0x",
      abiHash: bytecodes.OpenToken!.abiHash,
      bytecodeHash: "0x",
      args: [],
    };
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(file, JSON.stringify(deployment, null, 2) + "\n");
  log(`wrote ${file}`);
  return deployment;
}
