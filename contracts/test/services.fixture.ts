/**
 * Test fixture for the services area: a payment token, ServiceRegistry and Subscriptions wired together,
 * funded consumers, service-parameter builders and a tiny Merkle allow-list builder (OpenZeppelin
 * StandardMerkleTree layout: leaf = keccak256(keccak256(abi.encode(address))), sorted-pair hashing).
 *
 * @example
 * ```ts
 * import { network } from "hardhat";
 * import { deployServicesFixture, publishService } from "./services.fixture.js";
 *
 * const { networkHelpers } = await network.create();
 * const fx = await networkHelpers.loadFixture(deployServicesFixture);       // OpenToken, 18 decimals
 * const id = await publishService(fx, { pricing: { perPeriod: 10n ** 18n } });
 * await fx.subscriptions.write.subscribe([id, 3, 10n ** 18n, []], { account: fx.accounts.consumers[0].account });
 * ```
 */
import { signPermit as signERC2612 } from "./permit.ts";
import type { NetworkConnection } from "hardhat/types/network";
import {
  type Address,
  type Hex,
  concat,
  encodeAbiParameters,
  keccak256,
  maxUint256,
  parseEventLogs,
  zeroHash,
} from "viem";

/** Protocol fee the deploy script uses (2.5 %). */
export const DEFAULT_FEE_BPS = 250;
/** OPEN minted to the deployer by the 18-decimal fixture. */
export const OPEN_SUPPLY = 1_000_000_000n * 10n ** 18n;
/** Tokens each consumer receives: 1 000 000 whole tokens, in the token's units. */
export const consumerFunding = (decimals: number) => 1_000_000n * 10n ** BigInt(decimals);
export const DAY = 86_400n;

export const ServiceKind = { Http: 0, Task: 1 } as const;
export const Visibility = { Public: 0, Private: 1 } as const;
export const ServiceStatus = { Active: 0, Retired: 1 } as const;

export type Pricing = {
  perCall: bigint;
  perPeriod: bigint;
  periodSeconds: bigint;
  oneTime: bigint;
  oneTimeDuration: bigint;
};

export type ServiceParams = {
  name: string;
  kind: number;
  visibility: number;
  pricing: Pricing;
  manifestHash: Hex;
  minReplicas: number;
  maxReplicas: number;
  minProviderStake: bigint;
  metadataURI: string;
};

/** Parameters for `publish`, with `overrides` merged over a public HTTP service at 10 units per 30 days. */
export function serviceParams(overrides: Partial<Omit<ServiceParams, "pricing">> & { pricing?: Partial<Pricing> } = {}) {
  const { pricing, ...rest } = overrides;
  return {
    name: "hello",
    kind: ServiceKind.Http,
    visibility: Visibility.Public,
    manifestHash: keccak256(concat(["0x01"])),
    minReplicas: 1,
    maxReplicas: 3,
    minProviderStake: 100n * 10n ** 18n,
    metadataURI: "ipfs://service-metadata",
    ...rest,
    pricing: { perCall: 1n, perPeriod: 10n, periodSeconds: 30n * DAY, oneTime: 0n, oneTimeDuration: 0n, ...pricing },
  } satisfies ServiceParams;
}

async function deployServices(connection: NetworkConnection, decimals: 6 | 18) {
  const { viem } = connection;
  const publicClient = await viem.getPublicClient();
  const chainId = await publicClient.getChainId();
  const wallets = await viem.getWalletClients();
  const wallet = (i: number) => {
    const w = wallets[i];
    if (!w) throw new Error(`the fixture needs at least ${i + 1} accounts`);
    return w;
  };
  const [deployer, treasury, owner, otherOwner, outsider] = [wallet(0), wallet(1), wallet(2), wallet(3), wallet(7)];
  const consumers = [wallet(4), wallet(5), wallet(6)] as const;

  const open = decimals === 18 ? await viem.deployContract("OpenToken", [deployer.account.address, OPEN_SUPPLY]) : undefined;
  const mock = decimals === 6 ? await viem.deployContract("MockERC20", ["USD Coin", "USDC", 6]) : undefined;
  const tokenAddress = (open ?? mock)!.address;
  const token = await viem.getContractAt("MockERC20", tokenAddress); // the shared ERC-20 surface
  const registry = await viem.deployContract("ServiceRegistry", []);
  const subscriptions = await viem.deployContract("Subscriptions", [
    tokenAddress,
    registry.address,
    deployer.account.address,
    treasury.account.address,
    DEFAULT_FEE_BPS,
  ]);

  for (const consumer of [...consumers, outsider]) {
    if (open) await open.write.transfer([consumer.account.address, consumerFunding(decimals)]);
    else await mock!.write.mint([consumer.account.address, consumerFunding(decimals)]);
    await token.write.approve([subscriptions.address, maxUint256], { account: consumer.account });
  }

  return {
    viem,
    publicClient,
    chainId,
    decimals,
    token,
    open,
    registry,
    subscriptions,
    accounts: { deployer, treasury, owner, otherOwner, consumers, outsider },
  };
}

/**
 * OpenToken (18 decimals, supply to account 0), ServiceRegistry, Subscriptions (admin = account 0,
 * treasury = account 1, fee DEFAULT_FEE_BPS). The three consumers and the outsider hold consumerFunding(18)
 * and approved Subscriptions for the maximum. Pass it to `networkHelpers.loadFixture`.
 */
export async function deployServicesFixture(connection: NetworkConnection) {
  return deployServices(connection, 18);
}

/** Same as `deployServicesFixture` with a 6-decimal MockERC20 (USDC-like) as payment token. */
export async function deployServices6Fixture(connection: NetworkConnection) {
  return deployServices(connection, 6);
}

/** What the services fixtures return. */
export type ServicesFixture = Awaited<ReturnType<typeof deployServicesFixture>>;
/** A wallet client of the fixture. */
export type FixtureWallet = ServicesFixture["accounts"]["owner"];

/** Publish `serviceParams(overrides)` from `from` (default: the fixture's owner) and return the new id. */
export async function publishService(
  fx: ServicesFixture,
  overrides: Parameters<typeof serviceParams>[0] = {},
  from: FixtureWallet = fx.accounts.owner,
): Promise<bigint> {
  const hash = await fx.registry.write.publish([serviceParams(overrides)], { account: from.account });
  const receipt = await fx.publicClient.waitForTransactionReceipt({ hash });
  const [log] = parseEventLogs({ abi: fx.registry.abi, logs: receipt.logs, eventName: "ServicePublished" });
  return log!.args.serviceId;
}

/** Timestamp of the block that included `hash`. */
export async function txTimestamp(fx: Pick<ServicesFixture, "publicClient">, hash: Hex): Promise<bigint> {
  const receipt = await fx.publicClient.waitForTransactionReceipt({ hash });
  return (await fx.publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp;
}

// ─── Merkle allow-list (OpenZeppelin StandardMerkleTree layout) ───────────────────────────────────────

/** Leaf of `account`: keccak256(bytes.concat(keccak256(abi.encode(account)))). */
export function allowlistLeaf(account: Address): Hex {
  return keccak256(keccak256(encodeAbiParameters([{ type: "address" }], [account])));
}

const hashPair = (a: Hex, b: Hex): Hex => keccak256(BigInt(a) < BigInt(b) ? concat([a, b]) : concat([b, a]));

/** A Merkle allow-list of `accounts`: its root and a proof for each member (empty list → zero root). */
export function buildAllowlist(accounts: readonly Address[]) {
  const leaves = [...new Set(accounts.map(allowlistLeaf))].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  const layers: Hex[][] = [leaves];
  while (layers[layers.length - 1]!.length > 1) {
    const prev = layers[layers.length - 1]!;
    const next: Hex[] = [];
    for (let i = 0; i < prev.length; i += 2) next.push(i + 1 < prev.length ? hashPair(prev[i]!, prev[i + 1]!) : prev[i]!);
    layers.push(next);
  }
  const root: Hex = leaves.length === 0 ? zeroHash : layers[layers.length - 1]![0]!;
  /** Proof for `account` (throws if it is not a member). */
  function proofOf(account: Address): Hex[] {
    let index = leaves.indexOf(allowlistLeaf(account));
    if (index < 0) throw new Error(`${account} is not in the allow-list`);
    const proof: Hex[] = [];
    for (const layer of layers.slice(0, -1)) {
      const sibling = index ^ 1;
      if (sibling < layer.length) proof.push(layer[sibling]!);
      index >>= 1;
    }
    return proof;
  }
  return { root, proofOf };
}

// ─── ERC-2612 permit ─────────────────────────────────────────────────────────────────────────────────

/** A `Permit` struct (value, deadline, v, r, s) for Subscriptions' `*WithPermit` calls, signed by `owner`. */
export async function signPermit(fx: ServicesFixture, owner: FixtureWallet, spender: Address, value: bigint, deadline: bigint) {
  if (!fx.open) throw new Error("permit needs the OpenToken fixture");
  const sig = await signERC2612({ token: fx.open, owner, spender, value, deadline, chainId: fx.chainId });
  return { value, deadline, ...sig };
}

// ─── Reference model of the stream math (mirrors StreamMath.sol) ─────────────────────────────────────

/** floor(balance × (until − lastSettled) / (paidUntil − lastSettled)), whole balance at the end. */
export function accruedModel(balance: bigint, lastSettled: bigint, paidUntil: bigint, until: bigint): bigint {
  if (balance === 0n || paidUntil <= lastSettled || until <= lastSettled) return 0n;
  if (until >= paidUntil) return balance;
  return (balance * (until - lastSettled)) / (paidUntil - lastSettled);
}

/** ceil(amount × feeBps / 10 000). */
export function feeModel(amount: bigint, feeBps: bigint): bigint {
  return (amount * feeBps + 9_999n) / 10_000n;
}
