import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { type Address, type Hex, concat, getAddress, hexToBytes, keccak256, pad, size, toHex, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { hashTypedData } from "viem";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_RESOURCES,
  DEFAULT_SLOTS,
  deployStakingFixture,
  latestTimestamp,
  MIN_NODE_STAKE,
  NODE_REGISTRATION_TYPES,
  nodeIdentity,
  ONE_OPEN,
  registerNode,
  signNodeRegistration,
  type StakingFixture,
} from "./staking.fixture.js";

const { viem, networkHelpers } = await network.create();
const { time, loadFixture } = networkHelpers;

const Status = { None: 0, Active: 1, Jailed: 2, Retired: 3 } as const;
const REASON = keccak256(toHex("missed proof of resource, epoch 12"));
/** Staking lock reference of a node bond: the node address left-padded to 32 bytes. */
const bondRef = (node: Address) => pad(node.toLowerCase() as Hex);
const notEqual = (expected: Address) => (value: unknown) => typeof value === "string" && getAddress(value) !== getAddress(expected);

/** libp2p's canonical secp256k1 test vector (libp2p/specs peer-ids): private key and protobuf public key. */
const SPEC_PRIVATE_KEY: Hex = "0x53dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb";
const SPEC_PROTOBUF_PUBLIC_KEY: Hex = "0x08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99";
const SPEC_PEER_ID = "16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY";

function base58btc(bytes: Uint8Array): string {
  const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  let n = BigInt(toHex(bytes));
  let out = "";
  while (n > 0n) {
    out = alphabet[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = "1" + out;
  }
  return out;
}

/** Send `register` with explicit parts (no stake top-up, no defaults hidden). */
async function sendRegister(
  fx: StakingFixture,
  operator: StakingFixture["accounts"]["deployer"],
  identity: { publicKey: Hex },
  signature: Hex,
  deadline: bigint,
  overrides: { resources?: typeof DEFAULT_RESOURCES | Record<string, number>; slots?: number } = {},
) {
  return fx.registry.write.register(
    [identity.publicKey, (overrides.resources ?? DEFAULT_RESOURCES) as typeof DEFAULT_RESOURCES, overrides.slots ?? DEFAULT_SLOTS, "ipfs://m", deadline, signature],
    { account: operator.account },
  );
}

/** Fixture with operator A staked and one node registered. */
async function registeredFixture(connection: NetworkConnection) {
  const fx = await deployStakingFixture(connection);
  const [operator] = fx.accounts.operators;
  const reg = await registerNode(fx, { operator });
  return { ...fx, operator, reg };
}

describe("XnodeRegistry", () => {
  describe("identity derivation", () => {
    it("derives the node address and PeerId bytes the off-chain key computes, for both Y parities", async () => {
      const { registry } = await loadFixture(deployStakingFixture);
      const seen = new Set<string>();
      while (seen.size < 2) {
        const id = nodeIdentity(generatePrivateKey());
        const yOdd = (hexToBytes(id.publicKey)[63] & 1) === 1;
        expect(id.compressedKey.slice(0, 4)).toBe(yOdd ? "0x03" : "0x02");
        const [node, peerId] = await registry.read.deriveIdentity([id.publicKey]);
        expect(node).toBe(id.node);
        expect(peerId).toBe(id.peerId);
        expect(size(peerId)).toBe(39);
        seen.add(id.compressedKey.slice(0, 4));
      }
    });

    it("matches the libp2p spec test vector and its base58 PeerId", async () => {
      const { registry } = await loadFixture(deployStakingFixture);
      const id = nodeIdentity(SPEC_PRIVATE_KEY);
      const [node, peerId] = await registry.read.deriveIdentity([id.publicKey]);
      expect(node).toBe(privateKeyToAccount(SPEC_PRIVATE_KEY).address);
      expect(peerId).toBe(concat(["0x0025", SPEC_PROTOBUF_PUBLIC_KEY]));
      expect(base58btc(hexToBytes(peerId))).toBe(SPEC_PEER_ID);
    });

    it("rejects keys that are not 64 bytes", async () => {
      const { registry } = await loadFixture(deployStakingFixture);
      const id = nodeIdentity();
      for (const key of [concat(["0x04", id.publicKey]), `0x${id.publicKey.slice(4)}` as Hex, "0x" as Hex]) {
        await viem.assertions.revertWithCustomErrorWithArgs(registry.read.deriveIdentity([key]), registry, "XnodeRegistryInvalidPublicKey", [
          BigInt(size(key)),
        ]);
      }
    });
  });

  describe("register", () => {
    it("stores the node, locks the bond, consumes the nonce and indexes it", async () => {
      const fx = await loadFixture(deployStakingFixture);
      const [operator] = fx.accounts.operators;
      const op = operator.account.address;
      await fx.staking.write.stake([MIN_NODE_STAKE + 5n], { account: operator.account });
      const id = nodeIdentity();
      const deadline = (await latestTimestamp(fx)) + 600n;
      const signature = await signNodeRegistration({ ...id, operator: op, nonce: 0n, deadline, chainId: fx.chainId, registry: fx.registry.address });
      const registeredAt = BigInt(await time.latest()) + 5n;
      await time.setNextBlockTimestamp(registeredAt);
      const hash = sendRegister(fx, operator, id, signature, deadline);
      await viem.assertions.emitWithArgs(hash, fx.registry, "NodeRegistered", [
        id.node, op, id.peerId, DEFAULT_RESOURCES, DEFAULT_SLOTS, MIN_NODE_STAKE, "ipfs://m",
      ]);
      await viem.assertions.emitWithArgs(hash, fx.staking, "StakeLocked", [fx.registry.address, op, MIN_NODE_STAKE, bondRef(id.node)]);

      expect(await fx.registry.read.getNode([id.node])).toEqual({
        operator: getAddress(op),
        status: Status.Active,
        slots: DEFAULT_SLOTS,
        registeredAt,
        bond: MIN_NODE_STAKE,
        resources: DEFAULT_RESOURCES,
        peerId: id.peerId,
        metadataURI: "ipfs://m",
      });
      expect(await fx.registry.read.nonces([id.node])).toBe(1n);
      expect(await fx.registry.read.isActive([id.node])).toBe(true);
      expect(await fx.registry.read.operatorOf([id.node])).toBe(getAddress(op));
      expect(await fx.registry.read.nodeOfPeerId([id.peerId])).toBe(id.node);
      expect(await fx.registry.read.nodeCount()).toBe(1n);
      expect(await fx.registry.read.nodeAt([0n])).toBe(id.node);
      expect(await fx.registry.read.nodesOf([op])).toEqual([id.node]);
      expect(await fx.staking.read.freeStakeOf([op])).toBe(5n);
    });

    it("exposes the EIP-712 digest the node key signs", async () => {
      const fx = await loadFixture(deployStakingFixture);
      const [operator] = fx.accounts.operators;
      const node = nodeIdentity().node;
      const message = { operator: getAddress(operator.account.address), node, nonce: 3n, deadline: 99n };
      const expected = hashTypedData({
        domain: { name: "DSMP XnodeRegistry", version: "1", chainId: fx.chainId, verifyingContract: fx.registry.address },
        types: NODE_REGISTRATION_TYPES,
        primaryType: "NodeRegistration",
        message,
      });
      expect(await fx.registry.read.registrationDigest([message.operator, node, 3n, 99n])).toBe(expected);
    });

    it("registers several nodes per operator, each with its own bond", async () => {
      const fx = await loadFixture(deployStakingFixture);
      const [operator] = fx.accounts.operators;
      const a = await registerNode(fx, { operator });
      const b = await registerNode(fx, { operator });
      expect(await fx.registry.read.nodesOf([operator.account.address])).toEqual([a.node, b.node]);
      expect(await fx.staking.read.lockedBy([fx.registry.address, operator.account.address])).toBe(2n * MIN_NODE_STAKE);
    });

    describe("proof of possession", () => {
      async function signedFixture(connection: NetworkConnection) {
        const fx = await deployStakingFixture(connection);
        const [operator] = fx.accounts.operators;
        await fx.staking.write.stake([MIN_NODE_STAKE], { account: operator.account });
        const id = nodeIdentity();
        const deadline = (await latestTimestamp(fx)) + 3_600n;
        const base = { ...id, operator: getAddress(operator.account.address), nonce: 0n, deadline, chainId: fx.chainId, registry: fx.registry.address };
        return { ...fx, operator, id, deadline, base };
      }

      it("rejects a signature for another chain id", async () => {
        const fx = await loadFixture(signedFixture);
        const signature = await signNodeRegistration({ ...fx.base, chainId: 10 });
        await viem.assertions.revertWithCustomErrorWithArgs(sendRegister(fx, fx.operator, fx.id, signature, fx.deadline), fx.registry, "XnodeRegistryInvalidSignature", [
          fx.id.node,
          notEqual(fx.id.node),
        ]);
      });

      it("rejects a proof replayed on another chain where the registry has the same address", async () => {
        // two fresh chains with the same deployer history: every contract lands on the same address
        const [here, there] = await Promise.all([network.create(), network.create({ override: { chainId: 10 } })]);
        const [a, b] = await Promise.all([signedFixture(here), signedFixture(there)]);
        expect([a.chainId, b.chainId]).toEqual([31337, 10]);
        expect(b.registry.address).toBe(a.registry.address);
        const signature = await signNodeRegistration(a.base);
        await there.viem.assertions.revertWithCustomErrorWithArgs(
          sendRegister(b, b.operator, a.id, signature, a.deadline),
          b.registry,
          "XnodeRegistryInvalidSignature",
          [a.id.node, notEqual(a.id.node)],
        );
        await sendRegister(a, a.operator, a.id, signature, a.deadline); // still valid where it was meant
        await Promise.all([here.close(), there.close()]);
      });

      it("rejects a proof made for another registry deployment", async () => {
        const fx = await loadFixture(signedFixture);
        const second = await viem.deployContract("XnodeRegistry", [fx.staking.address, fx.accounts.deployer.account.address, MIN_NODE_STAKE]);
        await fx.staking.write.grantRole([fx.roles.locker, second.address]);
        const signature = await signNodeRegistration(fx.base); // domain: the first registry
        await viem.assertions.revertWithCustomErrorWithArgs(
          second.write.register([fx.id.publicKey, DEFAULT_RESOURCES, 1, "", fx.deadline, signature], { account: fx.operator.account }),
          second,
          "XnodeRegistryInvalidSignature",
          [fx.id.node, notEqual(fx.id.node)],
        );
      });

      it("rejects a replay of a consumed nonce after the node retired", async () => {
        const fx = await loadFixture(signedFixture);
        const signature = await signNodeRegistration(fx.base);
        await sendRegister(fx, fx.operator, fx.id, signature, fx.deadline);
        await fx.registry.write.retire([fx.id.node], { account: fx.operator.account });
        await viem.assertions.revertWithCustomErrorWithArgs(sendRegister(fx, fx.operator, fx.id, signature, fx.deadline), fx.registry, "XnodeRegistryInvalidSignature", [
          fx.id.node,
          notEqual(fx.id.node),
        ]);
        const fresh = await signNodeRegistration({ ...fx.base, nonce: 1n });
        await sendRegister(fx, fx.operator, fx.id, fresh, fx.deadline);
        expect(await fx.registry.read.nonces([fx.id.node])).toBe(2n);
      });

      it("rejects a wrong signer, another operator and a malformed signature", async () => {
        const fx = await loadFixture(signedFixture);
        const stranger = generatePrivateKey();
        const byStranger = await signNodeRegistration({ ...fx.base, nodeKey: stranger, node: fx.id.node });
        const forOtherOperator = await signNodeRegistration({ ...fx.base, operator: fx.accounts.operators[1].account.address });
        const cases: [Hex, Address][] = [
          [byStranger, privateKeyToAccount(stranger).address],
          [`0x${"00".repeat(65)}`, zeroAddress],
          ["0x1234", zeroAddress],
        ];
        for (const [signature, recovered] of cases) {
          await viem.assertions.revertWithCustomErrorWithArgs(sendRegister(fx, fx.operator, fx.id, signature, fx.deadline), fx.registry, "XnodeRegistryInvalidSignature", [
            fx.id.node,
            recovered,
          ]);
        }
        await viem.assertions.revertWithCustomErrorWithArgs(sendRegister(fx, fx.operator, fx.id, forOtherOperator, fx.deadline), fx.registry, "XnodeRegistryInvalidSignature", [
          fx.id.node,
          notEqual(fx.id.node),
        ]);
      });

      it("accepts a proof until its deadline and rejects it after", async () => {
        const fx = await loadFixture(signedFixture);
        const signature = await signNodeRegistration(fx.base);
        await time.setNextBlockTimestamp(fx.deadline + 1n);
        await viem.assertions.revertWithCustomErrorWithArgs(sendRegister(fx, fx.operator, fx.id, signature, fx.deadline), fx.registry, "XnodeRegistrySignatureExpired", [
          fx.deadline,
          fx.deadline + 1n,
        ]);
        const late = await signNodeRegistration({ ...fx.base, deadline: fx.deadline + 2n });
        await time.setNextBlockTimestamp(fx.deadline + 2n);
        await sendRegister(fx, fx.operator, fx.id, late, fx.deadline + 2n);
      });
    });

    it("rejects zero slots, zero cpu or memory, and a key already registered", async () => {
      const fx = await loadFixture(registeredFixture);
      const { operator } = fx;
      const id = nodeIdentity();
      const deadline = (await latestTimestamp(fx)) + 600n;
      const signature = await signNodeRegistration({ ...id, operator: operator.account.address, nonce: 0n, deadline, chainId: fx.chainId, registry: fx.registry.address });
      await viem.assertions.revertWithCustomError(sendRegister(fx, operator, id, signature, deadline, { slots: 0 }), fx.registry, "XnodeRegistryInvalidSlots");
      for (const resources of [{ ...DEFAULT_RESOURCES, cpuMillicores: 0 }, { ...DEFAULT_RESOURCES, memoryMiB: 0 }]) {
        await viem.assertions.revertWithCustomError(sendRegister(fx, operator, id, signature, deadline, { resources }), fx.registry, "XnodeRegistryInvalidResources");
      }
      for (const status of ["active", "jailed"]) {
        if (status === "jailed") await fx.registry.write.jail([fx.reg.node, Number(await time.latest()) + 100, REASON], { account: fx.accounts.jailer.account });
        await viem.assertions.revertWithCustomErrorWithArgs(sendRegister(fx, operator, fx.reg, fx.reg.signature, fx.reg.deadline), fx.registry, "XnodeRegistryNodeAlreadyRegistered", [
          fx.reg.node,
        ]);
      }
    });

    it("rejects an operator whose free stake does not cover the bond", async () => {
      const fx = await loadFixture(deployStakingFixture);
      const [operator] = fx.accounts.operators;
      const op = operator.account.address;
      await fx.staking.write.stake([MIN_NODE_STAKE], { account: operator.account });
      await fx.staking.write.lock([op, 600n * ONE_OPEN, pad("0x01")], { account: fx.accounts.locker.account });
      const id = nodeIdentity();
      const deadline = (await latestTimestamp(fx)) + 600n;
      const signature = await signNodeRegistration({ ...id, operator: op, nonce: 0n, deadline, chainId: fx.chainId, registry: fx.registry.address });
      await viem.assertions.revertWithCustomErrorWithArgs(sendRegister(fx, operator, id, signature, deadline), fx.registry, "XnodeRegistryInsufficientStake", [
        op,
        400n * ONE_OPEN,
        MIN_NODE_STAKE,
      ]);
      expect(await fx.registry.read.nonces([id.node])).toBe(0n);
    });

    it("locks nothing when minNodeStake is zero; setMinNodeStake is admin-only and keeps existing bonds", async () => {
      const fx = await loadFixture(registeredFixture);
      const who = fx.accounts.outsider.account;
      await viem.assertions.revertWithCustomErrorWithArgs(fx.registry.write.setMinNodeStake([0n], { account: who }), fx.registry, "AccessControlUnauthorizedAccount", [
        who.address,
        fx.roles.admin,
      ]);
      await viem.assertions.emitWithArgs(fx.registry.write.setMinNodeStake([0n]), fx.registry, "MinNodeStakeSet", [0n]);
      const [, fresh] = fx.accounts.operators;
      const reg = await registerNode(fx, { operator: fresh, topUpStake: false });
      expect((await fx.registry.read.getNode([reg.node])).bond).toBe(0n);
      await viem.assertions.emitWithArgs(fx.registry.write.retire([fx.reg.node], { account: fx.operator.account }), fx.registry, "NodeRetired", [
        fx.reg.node,
        fx.operator.account.address,
        MIN_NODE_STAKE,
      ]);
      await fx.registry.write.retire([reg.node], { account: fresh.account });
    });
  });

  describe("operator updates", () => {
    const NEW_RESOURCES = { cpuMillicores: 16_000, memoryMiB: 65_536, storageGiB: 2_000, gpus: 2 };

    it("updates resources, slots and metadata (also while jailed)", async () => {
      const fx = await loadFixture(registeredFixture);
      const as = { account: fx.operator.account };
      await viem.assertions.emitWithArgs(fx.registry.write.updateResources([fx.reg.node, NEW_RESOURCES, 9], as), fx.registry, "NodeResourcesUpdated", [
        fx.reg.node,
        NEW_RESOURCES,
        9,
      ]);
      await fx.registry.write.jail([fx.reg.node, Number(await time.latest()) + 100, REASON], { account: fx.accounts.jailer.account });
      await viem.assertions.emitWithArgs(fx.registry.write.updateMetadata([fx.reg.node, "ipfs://v2"], as), fx.registry, "NodeMetadataUpdated", [
        fx.reg.node,
        "ipfs://v2",
      ]);
      expect(await fx.registry.read.getNode([fx.reg.node])).toMatchObject({ resources: NEW_RESOURCES, slots: 9, metadataURI: "ipfs://v2" });
    });

    it("validates the new capacity", async () => {
      const fx = await loadFixture(registeredFixture);
      const as = { account: fx.operator.account };
      await viem.assertions.revertWithCustomError(fx.registry.write.updateResources([fx.reg.node, NEW_RESOURCES, 0], as), fx.registry, "XnodeRegistryInvalidSlots");
      await viem.assertions.revertWithCustomError(
        fx.registry.write.updateResources([fx.reg.node, { ...NEW_RESOURCES, memoryMiB: 0 }, 1], as),
        fx.registry,
        "XnodeRegistryInvalidResources",
      );
    });

    it("rejects other callers, unknown nodes and retired nodes", async () => {
      const fx = await loadFixture(registeredFixture);
      const who = fx.accounts.outsider.account;
      const unknown = nodeIdentity().node;
      for (const call of [
        fx.registry.write.updateResources([fx.reg.node, NEW_RESOURCES, 1], { account: who }),
        fx.registry.write.updateMetadata([fx.reg.node, "x"], { account: who }),
        fx.registry.write.retire([fx.reg.node], { account: who }),
      ]) {
        await viem.assertions.revertWithCustomErrorWithArgs(call, fx.registry, "XnodeRegistryNotOperator", [fx.reg.node, who.address]);
      }
      await viem.assertions.revertWithCustomErrorWithArgs(fx.registry.write.updateMetadata([unknown, "x"]), fx.registry, "XnodeRegistryUnknownNode", [unknown]);
      await fx.registry.write.retire([fx.reg.node], { account: fx.operator.account });
      for (const call of [
        fx.registry.write.updateMetadata([fx.reg.node, "x"], { account: fx.operator.account }),
        fx.registry.write.retire([fx.reg.node], { account: fx.operator.account }),
      ]) {
        await viem.assertions.revertWithCustomErrorWithArgs(call, fx.registry, "XnodeRegistryInvalidStatus", [fx.reg.node, Status.Retired]);
      }
    });
  });

  describe("jail, unjail and retire", () => {
    async function jailedFixture(connection: NetworkConnection) {
      const fx = await registeredFixture(connection);
      const until = BigInt(await time.latest()) + 1_000n;
      await fx.registry.write.jail([fx.reg.node, Number(until), REASON], { account: fx.accounts.jailer.account });
      return { ...fx, until };
    }

    it("jails an active node: not active, term recorded, a second jail replaces the term", async () => {
      const fx = await loadFixture(registeredFixture);
      const jailer = { account: fx.accounts.jailer.account };
      const until = (await time.latest()) + 500;
      await viem.assertions.emitWithArgs(fx.registry.write.jail([fx.reg.node, until, REASON], jailer), fx.registry, "NodeJailed", [
        fx.reg.node,
        BigInt(until),
        REASON,
      ]);
      expect(await fx.registry.read.isActive([fx.reg.node])).toBe(false);
      expect((await fx.registry.read.getNode([fx.reg.node])).status).toBe(Status.Jailed);
      expect(await fx.registry.read.jailedUntil([fx.reg.node])).toBe(BigInt(until));
      expect(await fx.registry.read.nodeCount()).toBe(1n); // still enumerable, just not assignable
      await fx.registry.write.jail([fx.reg.node, until + 50, REASON], jailer);
      expect(await fx.registry.read.jailedUntil([fx.reg.node])).toBe(BigInt(until + 50));
    });

    it("rejects non-jailers, past terms, unknown and retired nodes", async () => {
      const fx = await loadFixture(registeredFixture);
      const jailer = { account: fx.accounts.jailer.account };
      const who = fx.accounts.outsider.account;
      const now = BigInt(await time.latest());
      await viem.assertions.revertWithCustomErrorWithArgs(fx.registry.write.jail([fx.reg.node, Number(now) + 9, REASON], { account: who }), fx.registry, "AccessControlUnauthorizedAccount", [
        who.address,
        fx.roles.jailer,
      ]);
      await time.setNextBlockTimestamp(now + 10n);
      await viem.assertions.revertWithCustomErrorWithArgs(fx.registry.write.jail([fx.reg.node, Number(now) + 10, REASON], jailer), fx.registry, "XnodeRegistryInvalidJailTerm", [now + 10n]);
      const unknown = nodeIdentity().node;
      await viem.assertions.revertWithCustomErrorWithArgs(fx.registry.write.jail([unknown, Number(now) + 999, REASON], jailer), fx.registry, "XnodeRegistryUnknownNode", [unknown]);
      await fx.registry.write.retire([fx.reg.node], { account: fx.operator.account });
      await viem.assertions.revertWithCustomErrorWithArgs(fx.registry.write.jail([fx.reg.node, Number(now) + 999, REASON], jailer), fx.registry, "XnodeRegistryInvalidStatus", [
        fx.reg.node,
        Status.Retired,
      ]);
    });

    it("lets a jailer unjail at any time", async () => {
      const fx = await loadFixture(jailedFixture);
      const jailer = fx.accounts.jailer.account;
      await viem.assertions.emitWithArgs(fx.registry.write.unjail([fx.reg.node], { account: jailer }), fx.registry, "NodeUnjailed", [fx.reg.node, jailer.address]);
      expect(await fx.registry.read.isActive([fx.reg.node])).toBe(true);
      expect(await fx.registry.read.jailedUntil([fx.reg.node])).toBe(0n);
      await viem.assertions.revertWithCustomErrorWithArgs(fx.registry.write.unjail([fx.reg.node], { account: jailer }), fx.registry, "XnodeRegistryInvalidStatus", [
        fx.reg.node,
        Status.Active,
      ]);
    });

    it("lets the operator unjail only after the term and never a stranger", async () => {
      const fx = await loadFixture(jailedFixture);
      const op = fx.operator.account;
      await viem.assertions.revertWithCustomErrorWithArgs(fx.registry.write.unjail([fx.reg.node], { account: op }), fx.registry, "XnodeRegistryStillJailed", [
        fx.reg.node,
        fx.until,
      ]);
      const who = fx.accounts.outsider.account;
      await viem.assertions.revertWithCustomErrorWithArgs(fx.registry.write.unjail([fx.reg.node], { account: who }), fx.registry, "XnodeRegistryNotOperator", [
        fx.reg.node,
        who.address,
      ]);
      await time.setNextBlockTimestamp(fx.until);
      await viem.assertions.emitWithArgs(fx.registry.write.unjail([fx.reg.node], { account: op }), fx.registry, "NodeUnjailed", [fx.reg.node, op.address]);
      expect(await fx.registry.read.isActive([fx.reg.node])).toBe(true);
    });

    it("makes the operator restore collateral before unjailing itself after a slash", async () => {
      const fx = await loadFixture(jailedFixture);
      const op = fx.operator.account;
      await fx.staking.write.slash([op.address, 100n, 4, REASON, zeroAddress], { account: fx.accounts.slasher.account });
      await time.increaseTo(fx.until);
      await viem.assertions.revertWithCustomErrorWithArgs(fx.registry.write.unjail([fx.reg.node], { account: op }), fx.registry, "XnodeRegistryUndercollateralized", [
        op.address,
        MIN_NODE_STAKE - 100n,
        MIN_NODE_STAKE,
      ]);
      await fx.staking.write.stake([100n], { account: op });
      await fx.registry.write.unjail([fx.reg.node], { account: op });
    });

    it("retires an active node: unlocks the bond, leaves the enumeration, keeps the operator", async () => {
      const fx = await loadFixture(registeredFixture);
      const op = fx.operator.account.address;
      const hash = fx.registry.write.retire([fx.reg.node], { account: fx.operator.account });
      await viem.assertions.emitWithArgs(hash, fx.registry, "NodeRetired", [fx.reg.node, op, MIN_NODE_STAKE]);
      await viem.assertions.emitWithArgs(hash, fx.staking, "StakeUnlocked", [fx.registry.address, op, MIN_NODE_STAKE, bondRef(fx.reg.node)]);
      expect(await fx.registry.read.getNode([fx.reg.node])).toMatchObject({ status: Status.Retired, bond: 0n });
      expect(await fx.registry.read.isActive([fx.reg.node])).toBe(false);
      expect(await fx.registry.read.operatorOf([fx.reg.node])).toBe(getAddress(op));
      expect(await fx.registry.read.nodeCount()).toBe(0n);
      expect(await fx.registry.read.nodesOf([op])).toEqual([]);
      expect(await fx.staking.read.freeStakeOf([op])).toBe(MIN_NODE_STAKE);
    });

    it("retires a jailed node only after its term", async () => {
      const fx = await loadFixture(jailedFixture);
      const op = fx.operator.account;
      await viem.assertions.revertWithCustomErrorWithArgs(fx.registry.write.retire([fx.reg.node], { account: op }), fx.registry, "XnodeRegistryStillJailed", [
        fx.reg.node,
        fx.until,
      ]);
      await time.setNextBlockTimestamp(fx.until);
      await fx.registry.write.retire([fx.reg.node], { account: op });
      expect(await fx.registry.read.jailedUntil([fx.reg.node])).toBe(0n);
    });

    it("lets a retired node register again, under another operator", async () => {
      const fx = await loadFixture(registeredFixture);
      const [, next] = fx.accounts.operators;
      await fx.registry.write.retire([fx.reg.node], { account: fx.operator.account });
      await registerNode(fx, { operator: next, nodeKey: fx.reg.nodeKey });
      expect(await fx.registry.read.operatorOf([fx.reg.node])).toBe(getAddress(next.account.address));
      expect(await fx.registry.read.nodesOf([next.account.address])).toEqual([fx.reg.node]);
      expect(await fx.registry.read.nodesOf([fx.operator.account.address])).toEqual([]);
      expect(await fx.registry.read.nodeOfPeerId([fx.reg.peerId])).toBe(fx.reg.node);
    });
  });
});
