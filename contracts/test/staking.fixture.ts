/**
 * Test fixture for the staking area: OpenToken, Staking and XnodeRegistry wired together, funded operators,
 * and helpers that build a node's identity and its proof of possession.
 *
 * @example
 * ```ts
 * import { network } from "hardhat";
 * import { deployStakingFixture, registerNode } from "./staking.fixture.js";
 *
 * const { networkHelpers } = await network.create();
 * const fx = await networkHelpers.loadFixture(deployStakingFixture);
 * const [operator] = fx.accounts.operators;
 * const { node, peerId } = await registerNode(fx, { operator });   // stakes MIN_NODE_STAKE first if needed
 * ```
 */
import { NODE_REGISTRATION_TYPES } from "../../worker/src/chain/actions/register-node.ts";
import { secp256k1 } from "@noble/curves/secp256k1";
import type { NetworkConnection } from "hardhat/types/network";
import { type Address, type Hex, bytesToHex, concat, hexToBytes, maxUint256, pad, slice } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

/** 1 OPEN in wei. */
export const ONE_OPEN = 10n ** 18n;
/** OpenToken supply minted to account 0 (the deployer). */
export const TOKEN_SUPPLY = 1_000_000_000n * ONE_OPEN;
/** Bond the fixture's registry locks per node. */
export const MIN_NODE_STAKE = 1_000n * ONE_OPEN;
/** OPEN each operator receives from the deployer (not staked). */
export const OPERATOR_FUNDING = 100_000n * ONE_OPEN;
/** Resources `registerNode` advertises unless told otherwise. */
export const DEFAULT_RESOURCES = { cpuMillicores: 4_000, memoryMiB: 8_192, storageGiB: 100, gpus: 0 } as const;
/** Slots `registerNode` offers unless told otherwise. */
export const DEFAULT_SLOTS = 4;
/** EIP-712 domain name / version of XnodeRegistry. */
export const REGISTRY_DOMAIN_NAME = "DSMP XnodeRegistry";
export const REGISTRY_DOMAIN_VERSION = "1";
/** EIP-712 types of the proof of possession: the worker's own definition, so tests sign what nodes sign. */
export { NODE_REGISTRATION_TYPES };
/** What `stakedOperatorFixture` stakes for operator A. */
export const OPERATOR_STAKE = 10_000n * ONE_OPEN;
/** Slash reason codes of Staking. */
export const SlashReason = {
  EQUIVOCATION: 1,
  WRONG_RESULT: 2,
  NO_SHOW: 3,
  RESOURCE_PROOF_FAILED: 4,
  OTHER: 5,
} as const;
/** IXnodeRegistry.NodeStatus as viem decodes it. */
export const NodeStatus = { None: 0, Active: 1, Jailed: 2, Retired: 3 } as const;
/** Identity multihash header + protobuf header of a secp256k1 libp2p public key. */
export const PEER_ID_PREFIX: Hex = "0x002508021221";

/**
 * Deploys OpenToken (supply to account 0), Staking (admin = account 0, treasury = account 1) and
 * XnodeRegistry (admin = account 0, bond MIN_NODE_STAKE), and wires the roles:
 * - registry: LOCKER_ROLE on Staking;
 * - `accounts.slasher`: SLASHER_ROLE, `accounts.locker`: LOCKER_ROLE (EOAs, so tests can drive them directly);
 * - `accounts.jailer`: JAILER_ROLE on the registry.
 * Each of the three `accounts.operators` holds OPERATOR_FUNDING OPEN and has approved Staking for the maximum;
 * nothing is staked yet. Pass it to `networkHelpers.loadFixture`.
 */
export async function deployStakingFixture(connection: NetworkConnection) {
  const { viem } = connection;
  const publicClient = await viem.getPublicClient();
  const chainId = await publicClient.getChainId();
  const accounts = await namedWallets(connection);
  const { deployer, treasury, slasher, jailer, locker, operators } = accounts;

  const token = await viem.deployContract("OpenToken", [deployer.account.address, TOKEN_SUPPLY]);
  const staking = await viem.deployContract("Staking", [
    token.address,
    deployer.account.address,
    treasury.account.address,
  ]);
  const registry = await viem.deployContract("XnodeRegistry", [
    staking.address,
    deployer.account.address,
    MIN_NODE_STAKE,
  ]);

  const roles = {
    admin: await staking.read.DEFAULT_ADMIN_ROLE(),
    locker: await staking.read.LOCKER_ROLE(),
    slasher: await staking.read.SLASHER_ROLE(),
    jailer: await registry.read.JAILER_ROLE(),
  };
  await staking.write.grantRole([roles.locker, registry.address]);
  await staking.write.grantRole([roles.locker, locker.account.address]);
  await staking.write.grantRole([roles.slasher, slasher.account.address]);
  await registry.write.grantRole([roles.jailer, jailer.account.address]);

  for (const operator of operators) {
    await token.write.transfer([operator.account.address, OPERATOR_FUNDING]);
    await token.write.approve([staking.address, maxUint256], { account: operator.account });
  }

  return {
    viem,
    publicClient,
    chainId,
    token,
    staking,
    registry,
    roles,
    accounts,
  };
}

/**
 * The first nine wallet clients of `connection`, by the role the staking fixture gives them:
 * 0 deployer (token supply, admin), 1 treasury, 2 slasher, 3 jailer, 4 locker, 5–7 operators, 8 outsider.
 */
export async function namedWallets(connection: NetworkConnection) {
  const wallets = await connection.viem.getWalletClients();
  const at = (index: number) => {
    const wallet = wallets[index];
    if (wallet === undefined) throw new Error(`the network has no wallet client #${index}`);
    return wallet;
  };
  return {
    deployer: at(0),
    treasury: at(1),
    slasher: at(2),
    jailer: at(3),
    locker: at(4),
    operators: [at(5), at(6), at(7)] as const,
    outsider: at(8),
  };
}

/** `deployStakingFixture` plus `operator` (operators[0]) having staked OPERATOR_STAKE. */
export async function stakedOperatorFixture(connection: NetworkConnection) {
  const fx = await deployStakingFixture(connection);
  const [operator] = fx.accounts.operators;
  await fx.staking.write.stake([OPERATOR_STAKE], { account: operator.account });
  return { ...fx, operator };
}

/** `deployStakingFixture` plus one node registered by `operator` (operators[0]) with `registerNode` defaults. */
export async function registeredNodeFixture(connection: NetworkConnection) {
  const fx = await deployStakingFixture(connection);
  const [operator] = fx.accounts.operators;
  const reg = await registerNode(fx, { operator });
  return { ...fx, operator, reg };
}

/** Staking lock reference of a node's bond, as events decode it: the node address left-padded to 32 bytes. */
export function nodeBondRef(node: Address): Hex {
  return pad(node.toLowerCase() as Hex);
}

/** What `deployStakingFixture` returns. */
export type StakingFixture = Awaited<ReturnType<typeof deployStakingFixture>>;
/** A wallet client of the fixture (an operator, the slasher, …). */
export type FixtureWallet = StakingFixture["accounts"]["deployer"];
/** The fixture's wallets by role. */
export type NamedWallets = Awaited<ReturnType<typeof namedWallets>>;
/** Resources as the registry ABI takes them. */
export type NodeResources = { cpuMillicores: number; memoryMiB: number; storageGiB: number; gpus: number };

/** A node key and everything derived from it, computed off-chain. */
export type NodeIdentity = {
  nodeKey: Hex;
  /** 64 bytes: uncompressed X || Y without the 0x04 prefix (what `register` takes). */
  publicKey: Hex;
  /** 33-byte compressed secp256k1 key. */
  compressedKey: Hex;
  /** Ethereum address of the key. */
  node: Address;
  /** 39 bytes of libp2p PeerId: 0x00 0x25 0x08 0x02 0x12 0x21 || compressed key. */
  peerId: Hex;
};

/** Derive the node address, registry public key and libp2p PeerId of `nodeKey` (a random key if omitted). */
export function nodeIdentity(nodeKey: Hex = generatePrivateKey()): NodeIdentity {
  const account = privateKeyToAccount(nodeKey);
  const compressedKey = bytesToHex(secp256k1.getPublicKey(hexToBytes(nodeKey), true));
  return {
    nodeKey,
    publicKey: slice(account.publicKey, 1),
    compressedKey,
    node: account.address,
    peerId: concat([PEER_ID_PREFIX, compressedKey]),
  };
}

/** Parameters of a proof of possession; `chainId` and `registry` form the EIP-712 domain. */
export type NodeRegistrationMessage = {
  nodeKey: Hex;
  /** Node address put in the message; defaults to the address of `nodeKey` (override only to test forgeries). */
  node?: Address;
  operator: Address;
  nonce: bigint;
  deadline: bigint;
  chainId: number;
  registry: Address;
};

/** Sign the EIP-712 `NodeRegistration` proof of possession with the node key. */
export function signNodeRegistration(message: NodeRegistrationMessage): Promise<Hex> {
  const account = privateKeyToAccount(message.nodeKey);
  return account.signTypedData({
    domain: {
      name: REGISTRY_DOMAIN_NAME,
      version: REGISTRY_DOMAIN_VERSION,
      chainId: message.chainId,
      verifyingContract: message.registry,
    },
    types: NODE_REGISTRATION_TYPES,
    primaryType: "NodeRegistration",
    message: {
      operator: message.operator,
      node: message.node ?? account.address,
      nonce: message.nonce,
      deadline: message.deadline,
    },
  });
}

/** Options of `registerNode`; everything but `operator` has a default. */
export type RegisterNodeParameters = {
  operator: FixtureWallet;
  /** Node private key; random if omitted. */
  nodeKey?: Hex;
  resources?: NodeResources;
  slots?: number;
  metadataURI?: string;
  /** Signature deadline; latest block timestamp + 1 hour if omitted. */
  deadline?: bigint;
  /** Stake the operator's missing free stake before registering (default true). */
  topUpStake?: boolean;
};

/** A registration sent by `registerNode`. */
export type RegisteredNode = NodeIdentity & { hash: Hex; signature: Hex; deadline: bigint };

/**
 * Register a node for `operator` on `fx.registry`: optionally stakes the missing free stake, signs the proof
 * of possession with the node key (current nonce, fixture chain id) and sends `register` from the operator.
 */
export async function registerNode(fx: StakingFixture, parameters: RegisterNodeParameters): Promise<RegisteredNode> {
  const { operator, topUpStake = true } = parameters;
  const identity = nodeIdentity(parameters.nodeKey);
  if (topUpStake) {
    const need = await fx.registry.read.minNodeStake();
    const free = await fx.staking.read.freeStakeOf([operator.account.address]);
    if (free < need) await fx.staking.write.stake([need - free], { account: operator.account });
  }
  const deadline = parameters.deadline ?? (await latestTimestamp(fx)) + 3_600n;
  const signature = await signNodeRegistration({
    nodeKey: identity.nodeKey,
    operator: operator.account.address,
    nonce: await fx.registry.read.nonces([identity.node]),
    deadline,
    chainId: fx.chainId,
    registry: fx.registry.address,
  });
  const hash = await fx.registry.write.register(
    [
      identity.publicKey,
      parameters.resources ?? DEFAULT_RESOURCES,
      parameters.slots ?? DEFAULT_SLOTS,
      parameters.metadataURI ?? "ipfs://node-metadata",
      deadline,
      signature,
    ],
    { account: operator.account },
  );
  return { ...identity, hash, signature, deadline };
}

/** Timestamp of the latest block. */
export async function latestTimestamp(fx: StakingFixture): Promise<bigint> {
  return (await fx.publicClient.getBlock()).timestamp;
}

export { signPermit, type SignPermitParameters } from "./permit.ts";
