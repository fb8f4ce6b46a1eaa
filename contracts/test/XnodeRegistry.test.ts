import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import {
  type Address,
  type Hex,
  concat,
  getAddress,
  hashTypedData,
  hexToBytes,
  keccak256,
  pad,
  size,
  toHex,
  zeroAddress,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_RESOURCES,
  DEFAULT_SLOTS,
  deployStakingFixture,
  latestTimestamp,
  MIN_NODE_STAKE,
  NODE_REGISTRATION_TYPES,
  nodeBondRef,
  nodeIdentity,
  NodeStatus,
  ONE_OPEN,
  registeredNodeFixture,
  registerNode,
  signNodeRegistration,
  type StakingFixture,
} from "./staking.fixture.js";

const { viem, networkHelpers } = await network.create();
const { time, loadFixture } = networkHelpers;

const REASON = keccak256(toHex("missed proof of resource, epoch 12"));
const notEqual = (expected: Address) => (value: unknown) =>
  typeof value === "string" && getAddress(value) !== getAddress(expected);

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
    [
      identity.publicKey,
      (overrides.resources ?? DEFAULT_RESOURCES) as typeof DEFAULT_RESOURCES,
      overrides.slots ?? DEFAULT_SLOTS,
      "ipfs://m",
      deadline,
      signature,
    ],
    { account: operator.account },
  );
}

describe("XnodeRegistry", () => {
  describe("identity derivation", () => {
    it("derives the node address and PeerId bytes the off-chain key computes, for both Y parities", async () => {
      const { registry } = await loadFixture(deployStakingFixture);
      const seen = new Set<string>();
      while (seen.size < 2) {
        const id = nodeIdentity(generatePrivateKey());
        const yOdd = ((hexToBytes(id.publicKey)[63] ?? 0) & 1) === 1;
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
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.read.deriveIdentity([key]),
          registry,
          "XnodeRegistryInvalidPublicKey",
          [BigInt(size(key))],
        );
      }
      const fx = await loadFixture(deployStakingFixture);
      const [operator] = fx.accounts.operators;
      await viem.assertions.revertWithCustomErrorWithArgs(
        sendRegister(fx, operator, { publicKey: concat(["0x04", id.publicKey]) }, "0x", 0n),
        fx.registry,
        "XnodeRegistryInvalidPublicKey",
        [65n],
      );
    });
  });

  describe("deployment", () => {
    it("emits the initial bond and rejects a zero staking contract or admin", async () => {
      const fx = await loadFixture(deployStakingFixture);
      const admin = fx.accounts.deployer.account.address;
      const { contract, deploymentTransaction } = await viem.sendDeploymentTransaction("XnodeRegistry", [
        fx.staking.address,
        admin,
        7n,
      ]);
      await viem.assertions.emitWithArgs(Promise.resolve(deploymentTransaction.hash), contract, "MinNodeStakeSet", [
        7n,
      ]);
      expect(await contract.read.minNodeStake()).toBe(7n);
      expect(await contract.read.hasRole([fx.roles.admin, admin])).toBe(true);
      for (const args of [
        [zeroAddress, admin, 1n],
        [fx.staking.address, zeroAddress, 1n],
      ] as const) {
        await viem.assertions.revertWithCustomError(
          viem.deployContract("XnodeRegistry", [...args]),
          fx.registry,
          "XnodeRegistryZeroAddress",
        );
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
      const signature = await signNodeRegistration({
        ...id,
        operator: op,
        nonce: 0n,
        deadline,
        chainId: fx.chainId,
        registry: fx.registry.address,
      });
      const registeredAt = BigInt(await time.latest()) + 5n;
      await time.setNextBlockTimestamp(registeredAt);
      const hash = sendRegister(fx, operator, id, signature, deadline);
      await viem.assertions.emitWithArgs(hash, fx.registry, "NodeRegistered", [
        id.node,
        op,
        id.peerId,
        DEFAULT_RESOURCES,
        DEFAULT_SLOTS,
        MIN_NODE_STAKE,
        "ipfs://m",
      ]);
      await viem.assertions.emitWithArgs(hash, fx.staking, "StakeLocked", [
        fx.registry.address,
        op,
        MIN_NODE_STAKE,
        nodeBondRef(id.node),
      ]);

      expect(await fx.registry.read.getNode([id.node])).toEqual({
        operator: getAddress(op),
        status: NodeStatus.Active,
        slots: DEFAULT_SLOTS,
        registeredAt,
        bond: MIN_NODE_STAKE,
        resources: DEFAULT_RESOURCES,
        peerId: id.peerId,
        metadataURI: "ipfs://m",
      });
      expect(await fx.registry.read.nonces([id.node])).toBe(1n);
      expect(await fx.registry.read.staking()).toBe(getAddress(fx.staking.address));
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
        domain: {
          name: "DSMP XnodeRegistry",
          version: "1",
          chainId: fx.chainId,
          verifyingContract: fx.registry.address,
        },
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
        const base = {
          ...id,
          operator: getAddress(operator.account.address),
          nonce: 0n,
          deadline,
          chainId: fx.chainId,
          registry: fx.registry.address,
        };
        return { ...fx, operator, id, deadline, base };
      }

      it("rejects a signature for another chain id", async () => {
        const fx = await loadFixture(signedFixture);
        const signature = await signNodeRegistration({ ...fx.base, chainId: 10 });
        await viem.assertions.revertWithCustomErrorWithArgs(
          sendRegister(fx, fx.operator, fx.id, signature, fx.deadline),
          fx.registry,
          "XnodeRegistryInvalidSignature",
          [fx.id.node, notEqual(fx.id.node)],
        );
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
        const second = await viem.deployContract("XnodeRegistry", [
          fx.staking.address,
          fx.accounts.deployer.account.address,
          MIN_NODE_STAKE,
        ]);
        await fx.staking.write.grantRole([fx.roles.locker, second.address]);
        const signature = await signNodeRegistration(fx.base); // domain: the first registry
        await viem.assertions.revertWithCustomErrorWithArgs(
          second.write.register([fx.id.publicKey, DEFAULT_RESOURCES, 1, "", fx.deadline, signature], {
            account: fx.operator.account,
          }),
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
        await viem.assertions.revertWithCustomErrorWithArgs(
          sendRegister(fx, fx.operator, fx.id, signature, fx.deadline),
          fx.registry,
          "XnodeRegistryInvalidSignature",
          [fx.id.node, notEqual(fx.id.node)],
        );
        const fresh = await signNodeRegistration({ ...fx.base, nonce: 1n });
        await sendRegister(fx, fx.operator, fx.id, fresh, fx.deadline);
        expect(await fx.registry.read.nonces([fx.id.node])).toBe(2n);
      });

      it("rejects a wrong signer, another operator and a malformed signature", async () => {
        const fx = await loadFixture(signedFixture);
        const stranger = generatePrivateKey();
        const byStranger = await signNodeRegistration({ ...fx.base, nodeKey: stranger, node: fx.id.node });
        const forOtherOperator = await signNodeRegistration({
          ...fx.base,
          operator: fx.accounts.operators[1].account.address,
        });
        const cases: [Hex, Address][] = [
          [byStranger, privateKeyToAccount(stranger).address],
          [`0x${"00".repeat(65)}`, zeroAddress],
          ["0x1234", zeroAddress],
        ];
        for (const [signature, recovered] of cases) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            sendRegister(fx, fx.operator, fx.id, signature, fx.deadline),
            fx.registry,
            "XnodeRegistryInvalidSignature",
            [fx.id.node, recovered],
          );
        }
        await viem.assertions.revertWithCustomErrorWithArgs(
          sendRegister(fx, fx.operator, fx.id, forOtherOperator, fx.deadline),
          fx.registry,
          "XnodeRegistryInvalidSignature",
          [fx.id.node, notEqual(fx.id.node)],
        );
      });

      it("accepts a proof until its deadline and rejects it after", async () => {
        const fx = await loadFixture(signedFixture);
        const signature = await signNodeRegistration(fx.base);
        await time.setNextBlockTimestamp(fx.deadline + 1n);
        await viem.assertions.revertWithCustomErrorWithArgs(
          sendRegister(fx, fx.operator, fx.id, signature, fx.deadline),
          fx.registry,
          "XnodeRegistrySignatureExpired",
          [fx.deadline, fx.deadline + 1n],
        );
        const late = await signNodeRegistration({ ...fx.base, deadline: fx.deadline + 2n });
        await time.setNextBlockTimestamp(fx.deadline + 2n);
        await sendRegister(fx, fx.operator, fx.id, late, fx.deadline + 2n);
      });
    });

    it("rejects zero slots, zero cpu or memory, and a key already registered", async () => {
      const fx = await loadFixture(registeredNodeFixture);
      const { operator } = fx;
      const id = nodeIdentity();
      const deadline = (await latestTimestamp(fx)) + 600n;
      const signature = await signNodeRegistration({
        ...id,
        operator: operator.account.address,
        nonce: 0n,
        deadline,
        chainId: fx.chainId,
        registry: fx.registry.address,
      });
      await viem.assertions.revertWithCustomError(
        sendRegister(fx, operator, id, signature, deadline, { slots: 0 }),
        fx.registry,
        "XnodeRegistryInvalidSlots",
      );
      for (const resources of [
        { ...DEFAULT_RESOURCES, cpuMillicores: 0 },
        { ...DEFAULT_RESOURCES, memoryMiB: 0 },
      ]) {
        await viem.assertions.revertWithCustomError(
          sendRegister(fx, operator, id, signature, deadline, { resources }),
          fx.registry,
          "XnodeRegistryInvalidResources",
        );
      }
      for (const status of ["active", "jailed"]) {
        if (status === "jailed")
          await fx.registry.write.jail([fx.reg.node, BigInt(await time.latest()) + 100n, REASON], {
            account: fx.accounts.jailer.account,
          });
        await viem.assertions.revertWithCustomErrorWithArgs(
          sendRegister(fx, operator, fx.reg, fx.reg.signature, fx.reg.deadline),
          fx.registry,
          "XnodeRegistryNodeAlreadyRegistered",
          [fx.reg.node],
        );
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
      const signature = await signNodeRegistration({
        ...id,
        operator: op,
        nonce: 0n,
        deadline,
        chainId: fx.chainId,
        registry: fx.registry.address,
      });
      await viem.assertions.revertWithCustomErrorWithArgs(
        sendRegister(fx, operator, id, signature, deadline),
        fx.registry,
        "XnodeRegistryInsufficientStake",
        [op, 400n * ONE_OPEN, MIN_NODE_STAKE],
      );
      expect(await fx.registry.read.nonces([id.node])).toBe(0n);
    });

    it("locks nothing when minNodeStake is zero; setMinNodeStake is admin-only and keeps existing bonds", async () => {
      const fx = await loadFixture(registeredNodeFixture);
      const who = fx.accounts.outsider.account;
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.setMinNodeStake([0n], { account: who }),
        fx.registry,
        "AccessControlUnauthorizedAccount",
        [who.address, fx.roles.admin],
      );
      await viem.assertions.emitWithArgs(fx.registry.write.setMinNodeStake([0n]), fx.registry, "MinNodeStakeSet", [0n]);
      const [, fresh] = fx.accounts.operators;
      const reg = await registerNode(fx, { operator: fresh, topUpStake: false });
      expect((await fx.registry.read.getNode([reg.node])).bond).toBe(0n);
      await viem.assertions.emitWithArgs(
        fx.registry.write.retire([fx.reg.node], { account: fx.operator.account }),
        fx.registry,
        "NodeRetired",
        [fx.reg.node, fx.operator.account.address, MIN_NODE_STAKE],
      );
      await fx.registry.write.retire([reg.node], { account: fresh.account });
    });
  });
});
