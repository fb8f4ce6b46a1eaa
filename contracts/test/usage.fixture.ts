/**
 * Test fixture for UsageEscrow: the staking fixture (OpenToken, Staking, XnodeRegistry) plus a ServiceRegistry,
 * a UsageEscrow, one per-call service, an active node of operators[0] whose node key holds ETH and sends
 * `claim`, and consumers whose keys sign access tokens exactly as the worker does
 * (worker/src/mesh/access/request-token.ts: `signAccessToken`).
 *
 * @example
 * ```ts
 * const fx = await networkHelpers.loadFixture(usageFixture);
 * await fx.escrow.write.deposit([fx.serviceId, 10n * PER_CALL, PER_CALL], { account: fx.consumers[0].wallet.account });
 * const call = await signCall(fx, fx.consumers[0], { expiry: now + 60n });
 * await fx.escrow.write.claim([fx.serviceId, [call]], { account: fx.node.account });
 * ```
 */
import type { NetworkConnection } from "hardhat/types/network";
import { type Address, type Hex, hexToBigInt, maxUint256, numberToHex, parseEther, parseEventLogs } from "viem";
import { privateKeyToAccount, type LocalAccount } from "viem/accounts";
import { randomNonce, signAccessToken } from "../../worker/src/mesh/access/request-token.ts";
import { devAccount } from "../../scripts/lib/dev-accounts.ts";
import { serviceParams, type Pricing } from "./services.fixture.ts";
import { ONE_OPEN, deployStakingFixture, registerNode, type FixtureWallet, type RegisteredNode } from "./staking.fixture.ts";

/** Protocol fee of the fixture's UsageEscrow (what the deploy script uses). */
export const USAGE_FEE_BPS = 250;
/** Withdrawal delay of the fixture (the deploy script's default off the devnet). */
export const WITHDRAWAL_DELAY = 86_400n;
/** Claim window of the fixture (the deploy script's default). */
export const CLAIM_WINDOW = 7n * 86_400n;
/** Per-call price of the fixture's service: 0.001 OPEN and 7 wei, so fees round visibly. */
export const PER_CALL = 10n ** 15n + 7n;
/** Minimum provider stake of the fixture's service (node bond is 1 000 OPEN, so operators[0] qualifies). */
export const MIN_PROVIDER_STAKE = 500n * ONE_OPEN;
/** OPEN each consumer receives. */
export const CONSUMER_FUNDING = 1_000n * ONE_OPEN;
/** IUsageEscrow.RejectReason as viem decodes it. */
export const RejectReason = { None: 0, Stale: 1, BadSignature: 2, AlreadyPaid: 3, NoEscrow: 4, InsufficientBalance: 5 } as const;
/** secp256k1 group order n. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** A consumer: the wallet client that sends its transactions and the local account (same key) that signs tokens. */
export type Consumer = { wallet: FixtureWallet; signer: LocalAccount; address: Address };

/**
 * Staking fixture + ServiceRegistry + UsageEscrow (admin = deployer, treasury = treasury wallet, USAGE_FEE_BPS,
 * WITHDRAWAL_DELAY, CLAIM_WINDOW). Service `serviceId` is public, PER_CALL per call and MIN_PROVIDER_STAKE,
 * owned by wallet 12. operators[0] registered `node` (its key holds 10 ETH). Consumers are wallets 9–11, each
 * funded with CONSUMER_FUNDING and having approved the escrow for the maximum.
 */
/** UsageEscrow's constructor arguments with the fixture's fee, withdrawal delay and claim window. */
export function usageEscrowArgs(c: { token: Address; services: Address; xnodes: Address; admin: Address; treasury: Address }) {
  return [c.token, c.services, c.xnodes, c.admin, c.treasury, USAGE_FEE_BPS, WITHDRAWAL_DELAY, CLAIM_WINDOW] as const;
}

export async function usageFixture(connection: NetworkConnection) {
  const fx = await deployStakingFixture(connection);
  const { viem } = fx;
  const wallets = await viem.getWalletClients();
  const { deployer, treasury, operators } = fx.accounts;
  const serviceOwner = wallets[12]!;
  const testClient = await viem.getTestClient();

  const services = await viem.deployContract("ServiceRegistry", []);
  const escrow = await viem.deployContract("UsageEscrow", [
    ...usageEscrowArgs({ token: fx.token.address, services: services.address, xnodes: fx.registry.address, admin: deployer.account.address, treasury: treasury.account.address }),
  ]);

  const consumers: Consumer[] = [9, 10, 11].map((i) => {
    const wallet = wallets[i]!;
    const signer = devAccount(i);
    if (signer.address.toLowerCase() !== wallet.account.address.toLowerCase()) throw new Error(`wallet ${i} is not dev account ${i}`);
    return { wallet, signer, address: signer.address };
  });
  for (const c of consumers) {
    await fx.token.write.transfer([c.address, CONSUMER_FUNDING]);
    await fx.token.write.approve([escrow.address, maxUint256], { account: c.wallet.account });
  }

  const hash = await services.write.publish(
    [serviceParams({ name: "metered", minProviderStake: MIN_PROVIDER_STAKE, pricing: { perCall: PER_CALL } })],
    { account: serviceOwner.account },
  );
  const receipt = await fx.publicClient.waitForTransactionReceipt({ hash });
  const serviceId = parseEventLogs({ abi: services.abi, logs: receipt.logs, eventName: "ServicePublished" })[0]!.args.serviceId;

  const operator = operators[0];
  const reg = await registerNode(fx, { operator });
  const node = await fundNodeKey(testClient, reg);

  return { ...fx, testClient, services, escrow, serviceId, serviceOwner, consumers, operator, reg, node };
}

export type UsageFixture = Awaited<ReturnType<typeof usageFixture>>;

/** Give a node key 10 ETH so it can send transactions; returns its local account. */
export async function fundNodeKey(
  testClient: { setBalance(args: { address: Address; value: bigint }): Promise<void> },
  reg: RegisteredNode,
) {
  await testClient.setBalance({ address: reg.node, value: parseEther("10") });
  return privateKeyToAccount(reg.nodeKey);
}

/** Register another node for `operator` (stakes its bond) and fund its key; returns the node's account. */
export async function addNode(fx: UsageFixture, operator: FixtureWallet) {
  const reg = await registerNode(fx, { operator });
  return { reg, account: await fundNodeKey(fx.testClient, reg) };
}

/** Options of one signed call. */
export type CallOptions = {
  /** Unix seconds; default latest block + 60. */
  expiry?: bigint;
  nonce?: Hex;
  serviceId?: bigint;
  /** Domain overrides, to forge tokens for another chain or registry. */
  chainId?: number;
  registry?: Address;
  /** The node the token names; default the fixture's node (`fx.node`); `null` signs a v 1 token (no provider). */
  provider?: Address | null;
};

/**
 * An `IUsageEscrow.Call` signed by `consumer` with the worker's own `signAccessToken` (the gateway's code path):
 * domain ("DSMP Access", "1", chain id, ServiceRegistry), message ProviderAccessToken(serviceId, consumer,
 * provider, expiry, nonce) with provider = the node that will claim.
 */
export async function signCall(fx: UsageFixture, consumer: Consumer, o: CallOptions = {}) {
  const expiry = o.expiry ?? (await fx.publicClient.getBlock()).timestamp + 60n;
  const token = await signAccessToken({
    account: consumer.signer,
    domain: { chainId: o.chainId ?? fx.chainId, registry: o.registry ?? fx.services.address },
    serviceId: o.serviceId ?? fx.serviceId,
    provider: o.provider === null ? undefined : (o.provider ?? fx.node.address),
    expiry: Number(expiry),
    nonce: o.nonce ?? randomNonce(),
  });
  return { consumer: consumer.address, expiry, nonce: token.nonce, signature: token.signature };
}

export type SignedCall = Awaited<ReturnType<typeof signCall>>;

/** The same signature with s replaced by n − s and v flipped: valid for ecrecover, refused as malleable. */
export function malleate(signature: Hex): Hex {
  const r = signature.slice(2, 66);
  const s = hexToBigInt(`0x${signature.slice(66, 130)}`);
  const v = parseInt(signature.slice(130, 132), 16);
  const highS = numberToHex(SECP256K1_N - s, { size: 32 }).slice(2);
  const flipped = (v === 27 ? 28 : 27).toString(16);
  return `0x${r}${highS}${flipped}`;
}

/** Per-call pricing overrides merged with the fixture's service parameters (name "metered"). */
export function meteredParams(pricing: Partial<Pricing>, minProviderStake = MIN_PROVIDER_STAKE) {
  return serviceParams({ name: "metered", minProviderStake, pricing: { perCall: PER_CALL, ...pricing } });
}
