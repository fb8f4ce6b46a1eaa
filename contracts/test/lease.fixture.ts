/**
 * Test fixture for the lease area: the real Staking + XnodeRegistry of `staking.fixture.ts`, one registered node,
 * a LeaseEscrow paying in OPEN (and, for `lease6Fixture`, a second escrow paying in a 6-decimal token) with one
 * offer posted, funded lessees and a resource reporter.
 *
 * @example
 * ```ts
 * const { networkHelpers } = await network.create();
 * const fx = await networkHelpers.loadFixture(leaseFixture);
 * const [lessee] = fx.lessees;
 * const hash = await fx.escrow.write.openLease([fx.offerId, fx.terms.price * 7_200n, fx.terms.price], {
 *   account: lessee.account,
 * });
 * const leaseId = await leaseIdOf(fx, hash);
 * ```
 */
import type { NetworkConnection } from "hardhat/types/network";
import { type Hash, maxUint256, parseEventLogs } from "viem";
import { type NodeResources, ONE_OPEN, deployStakingFixture, registerNode } from "./staking.fixture.js";

/** Protocol fee the fixture's escrows charge (the documented default). */
export const FEE_BPS = 250n;
/** Resources the fixture's offers lease out (fit in `DEFAULT_RESOURCES` of the staking fixture). */
export const OFFER_RESOURCES = { cpuMillicores: 1_000, memoryMiB: 2_048, storageGiB: 10, gpus: 0 } as const;
/** Terms of the fixture's OPEN offer: an odd price so deposits leave dust, 1 h minimum, 30 d maximum, 10 min notice. */
export const TERMS = {
  price: 1_000_000_000_000_003n,
  minDuration: 3_600n,
  maxDuration: 30n * 86_400n,
  noticePeriod: 600n,
  maxLeases: 4,
} as const;
/** Terms of the 6-decimal offer: 7 micro-USDC per second (≈ 0.60 USDC per day). */
export const TERMS6 = { ...TERMS, price: 7n } as const;
/** OPEN each lessee holds (approved to the escrow). */
export const LESSEE_FUNDING = 100_000n * ONE_OPEN;
/** 6-decimal tokens each lessee holds (approved to the 6-decimal escrow). */
export const LESSEE_FUNDING6 = 10_000_000n * 10n ** 6n;
/** ILeaseEscrow.LeaseStatus as viem decodes it. */
export const LeaseStatus = { None: 0, Active: 1, Closing: 2, Ended: 3, Terminated: 4 } as const;

/** Offer terms in the shape the escrow takes them. */
export type OfferTerms = {
  price: bigint;
  minDuration: bigint;
  maxDuration: bigint;
  noticePeriod: bigint;
  maxLeases: number;
};

/** Arguments of `postOffer` for `node` with `terms` (defaults: TERMS, OFFER_RESOURCES). */
export function offerArgs(node: `0x${string}`, terms: OfferTerms = TERMS, resources: NodeResources = OFFER_RESOURCES) {
  return [node, resources, terms.price, terms.minDuration, terms.maxDuration, terms.noticePeriod, terms.maxLeases] as const;
}

/**
 * `deployStakingFixture` plus: a node registered by `operator` (operators[0]); LeaseEscrow(OpenToken, registry,
 * admin = deployer, treasury, FEE_BPS) with RESOURCE_REPORTER_ROLE granted to `reporter`; offer 1 on the node with
 * TERMS; three lessees (wallets 9–11) holding LESSEE_FUNDING approved to the escrow. Pass it to `loadFixture`.
 */
export async function leaseFixture(connection: NetworkConnection) {
  const fx = await deployStakingFixture(connection);
  const { viem } = connection;
  const { deployer, treasury, operators } = fx.accounts;
  const [operator] = operators;
  const reg = await registerNode(fx, { operator });
  const wallets = await viem.getWalletClients();
  const at = (index: number) => {
    const wallet = wallets[index];
    if (wallet === undefined) throw new Error(`the network has no wallet client #${index}`);
    return wallet;
  };
  const lessees = [at(9), at(10), at(11)] as const;
  const reporter = at(12);

  const escrow = await viem.deployContract("LeaseEscrow", [
    fx.token.address,
    fx.registry.address,
    deployer.account.address,
    treasury.account.address,
    Number(FEE_BPS),
  ]);
  const reporterRole = await escrow.read.RESOURCE_REPORTER_ROLE();
  await escrow.write.grantRole([reporterRole, reporter.account.address]);
  for (const lessee of lessees) {
    await fx.token.write.transfer([lessee.account.address, LESSEE_FUNDING]);
    await fx.token.write.approve([escrow.address, maxUint256], { account: lessee.account });
  }
  await escrow.write.postOffer(offerArgs(reg.node), { account: operator.account });

  return {
    ...fx,
    escrow,
    operator,
    reg,
    node: reg.node,
    offerId: 1n,
    terms: TERMS as OfferTerms,
    lessees,
    reporter,
    reporterRole,
  };
}

/** `leaseFixture` plus a 6-decimal MockERC20 (`usdc`), an escrow paying in it (`escrow6`, FEE_BPS) with offer 1
 * on the same node (TERMS6), and the lessees holding LESSEE_FUNDING6 of it approved to `escrow6`. */
export async function lease6Fixture(connection: NetworkConnection) {
  const fx = await leaseFixture(connection);
  const usdc = await connection.viem.deployContract("MockERC20", ["USD Coin", "USDC", 6]);
  const escrow6 = await connection.viem.deployContract("LeaseEscrow", [
    usdc.address,
    fx.registry.address,
    fx.accounts.deployer.account.address,
    fx.accounts.treasury.account.address,
    Number(FEE_BPS),
  ]);
  await escrow6.write.grantRole([fx.reporterRole, fx.reporter.account.address]);
  for (const lessee of fx.lessees) {
    await usdc.write.mint([lessee.account.address, LESSEE_FUNDING6]);
    await usdc.write.approve([escrow6.address, maxUint256], { account: lessee.account });
  }
  await escrow6.write.postOffer(offerArgs(fx.node, TERMS6), { account: fx.operator.account });
  return { ...fx, usdc, escrow6, terms6: TERMS6 as OfferTerms };
}

/** `leaseFixture` plus an escrow paying in ReentrantERC20 (`evil`), offer 1 on the node, lessee 0 funded. */
export async function leaseReentrantFixture(connection: NetworkConnection) {
  const fx = await leaseFixture(connection);
  const evil = await connection.viem.deployContract("ReentrantERC20", []);
  const escrowR = await connection.viem.deployContract("LeaseEscrow", [
    evil.address,
    fx.registry.address,
    fx.accounts.deployer.account.address,
    fx.accounts.treasury.account.address,
    Number(FEE_BPS),
  ]);
  const [lessee] = fx.lessees;
  await evil.write.mint([lessee.account.address, LESSEE_FUNDING]);
  await evil.write.approve([escrowR.address, maxUint256], { account: lessee.account });
  await escrowR.write.postOffer(offerArgs(fx.node), { account: fx.operator.account });
  return { ...fx, evil, escrowR };
}

/** What `leaseFixture` returns. */
export type LeaseFixture = Awaited<ReturnType<typeof leaseFixture>>;

/** Lease id from the `LeaseOpened` event of a transaction. */
export async function leaseIdOf(fx: LeaseFixture, hash: Hash): Promise<bigint> {
  const receipt = await fx.publicClient.waitForTransactionReceipt({ hash });
  const [log] = parseEventLogs({ abi: fx.escrow.abi, eventName: "LeaseOpened", logs: receipt.logs });
  if (log === undefined) throw new Error("no LeaseOpened event");
  return log.args.leaseId;
}

/** Sum of `ERC20.balanceOf` over `accounts`, read from `token`. */
export async function balancesOf(
  token: { read: { balanceOf(args: readonly [`0x${string}`]): Promise<bigint> } },
  accounts: readonly `0x${string}`[],
): Promise<bigint[]> {
  return Promise.all(accounts.map((a) => token.read.balanceOf([a])));
}
